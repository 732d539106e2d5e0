"""Exercises with instant checks, end-of-lesson quizzes and saved progress.

In a notebook::

    from mlkit.exercises import lesson00 as ex
    ex.q1.check()      # feedback on your answer; ex.q1.hint(), ex.q1.solution()

    from mlkit.exercises import quiz
    quiz.show("00_lifecycle_overview")

Authors define questions in ``mlkit/exercises/lessonNN.py`` with :class:`Question` and
:class:`Mistake`, listed as ``QUESTIONS = [q1, q2, ...]``, using the shared
:mod:`~mlkit.exercises.fixtures`; the quiz is data, ``mlkit/exercises/quizzes/NN_topic.toml``
(see :mod:`mlkit.exercises.quiz`). Importing this package is cheap: widgets and data are
loaded only when used.

Modules, bottom up (no import cycle): ``records`` (the progress file), ``core`` (Question,
checks, solutions), ``quiz``, ``progress`` (summaries, widget), ``fixtures``, ``lessonNN``,
``build`` (exercises/ from solutions/).
"""

from mlkit.exercises.core import CheckFailed, LessonError, Mistake, NotStarted, Question

__all__ = ["CheckFailed", "LessonError", "Mistake", "NotStarted", "Question"]
