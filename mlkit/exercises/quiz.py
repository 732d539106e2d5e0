"""The end-of-lesson quiz: ``from mlkit.exercises import quiz`` then ``quiz.show("01_data")``.

A lesson module (``mlkit/exercises/lessonNN.py``) lists its questions as ``QUIZ = [...]``
using the four kinds below. The answers live here in the package, never in a notebook, and
the widget sends nothing to the browser but feedback on an answer already given.
Each answer is graded in the kernel, an explanation follows every answer, and the result is
saved to the learner's progress file. Works in JupyterLab and headless (papermill); the
widget logic runs without a front end (``Button.click()``), so it is unit-tested.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from mlkit.exercises.core import lesson_module


@dataclass
class _Base:
    prompt: str
    explanation: str
    id: str = ""  # defaults to quiz1, quiz2, ... by position

    kind = "base"

    def grade(self, response: Any) -> tuple[bool, str]:
        """(correct, specific feedback) for a response; the explanation is added by the caller."""
        raise NotImplementedError

    def describe(self, response: Any) -> str:
        return str(response)


@dataclass
class SingleChoice(_Base):
    """Pick one option. ``answer`` is the index of the right option; ``feedback`` maps a
    wrong option's index to a message about that particular mistake."""

    options: Sequence[str] = ()
    answer: int = 0
    feedback: dict[int, str] = field(default_factory=dict)
    kind = "single"

    def grade(self, response: Any) -> tuple[bool, str]:
        if response is None:
            raise ValueError("Pick one option first.")
        i = int(response)
        if i == self.answer:
            return True, ""
        return False, self.feedback.get(i, "That is not the best answer.")

    def describe(self, response: Any) -> str:
        return self.options[int(response)] if response is not None else "(none)"


@dataclass
class MultipleChoice(_Base):
    """Tick every right option. ``answers`` are the indexes of the right options;
    ``feedback`` maps an option's index to a message shown when it is ticked wrongly or missed."""

    options: Sequence[str] = ()
    answers: Sequence[int] = ()
    feedback: dict[int, str] = field(default_factory=dict)
    kind = "multiple"

    def grade(self, response: Any) -> tuple[bool, str]:
        picked = set(int(i) for i in (response or ()))
        if not picked:
            raise ValueError("Tick at least one option first.")
        right = set(self.answers)
        if picked == right:
            return True, ""
        extra, missed = sorted(picked - right), sorted(right - picked)
        parts = []
        if extra:
            parts.append(f"{len(extra)} of your ticks {'is' if len(extra) == 1 else 'are'} wrong")
        if missed:
            parts.append(f"{len(missed)} right option{'s' if len(missed) > 1 else ''} not ticked")
        notes = [self.feedback[i] for i in extra + missed if i in self.feedback]
        return False, "; ".join(parts) + "." + ("".join(f" {n}" for n in notes[:2]))

    def describe(self, response: Any) -> str:
        return ", ".join(self.options[int(i)] for i in sorted(response or ())) or "(none)"


_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def parse_number(text: Any) -> float:
    """A number from what a learner typed: "86.8", "86,8", "86.8 %", " 1e3 "."""
    if isinstance(text, (int, float)):
        return float(text)
    s = str(text).strip().rstrip("%").strip().replace(" ", "").replace("_", "")
    if s.count(",") == 1 and "." not in s:
        s = s.replace(",", ".")
    s = s.replace(",", "")
    if not _NUMBER.match(s):
        raise ValueError(f"Type a number (e.g. 42.5), not {str(text)!r}.")
    return float(s)


