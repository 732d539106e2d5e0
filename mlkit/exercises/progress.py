"""The learner's progress: exercises passed and quiz answers, per lesson.

Saved in ``$MLKIT_HOME/progress.json`` (see :mod:`mlkit.exercises.records`, which reads
and writes the file). ``mlkit progress`` prints :func:`summary_text`; ``progress.show()``
is the notebook widget. The totals come from each lesson's ``QUESTIONS`` list and quiz
file (``mlkit/exercises/quizzes/NN_topic.toml``).

Layers (no cycle): records <- question <- lessons <- quiz <- progress.
"""

from __future__ import annotations

import html
import time
from typing import Any

from mlkit.exercises import lessons, quiz
from mlkit.exercises.records import (  # noqa: F401 - the public API of progress
    FILE_NAME,
    VERSION,
    load,
    progress_path,
    record_check,
    record_hint,
    record_quiz,
    save,
)


def known_lessons() -> tuple[dict[str, tuple[list[str], list[str]]], list[str]]:
    """({lesson: (exercise names, quiz ids)}, problems) for every lesson with exercises or a quiz.

    A lesson module or quiz file that is broken is left out and named in ``problems`` (one
    line each, saying what to fix), so that one broken lesson never hides the others.
    """
    import importlib
    import pkgutil

    from mlkit import exercises

    found: dict[str, tuple[list[str], list[str]]] = {}
    problems: list[str] = []
    for info in sorted(pkgutil.iter_modules(exercises.__path__), key=lambda m: m.name):
        if not info.name.startswith("lesson"):
            continue
        try:
            module = importlib.import_module(f"mlkit.exercises.{info.name}")
            names = [q.name for q in lessons.lesson_questions(module)]
            lesson = getattr(module, "LESSON", None)
            if not lesson:
                raise lessons.LessonError(f"mlkit/exercises/{info.name}.py has no LESSON = \"NN_topic\" line.")
            found[lesson] = (names, [])
        except Exception as exc:  # noqa: BLE001 - one broken lesson module must not hide the rest
            problems.append(f"{info.name}: {exc}")
    for lesson in quiz.quiz_lessons():
        try:
            ids = [q.id for q in quiz.questions(lesson)]
        except Exception as exc:  # noqa: BLE001
            problems.append(f"quiz {lesson}: {exc}")
            continue
        found[lesson] = (found.get(lesson, ([], []))[0], ids)
    return found, problems


def summary() -> list[dict[str, Any]]:
    """One row per lesson: exercises passed / total, quiz right / answered / total."""
    data = load()
    known, _ = known_lessons()
    rows = []
    for lesson in sorted(set(known) | set(data["lessons"])):
        names, quiz_ids = known.get(lesson, ([], []))
        saved = data["lessons"].get(lesson, {})
        checks, answers = saved.get("checks", {}), saved.get("quiz", {})
        rows.append({
            "lesson": lesson,
            "exercises_passed": sum(bool(v.get("passed")) for v in checks.values()),
            "exercises_total": len(names) or len(checks),
            "quiz_right": sum(bool(v.get("correct")) for v in answers.values()),
            "quiz_answered": len(answers),
            "quiz_total": len(quiz_ids) or len(answers),
        })
    return rows


def summary_text() -> str:
    """Progress as a plain-text table (what ``mlkit progress`` prints)."""
    from tabulate import tabulate

    rows = summary()
    lines = [f"Progress saved in {progress_path()}", ""]
    table = [(r["lesson"], f"{r['exercises_passed']}/{r['exercises_total']}", f"{r['quiz_right']}/{r['quiz_total']}")
             for r in rows]
    lines += tabulate(table, headers=("lesson", "exercises passed", "quiz right"), tablefmt="simple",
                      disable_numparse=True).splitlines()
    if not rows:
        lines.append("(no lessons yet)")
    problems = known_lessons()[1]
    if problems:
        lines += ["", "Not counted (fix these lesson files):", *(f"  - {p}" for p in problems)]
    return "\n".join(lines)


def _html_table(rows: list[dict[str, Any]]) -> str:
    def bar(done: int, total: int) -> str:
        pct = 100 * done / total if total else 0
        return (f'<div style="background:#eee;width:120px;height:10px;display:inline-block">'
                f'<div style="background:#1a7f37;width:{pct:.0f}%;height:10px"></div></div> {done}/{total}')

    body = "".join(
        f"<tr><td>{html.escape(r['lesson'])}</td><td>{bar(r['exercises_passed'], r['exercises_total'])}</td>"
        f"<td>{bar(r['quiz_right'], r['quiz_total'])}</td></tr>" for r in rows
    ) or '<tr><td colspan="3">No progress yet.</td></tr>'
    return ("<table><tr><th>lesson</th><th>exercises passed</th><th>quiz right</th></tr>"
            f"{body}</table>")


def widget():
    """The progress widget (class ``mlkit-progress``): a table and a Refresh button."""
    import ipywidgets as w

    table = w.HTML(_html_table(summary()))
    button = w.Button(description="Refresh", icon="refresh")
    stamp = w.HTML("")

    def refresh(_b: Any = None) -> None:
        try:
            table.value = _html_table(summary())
            stamp.value = f"<small>updated {time.strftime('%H:%M:%S')}</small>"
        except Exception as exc:  # noqa: BLE001 - a callback must never raise
            stamp.value = f"Could not read progress: {html.escape(str(exc))}"

    button.on_click(refresh)
    box = w.VBox([w.HTML("<h3>Your progress</h3>"), table, w.HBox([button, stamp])])
    box.add_class("mlkit-progress")
    return box


def show() -> None:
    """Show the progress widget in a notebook."""
    from IPython.display import display

    display(widget())
