"""Exercises with instant checks, end-of-lesson quizzes and saved progress.

In a notebook::

    from mlkit.exercises import lesson00 as ex
    ex.q1.check()      # feedback on your answer; ex.q1.hint(), ex.q1.solution()

    from mlkit.exercises import quiz
    quiz.show("00_lifecycle_overview")

Authors define questions in ``mlkit/exercises/lessonNN.py`` with :class:`Question` (an
``ask`` that runs the learner's code and a ``judge`` that decides from the data it returned)
and :class:`Mistake`, listed as ``QUESTIONS = [q1, q2, ...]``, using the shared
:mod:`~mlkit.exercises.fixtures`; the quiz is data, ``mlkit/exercises/quizzes/NN_topic.toml``
(see :mod:`mlkit.exercises.quiz`). Importing this package is cheap: widgets and data are
loaded only when used.

Modules, bottom up (no import cycle): ``records`` (the progress file), ``answers`` (calls and
the JSON record), ``feedback`` (how results are shown), ``solutions`` (the one source of the
reference answers), ``question`` (Question, Mistake), ``lessons`` (finding a lesson's
questions), ``quiz_model`` and ``quiz`` (the quiz), ``progress``, ``fixtures``, ``lessonNN``,
``build`` (exercises/ from solutions/).
"""

from mlkit.exercises.answers import call
from mlkit.exercises.lessons import LessonError
from mlkit.exercises.question import CheckFailed, Mistake, NotStarted, Question

__all__ = ["CheckFailed", "LessonError", "Mistake", "NotStarted", "Question", "call"]