@dataclass
class Numeric(_Base):
    """A number, right within ``tolerance``. ``mistakes`` lists typical wrong values:
    (value, tolerance, message)."""

    answer: float = 0.0
    tolerance: float = 0.0
    unit: str = ""
    mistakes: Sequence[tuple[float, float, str]] = ()
    kind = "numeric"

    def grade(self, response: Any) -> tuple[bool, str]:
        x = parse_number(response)
        if not math.isfinite(x):
            raise ValueError("Type a finite number.")
        if abs(x - self.answer) <= self.tolerance:
            return True, ""
        for value, tol, message in self.mistakes:
            if abs(x - value) <= tol:
                return False, message
        direction = "too high" if x > self.answer else "too low"
        return False, f"{x:g}{self.unit and ' ' + self.unit} is {direction}."


def _normalise(text: str) -> str:
    return " " + " ".join(re.sub(r"[^a-z0-9]+", " ", str(text).lower()).split()) + " "


@dataclass
class ShortText(_Base):
    """A short written answer, right when it names enough of the ``keywords``.

    Each keyword is a word or phrase, or a tuple of alternatives ("canary", "canaries");
    a trailing "*" matches any ending ("canar*"). ``need`` is how many keywords (groups)
    must be named; by default all of them.
    """

    keywords: Sequence[str | tuple[str, ...]] = ()
    need: int | None = None
    kind = "text"

    def _groups(self) -> list[tuple[str, ...]]:
        return [(k,) if isinstance(k, str) else tuple(k) for k in self.keywords]

    def matched(self, response: str) -> list[bool]:
        text = _normalise(response)
        found = []
        for group in self._groups():
            hit = False
            for alt in group:
                stem = alt.endswith("*")
                words = _normalise(alt.rstrip("*")).rstrip() if stem else _normalise(alt)
                hit = hit or (words in text)
            found.append(hit)
        return found

    def grade(self, response: Any) -> tuple[bool, str]:
        if not str(response or "").strip():
            raise ValueError("Write your answer in the box first.")
        found = self.matched(str(response))
        need = self.need if self.need is not None else len(found)
        if sum(found) >= need:
            return True, ""
        return False, f"Your answer names {sum(found)} of the {need} key ideas we look for."


QuizQuestion = _Base


def questions(lesson: str) -> list[_Base]:
    """The quiz of a lesson (its module's QUIZ), each with its id filled in."""
    quiz = list(getattr(lesson_module(lesson), "QUIZ", []))
    for i, q in enumerate(quiz, 1):
        if not q.id:
            q.id = f"quiz{i}"
    return quiz


# --- the widget --------------------------------------------------------------------------------
class _Item:
    """One question's widgets: prompt, input, Check button, feedback."""

    def __init__(self, quiz: "Quiz", number: int, question: _Base) -> None:
        import ipywidgets as w

        self.quiz, self.question = quiz, question
        prompt = w.HTML(f"<b>{number}. {html.escape(question.prompt)}</b>")
        if question.kind == "single":
            self.input = w.RadioButtons(options=[(o, i) for i, o in enumerate(question.options)],
                                        index=None, layout=w.Layout(width="auto"))
            controls = self.input
        elif question.kind == "multiple":
            self.input = [w.Checkbox(value=False, description=o, indent=False, layout=w.Layout(width="auto"))
                          for o in question.options]
            controls = w.VBox(self.input)
        else:
            hint = "a number" + (f" ({question.unit})" if getattr(question, "unit", "") else "")
            self.input = w.Text(placeholder=hint if question.kind == "numeric" else "your answer",
                                layout=w.Layout(width="60%"))
            controls = self.input
        self.button = w.Button(description="Check", button_style="primary")
        self.feedback = w.HTML("")
        self.button.on_click(self._on_click)
        self.box = w.VBox([prompt, controls, w.HBox([self.button]), self.feedback])
        self.box.add_class("mlkit-quiz-item")
        self.correct: bool | None = None

    def response(self) -> Any:
        if self.question.kind == "single":
            return self.input.value
        if self.question.kind == "multiple":
            return [i for i, box in enumerate(self.input) if box.value]
        return self.input.value

    def set_response(self, response: Any) -> None:
        """Fill the input as a learner would (used by tests and demos)."""
        if self.question.kind == "single":
            self.input.value = response
        elif self.question.kind == "multiple":
            for i, box in enumerate(self.input):
                box.value = i in set(response)
        else:
            self.input.value = str(response)

    def _on_click(self, _button: Any = None) -> None:
        try:
            response = self.response()
            correct, message = self.question.grade(response)
        except (ValueError, TypeError, IndexError) as exc:
            self.feedback.value = f'<span style="color:#9a6700">{html.escape(str(exc))}</span>'
            return
        except Exception as exc:  # noqa: BLE001 - a callback must never raise
            self.feedback.value = f"Could not grade this answer ({type(exc).__name__}: {html.escape(str(exc))})."
            return
        self.correct = correct
        head = ('<b style="color:#1a7f37">✔ Right.</b>' if correct
                else f'<b style="color:#cf222e">✘ Not quite.</b> {html.escape(message)}')
        self.feedback.value = (f'<div class="mlkit-feedback">{head}<br>'
                               f"<i>{html.escape(self.question.explanation)}</i></div>")
        try:
            from mlkit.exercises import progress

            saved = response if isinstance(response, (int, float, list)) else str(response)
            progress.record_quiz(self.quiz.lesson, self.question.id, correct, saved)
        except Exception:  # noqa: BLE001 - progress must never break a lesson
            pass
        self.quiz.update_score()


