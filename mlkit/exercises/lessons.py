"""Find a lesson's exercise module and its questions: ``mlkit/exercises/lessonNN.py`` with
``LESSON = "NN_topic"`` and ``QUESTIONS = [q1, q2, ...]``; a clear error otherwise."""

from __future__ import annotations

import re

from mlkit.course.errors import MlkitError
from mlkit.exercises.question import Question


class LessonError(MlkitError, LookupError):
    """A lesson's exercise module or quiz file is missing or malformed; the message says what to add."""


def find_lesson_module(lesson: str):
    """The exercise module of a lesson id ("01_data" -> mlkit.exercises.lesson01), or None
    when the lesson has none. Raises LessonError when the id has no number or the module
    declares another lesson."""
    import importlib

    m = re.match(r"(\d+)_", lesson or "")
    if not m:
        raise LessonError(f"Lesson id {lesson!r} should be its number and topic, e.g. '01_data'.")
    name = f"mlkit.exercises.lesson{m.group(1)}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
    declared = getattr(module, "LESSON", None)
    if declared is None:
        raise LessonError(f"mlkit/exercises/lesson{m.group(1)}.py has no LESSON line: add "
                          f"LESSON = {lesson!r} at its top.")
    if declared != lesson:
        raise LessonError(f"mlkit/exercises/lesson{m.group(1)}.py is for lesson {declared!r}, not {lesson!r}.")
    return module


def lesson_module(lesson: str):
    """The exercise module of a lesson id: "01_data" -> mlkit.exercises.lesson01."""
    module = find_lesson_module(lesson)
    if module is None:
        number = re.match(r"(\d+)", lesson).group(1)
        raise LessonError(f"No exercises or quiz for lesson {lesson!r} (mlkit/exercises/lesson{number}.py).")
    return module


def lesson_questions(module) -> list[Question]:
    """A lesson module's exercises: its ``QUESTIONS`` list, in the order learners meet them.

    Raises LessonError, saying what to add, when the list is missing, holds something that
    is not a Question, repeats a name, leaves out a Question the module defines, or mixes lessons.
    """
    where = f"mlkit/exercises/{module.__name__.rsplit('.', 1)[-1]}.py"
    defined = {n: v for n, v in vars(module).items() if isinstance(v, Question)}  # for the messages only
    listed = getattr(module, "QUESTIONS", None)
    if listed is None:
        names = ", ".join(defined) or "q1, q2, ..."
        raise LessonError(f"{where} has no QUESTIONS list. Add, after its last question: "
                          f"QUESTIONS = [{names}]  (the order learners meet them).")
    if not isinstance(listed, (list, tuple)):
        raise LessonError(f"{where}: QUESTIONS should be a list, e.g. QUESTIONS = [q1, q2]; "
                          f"it is a {type(listed).__name__}.")
    listed = list(listed)
    wrong = [x for x in listed if not isinstance(x, Question)]
    if wrong:
        raise LessonError(f"{where}: QUESTIONS holds {wrong[0]!r}, which is not a Question.")
    names = [q.name for q in listed]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise LessonError(f"{where}: the question name {repeated[0]!r} is used twice in QUESTIONS.")
    left_out = [n for n, q in defined.items() if q not in listed]
    if left_out:
        raise LessonError(f"{where} defines {left_out[0]} but QUESTIONS does not list it: add it to QUESTIONS.")
    lesson = getattr(module, "LESSON", None)
    other = [q for q in listed if lesson and q.lesson != lesson]
    if other:
        raise LessonError(f"{where}: {other[0].name} is made for lesson {other[0].lesson!r}, "
                          f"but the module's LESSON is {lesson!r}.")
    return listed


def questions_of(lesson: str) -> list[Question]:
    """The exercises of a lesson id, in order (LessonError when it has none)."""
    return lesson_questions(lesson_module(lesson))
