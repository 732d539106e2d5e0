"""The end-of-lesson quiz: ``from mlkit.exercises import quiz`` then ``quiz.show("01_data")``.

A lesson's quiz is data: ``mlkit/exercises/quizzes/NN_topic.toml``, one ``[[question]]``
table per question, of four kinds (``kind = "single"``, ``"multiple"``, ``"numeric"`` or
``"text"``); the kinds, their grading and the loader that validates a file are
:mod:`mlkit.exercises.quiz_model`. This module finds a lesson's quiz and shows it. The answers
live in the package, never in a notebook, and the widget sends nothing to the browser but
feedback on an answer already given.
Each answer is graded in the kernel, an explanation follows every answer, and the result is
saved to the learner's progress file. Works in JupyterLab and headless (papermill); the
widget logic runs without a front end (``Button.click()``), so it is unit-tested.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlkit.exercises import records
from mlkit.exercises.lessons import LessonError, find_lesson_module
from mlkit.exercises.quiz_model import (  # noqa: F401 - the quiz's public names, in one place
    KINDS,
    MultipleChoice,
    Numeric,
    QuizQuestion,
    ShortText,
    SingleChoice,
    load_quiz,
    parse_number,
)

QUIZ_DIR = Path(__file__).with_name("quizzes")


# --- quiz files (TOML) --------------------------------------------------------------------------
def quiz_path(lesson: str) -> Path:
    """The quiz file of a lesson: mlkit/exercises/quizzes/<lesson>.toml."""
    return QUIZ_DIR / f"{lesson}.toml"


def quiz_lessons() -> list[str]:
    """The lesson ids that have a quiz file, in order."""
    return sorted(p.stem for p in QUIZ_DIR.glob("*.toml"))


def questions(lesson: str) -> list[QuizQuestion]:
    """The quiz of a lesson, read from mlkit/exercises/quizzes/<lesson>.toml.

    A lesson module that still defines its quiz in Python (``QUIZ = [...]``) gets a
    LessonError saying where to move it.
    """
    module = find_lesson_module(lesson)
    if module is not None and hasattr(module, "QUIZ"):
        raise LessonError(
            f"{module.__name__.replace('.', '/')}.py defines QUIZ = [...] in Python; quizzes are data now. "
            f"Move its questions to mlkit/exercises/quizzes/{lesson}.toml (one [[question]] table each, "
            "see CONTRIBUTING) and delete QUIZ from the module.")
    path = quiz_path(lesson)
    if not path.exists():
        number = lesson.split("_", 1)[0]
        same_number = [p for p in quiz_lessons() if p.split("_", 1)[0] == number]
        if same_number:
            raise LessonError(f"quizzes/{same_number[0]}.toml is for lesson {same_number[0]!r}, not {lesson!r}.")
        raise LessonError(f"No exercises or quiz for lesson {lesson!r}: add mlkit/exercises/quizzes/{lesson}.toml.")
    return load_quiz(path)


# --- the widget --------------------------------------------------------------------------------
class _Item:
    """One question's widgets: prompt, input, Check button, feedback."""

    def __init__(self, quiz: Quiz, number: int, question: QuizQuestion) -> None:
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
            saved = response if isinstance(response, (int, float, list)) else str(response)
            records.record_quiz(self.quiz.lesson, self.question.id, correct, saved)
        except Exception:  # noqa: BLE001 - progress must never break a lesson
            pass
        self.quiz.update_score()


class Quiz:
    """The quiz widget of one lesson: ``.box`` (class ``mlkit-quiz``), ``.items``, ``.score``."""

    def __init__(self, lesson: str, quiz: Sequence[QuizQuestion] | None = None) -> None:
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
    return dict(records.saved_lesson(lesson).get("quiz", {}))


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