class Quiz:
    """The quiz widget of one lesson: ``.box`` (class ``mlkit-quiz``), ``.items``, ``.score``."""

    def __init__(self, lesson: str, quiz: Sequence[_Base] | None = None) -> None:
        import ipywidgets as w

        self.lesson = lesson
        self.questions = list(quiz) if quiz is not None else questions(lesson)
        for i, q in enumerate(self.questions, 1):
            q.id = q.id or f"quiz{i}"
        self.score = w.HTML("")
        self.saved = _saved_answers(lesson)
        self.items = [_Item(self, i, q) for i, q in enumerate(self.questions, 1)]
        title = w.HTML(f"<h3>Self-check quiz · {html.escape(lesson)}</h3>")
        self.box = w.VBox([title, *[it.box for it in self.items], self.score])
        self.box.add_class("mlkit-quiz")
        self.update_score()

    def answer(self, index: int, response: Any) -> str:
        """Answer question ``index`` (0-based) as a learner would: fill it in, click Check.
        Returns the feedback shown."""
        item = self.items[index]
        item.set_response(response)
        item.button.click()
        return item.feedback.value

    def update_score(self) -> None:
        answered = [it for it in self.items if it.correct is not None]
        right = sum(bool(it.correct) for it in answered)
        before = ""
        if self.saved:
            was_right = sum(bool(e.get("correct")) for e in self.saved.values())
            before = f" Saved from earlier sessions: {was_right} of {len(self.items)} right."
        self.score.value = (f"<b>{right} of {len(self.items)} right</b> "
                            f"({len(answered)} answered now; your answers are saved in your progress).{before}")



def _saved_answers(lesson: str) -> dict[str, Any]:
    """Quiz answers saved earlier for this lesson ({} if none or unreadable)."""
    try:
        from mlkit.exercises import progress

        return dict(progress.load()["lessons"].get(lesson, {}).get("quiz", {}))
    except Exception:  # noqa: BLE001 - progress must never break a lesson
        return {}


def show(lesson: str) -> None:
    """Show the quiz of a lesson (the lesson's last cells call it).

    Returns nothing, so the widget is not shown twice; ``Quiz(lesson)`` builds one to keep.
    """
    quiz = Quiz(lesson)
    try:
        from IPython.display import display
    except ImportError:  # plain python: list the questions
        for i, q in enumerate(quiz.questions, 1):
            print(f"{i}. {q.prompt}")
        return
    display(quiz.box)
