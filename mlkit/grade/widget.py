"""The instructor notebook's main widget: pick a learner, read what the grader told them."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from mlkit.course.widgets import MainWidget

if TYPE_CHECKING:
    from mlkit.grade import Gradebook


class FeedbackViewer(MainWidget):
    """A learner picker and a button that shows that learner's outcomes, question by question."""

    def __init__(self, book: Gradebook) -> None:
        import ipywidgets as w

        self.book = book
        learners = sorted({r["learner"] for r in book.results})
        self.learner = w.Dropdown(options=learners, description="learner")
        self.button = w.Button(description="Show feedback", icon="eye")
        self.view = w.HTML("<i>Pick a learner and press Show feedback.</i>")
        super().__init__(w.HBox([self.learner, self.button]), self.view, doing="show the feedback")
        self.on_click(self.button, self.render)
        self.on_change(self.learner, self.render)

    def render(self) -> None:
        """Show the chosen learner's notebooks: how each ended, and every question's outcome."""
        rows = []
        for r in self.book.results:
            if r["learner"] != self.learner.value:
                continue
            rows.append(f"<b>{html.escape(r['file'])}</b> ({html.escape(str(r.get('lesson')))}): "
                        f"{html.escape(r['status'])}, {html.escape(r['reason'])}<ul>")
            for q in r.get("questions") or []:
                mark = {"passed": "✓", "failed": "✗"}.get(q["status"], "·")
                rows.append(f"<li>{mark} {html.escape(q['question'])} {html.escape(q['title'])}: "
                            f"{html.escape(q['status'])}. {html.escape(q['message'][:200])}</li>")
            rows.append("</ul>")
        self.view.value = "".join(rows) or "<i>No notebooks for this learner.</i>"
        self.show(f"Feedback for {html.escape(str(self.learner.value))}.")
