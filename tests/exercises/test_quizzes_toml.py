"""Every lesson's quiz file (mlkit/exercises/quizzes/NN_topic.toml) parses and is well formed,
and the loader refuses malformed files with a message naming the file and the question."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from mlkit.exercises import quiz
from mlkit.exercises.lessons import LessonError
from mlkit.exercises.quiz import MultipleChoice, Numeric, ShortText, SingleChoice

FILES = sorted(quiz.QUIZ_DIR.glob("*.toml"))
ROOT = Path(__file__).resolve().parents[2]


def test_there_is_a_quiz_file_for_every_lesson_notebook():
    lessons = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert {"00_lifecycle_overview", "01_data", "02_training"} <= {p.stem for p in FILES}
    missing = sorted(lessons - {p.stem for p in FILES})
    assert not missing, f"no quiz file for {missing}: add mlkit/exercises/quizzes/<lesson>.toml"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_quiz_file_parses_and_is_well_formed(path):
    raw = tomllib.loads(path.read_text(encoding="utf-8"))["question"]  # plain TOML, before the loader
    questions = quiz.load_quiz(path)
    assert len(questions) == len(raw) >= 5
    ids = [q.id for q in questions]
    assert len(set(ids)) == len(ids), "ids are unique"
    for q in questions:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", q.id)
        assert q.prompt.strip() and q.explanation.strip(), q.id
        if isinstance(q, SingleChoice):
            assert 0 <= q.answer < len(q.options), q.id
            assert all(0 <= i < len(q.options) and i != q.answer for i in q.feedback), q.id
        elif isinstance(q, MultipleChoice):
            assert q.answers and all(0 <= i < len(q.options) for i in q.answers), q.id
        elif isinstance(q, Numeric):
            assert all(abs(v - q.answer) > t + q.tolerance for v, t, _ in q.mistakes), q.id
        else:
            assert isinstance(q, ShortText) and 1 <= q.need <= len(q.keywords), q.id


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_the_lesson_quiz_is_loaded_by_its_id_and_every_kind_grades_its_answer(path):
    questions = quiz.questions(path.stem)
    assert [q.id for q in questions] == [q.id for q in quiz.load_quiz(path)]
    for q in questions:
        if isinstance(q, SingleChoice):
            right = q.answer
        elif isinstance(q, MultipleChoice):
            right = list(q.answers)
        elif isinstance(q, Numeric):
            right = str(q.answer)
        else:
            right = " ".join((k if isinstance(k, str) else k[0]).rstrip("*") for k in q.keywords)
        assert q.grade(right)[0] is True, q.id


def test_the_three_first_quizzes_cover_all_four_kinds():
    kinds = {q.kind for p in FILES[:3] for q in quiz.load_quiz(p)}
    assert kinds == {"single", "multiple", "numeric", "text"}


GOOD = '''
[[question]]
id = "pick"
kind = "single"
prompt = "Which?"
options = ["a", "b"]
answer = 1
explanation = "Because b."
'''


@pytest.mark.parametrize("text, says", [
    (GOOD.replace("answer = 1", "answer = 2"), "answer is 2, but the options are numbered 0 to 1"),
    (GOOD.replace('explanation = "Because b."', ""), "explanation is missing"),
    (GOOD + GOOD, "the id 'pick' is used twice"),
    (GOOD.replace('kind = "single"', 'kind = "essay"'), "kind should be one of"),
    (GOOD.replace("answer = 1", "answer = 1\nexplaination = \"typo\""), "unknown key(s) explaination"),
    (GOOD.replace('options = ["a", "b"]', 'options = ["a"]'), "at least two"),
    (GOOD + "\n[question.feedback]\n5 = \"no such option\"\n", "feedback key '5'"),
    (GOOD.replace('prompt = "Which?"', 'prompt = "Which?'), "not valid TOML"),
    ('title = "x"\n' + GOOD, "only [[question]] tables"),
    ("", "has no questions"),
    ('[[question]]\nid = "n"\nkind = "numeric"\nprompt = "?"\nanswer = 5\ntolerance = 1\nexplanation = "e"\n'
     '[[question.mistakes]]\nvalue = 5.5\ntolerance = 0.1\nmessage = "m"\n', "overlaps the right answer"),
    ('[[question]]\nid = "t"\nkind = "text"\nprompt = "?"\nkeywords = ["a", 3]\nexplanation = "e"\n',
     "keyword 3 should be a word"),
    ('[[question]]\nid = "t"\nkind = "text"\nprompt = "?"\nkeywords = ["a"]\nneed = 2\nexplanation = "e"\n',
     "need should be a whole number from 1 to 1"),
    ('[[question]]\nid = "t"\nkind = "text"\nprompt = "?"\nkeywords = ["canar*"]\nexplanation = "e"\n',
     "matched as whole words"),
    ('[[question]]\nid = "t"\nkind = "text"\nprompt = "?"\nkeywords = ["a"]\nordered = "yes"\nexplanation = "e"\n',
     "ordered"),
    ('[[question]]\nid = "m"\nkind = "multiple"\nprompt = "?"\noptions = ["a", "b"]\nanswers = []\n'
     'explanation = "e"\n', "answers should be a non-empty list"),
])
def test_a_malformed_quiz_file_is_refused_naming_file_and_question(tmp_path, text, says):
    path = tmp_path / "98_demo.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LessonError) as err:
        quiz.load_quiz(path)
    assert "98_demo.toml" in str(err.value) and says in str(err.value), str(err.value)


def test_a_well_formed_file_loads_into_the_quiz_kinds(tmp_path):
    path = tmp_path / "98_demo.toml"
    path.write_text(GOOD + '\n[question.feedback]\n0 = "a is the trap"\n', encoding="utf-8")
    (q,) = quiz.load_quiz(path)
    assert isinstance(q, SingleChoice) and q.feedback == {0: "a is the trap"}
    assert q.grade(0) == (False, "a is the trap")
