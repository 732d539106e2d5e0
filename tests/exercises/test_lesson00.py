"""Question.check/hint/solution, and lesson 00's checks: the reference solutions pass, and a
wrong answer to every check gets specific feedback, never an exception."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from exercise_checks import hidden_verdict

from mlkit.exercises import CheckFailed, Mistake, NotStarted, Question, call, lesson00, progress
from mlkit.exercises.solutions import solution_source


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("MLKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLKIT_STRICT", raising=False)


def _ask_square(case, square):
    return {"square": call(square, case.get("x", 3))}


def _judge_square(got, case):
    x = case.get("x", 3)
    value = got["square"].value
    if value != x * x:
        raise Mistake(f"square({x}) gave {value}, not {x * x}.")
    return "Nicely done."


def make_q(**kw) -> Question:
    return Question("99_demo", "q1", "Square a number", answer="square", ask=_ask_square, judge=_judge_square,
                    hints=["Multiply.", "x * x"], hidden=lambda rng: {"x": rng.randint(4, 99)}, **kw)


# --- the Question machinery ---------------------------------------------------------------------
def test_missing_none_and_stub_answers_read_not_started(capsys):
    q = make_q()
    assert q.check() is False  # `square` is not defined in this module
    assert "Not started yet" in capsys.readouterr().out
    for value in (None, ...):
        assert q.evaluate(value)[0] == "not started"

    def square(x):
        raise NotImplementedError()

    status, message = q.evaluate(square)
    assert status == "not started" and "NotImplementedError" in message
    out = capsys.readouterr().out
    assert "Traceback" not in out


def test_check_finds_the_answer_in_the_callers_namespace(capsys):
    namespace = {"q": make_q(), "square": lambda x: x * x}
    exec("result = q.check()", namespace)
    assert namespace["result"] is True
    out = capsys.readouterr().out
    assert "Correct" in out and "Nicely done." in out


def test_a_mistake_is_shown_with_its_message(capsys):
    assert make_q().check(lambda x: x + x) is False
    out = capsys.readouterr().out
    assert "square(3) gave 6, not 9." in out and "hint()" in out


def test_an_error_in_learner_code_is_one_clear_message_not_a_traceback():
    namespace: dict = {}
    exec("def square(x):\n    table = {}\n    return table[x]\n", namespace)
    status, message = make_q().evaluate(namespace["square"])
    assert status == "failed"
    assert "KeyError: 3" in message and "line 3" in message and "square" in message
    assert "Traceback" not in message


def test_an_answer_of_the_wrong_kind_is_named():
    status, message = make_q().evaluate("x * x")
    assert status == "failed" and "`square` should be a function" in message and "not a str" in message


def test_strict_mode_raises_not_started_and_check_failed(monkeypatch):
    monkeypatch.setenv("MLKIT_STRICT", "1")
    q = make_q()
    with pytest.raises(NotStarted) as err:
        q.check(None)
    assert isinstance(err.value, NotImplementedError)
    with pytest.raises(CheckFailed, match="square\\(3\\) gave 6") as err:
        q.check(lambda x: x + x)
    assert isinstance(err.value, AssertionError)
    assert q.check(lambda x: x * x) is True


def test_hints_are_revealed_one_per_call(capsys):
    q = make_q()
    assert q.hint() == "Multiply."
    assert "Hint 1 of 2" in capsys.readouterr().out
    assert q.hint() == "x * x"
    out = capsys.readouterr().out
    assert "Hint 2 of 2" in out and "solution()" in out
    assert q.hint() == "x * x"  # stays at the last one
    saved = progress.load()["lessons"]["99_demo"]["checks"]["q1"]
    assert saved["hints"] == 2


def test_check_results_are_saved_in_progress():
    q = make_q()
    q.check(lambda x: x + x)
    entry = progress.load()["lessons"]["99_demo"]["checks"]["q1"]
    assert entry["attempts"] == 1 and entry["passed"] is False
    q.check(lambda x: x * x)
    q.check(lambda x: x + x)
    entry = progress.load()["lessons"]["99_demo"]["checks"]["q1"]
    assert entry["attempts"] == 3 and entry["passed"] is True and entry["last_passed"] is False


def test_a_broken_progress_folder_never_breaks_a_check(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("MLKIT_HOME", str(blocker))
    with pytest.warns(UserWarning, match="Cannot read your progress file"):
        assert make_q().check(lambda x: x * x) is True


def test_solution_comes_from_the_solutions_notebook(capsys):
    code = lesson00.q1.solution()
    assert code.startswith("def profile_data(df):") and "df.text.duplicated()" in code
    assert "###" not in code and "check()" not in code
    assert "df.text.duplicated()" in capsys.readouterr().out
    hidden = solution_source("00_lifecycle_overview", "spam_metrics")
    assert "HIDDEN" not in hidden and "assert scores" not in hidden


def test_solution_without_a_solutions_notebook_says_so(capsys):
    assert make_q().solution() == ""
    assert "not here" in capsys.readouterr().out


# --- lesson 00: the reference answers pass --------------------------------------------------------
QUESTIONS = [lesson00.q1, lesson00.q2, lesson00.q3, lesson00.q4, lesson00.q5]


@pytest.fixture(scope="module")
def reference(solutions):
    """The answers defined by the solutions notebook's own cells (the one source)."""
    return solutions(lesson00.LESSON, *(q.answers[0] for q in QUESTIONS), time=time)


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.name)
def test_reference_answer_passes(q, reference):
    status, message = q.evaluate(reference[q.answers[0]])
    assert status == "passed", message
    assert message, "a passing check says what it found"



@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.name)
def test_reference_answer_passes_a_hidden_case(q, reference):
    verdict = hidden_verdict(q, reference[q.answers[0]], seed=11)
    assert verdict.status == "passed", verdict


def test_an_answer_typed_in_for_the_examples_fails_the_hidden_case_without_revealing_it():
    def typed_in(days, baseline, tolerance):
        return [False, False, False, True, True, False] if len(days) == 6 else [True, False]

    assert lesson00.q4.evaluate(typed_in)[0] == "passed"
    verdict = hidden_verdict(lesson00.q4, typed_in, seed=11)
    assert verdict.status == "failed" and "hidden case 1" in verdict.message and verdict.note
    case = lesson00.q4.cases(11)[1]
    assert str(case["baseline"]) not in verdict.message and "day" not in verdict.message.replace("today", "")


def test_every_lesson00_question_is_found_and_has_hints():
    from mlkit.exercises.lessons import lesson_questions

    assert lesson_questions(lesson00) == QUESTIONS
    assert all(len(q.hints) >= 2 and q.lesson == "00_lifecycle_overview" for q in QUESTIONS)


# --- lesson 00: wrong answers get specific feedback -------------------------------------------------
def _profile(share=lambda df: (df.label == "spam").mean(), dups=lambda df: df.text.duplicated().sum(),
             n=len):
    return lambda df: {"n_messages": n(df), "spam_share": share(df), "duplicate_texts": dups(df)}


def _timer(scale=1000.0, per_message=True, subset=None, calls=1):
    def latency_ms(model, texts):
        texts = texts[:subset] if subset else texts
        start = time.perf_counter()
        for _ in range(calls):
            model.predict(texts)
        total = (time.perf_counter() - start) * scale
        return total / len(texts) if per_message else total
    return latency_ms


def _metrics(pos="spam", scale=1.0, swap=False, safe=True):
    def spam_metrics(y_true, y_pred):
        y_true, y_pred = np.asarray(y_true) == pos, np.asarray(y_pred) == pos
        tp = (y_true & y_pred).sum()
        if safe:
            p = tp / y_pred.sum() if y_pred.sum() else 0.0
        else:
            p = int(tp) / int(y_pred.sum())
        r = tp / y_true.sum()
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if swap:
            p, r = r, p
        return {"accuracy": scale * (y_true == y_pred).mean(), "precision": scale * p, "recall": scale * r,
                "f1": scale * f1}
    return spam_metrics


def _alerts(use_abs=True, counts=False, fixed_tol=None, drop_last=False):
    def spam_rate_alerts(days, baseline, tolerance):
        tol = fixed_tol if fixed_tol is not None else tolerance
        out = []
        for day in days:
            value = sum(x == "spam" for x in day) / (400 if counts else len(day))
            diff = value - baseline
            out.append((abs(diff) if use_abs else diff) > tol)
        return out[:-1] if drop_last else out
    return spam_rate_alerts


def _validator(skip=(), strict_columns=True):
    def validate_batch(df):
        problems = []
        if strict_columns and "text" not in df.columns:
            return ["no text column"]
        if "empty" not in skip and (df.text == "").any():
            problems.append("empty")
        if "spaces" not in skip and df.text.str.strip().eq("").any():
            problems.append("blank")
        if "missing" not in skip and df.label.isna().any():
            problems.append("missing label")
        if "unknown" not in skip and (~df.label.dropna().isin(["ham", "spam"])).any():
            problems.append("unknown label")
        return problems
    return validate_batch


WRONG = [
    (lesson00.q1, lambda df: [len(df)], "should return a dict"),
    (lesson00.q1, lambda df: {"n_messages": len(df)}, "lacks the key(s) 'spam_share', 'duplicate_texts'"),
    (lesson00.q1, _profile(share=lambda df: 100 * (df.label == "spam").mean()), "a percentage"),
    (lesson00.q1, _profile(share=lambda df: (df.label == "ham").mean()), "share of ham"),
    (lesson00.q1, _profile(share=lambda df: (df.label == "spam").sum()), "a count"),
    (lesson00.q1, _profile(dups=lambda df: df.text.duplicated(keep=False).sum()), "counts every copy"),
    (lesson00.q1, _profile(n=lambda df: df.text.nunique()), "number of distinct texts"),
    (lesson00.q1, lambda df: {"n_messages": 4862, "spam_share": 642 / 4862, "duplicate_texts": 328},
     "do not type the numbers in"),
    (lesson00.q1, lambda df: {"n_messages": len(df), "spam_share": df["lable"].mean(), "duplicate_texts": 0},
     "KeyError: 'lable'"),
    (lesson00.q2, _timer(scale=1.0), "looks like seconds"),
    (lesson00.q2, _timer(per_message=False), "whole batch"),
    (lesson00.q2, _timer(subset=50), "model.predict saw 50 of the 300"),
    (lesson00.q2, lambda model, texts: 0.5, "never called model.predict"),
    (lesson00.q2, lambda model, texts: model.predict(texts) and "fast", "one number"),
    (lesson00.q3, _metrics(pos="ham"), "class 'ham'"),
    (lesson00.q3, _metrics(scale=100.0), "a percentage"),
    (lesson00.q3, _metrics(swap=True), "swapped"),
    (lesson00.q3, _metrics(safe=False), "divide by zero"),
    (lesson00.q4, _alerts(use_abs=False), "A drop matters as much"),
    (lesson00.q4, _alerts(counts=True), "compare rates"),
    (lesson00.q4, _alerts(fixed_tol=0.05), "Use the tolerance argument"),
    (lesson00.q4, _alerts(drop_last=True), "return one per day"),
    (lesson00.q5, lambda df: ["looks fine"], "clean batch of 300 real messages was flagged"),
    (lesson00.q5, lambda df: None, "should return a list"),
    (lesson00.q5, _validator(skip=("empty", "spaces")), "empty or only spaces"),
    (lesson00.q5, _validator(skip=("missing", "unknown")), "two labels are missing"),
    (lesson00.q5, _validator(skip=("unknown",)), "'Spam' and 'spam '"),
    (lesson00.q5, _validator(strict_columns=False), "must report the problem, not crash"),
]


@pytest.mark.parametrize("q, answer, feedback", WRONG, ids=[f"{q.name}-{i}" for i, (q, _, _) in enumerate(WRONG)])
def test_a_wrong_answer_gets_specific_feedback(q, answer, feedback):
    status, message = q.evaluate(answer)
    assert status == "failed"
    assert feedback in message, message


def test_wrong_answers_shown_in_a_notebook_do_not_raise(capsys):
    for q, answer, _ in WRONG[:3] + WRONG[-3:]:
        assert q.check(answer) is False
    assert "Traceback" not in capsys.readouterr().out


def test_progress_file_is_json_after_checks(tmp_path):
    lesson00.q4.check(_alerts())
    data = json.loads((tmp_path / "home" / "progress.json").read_text())
    assert data["lessons"]["00_lifecycle_overview"]["checks"]["q4"]["passed"] is True


# --- the lesson-module convention: QUESTIONS and a quiz file, clear errors otherwise ---------------
@pytest.fixture
def fake_lesson(monkeypatch):
    """Install a module as mlkit.exercises.lesson98 (lesson "98_demo") for one test."""
    import sys
    import types

    def install(**attrs):
        module = types.ModuleType("mlkit.exercises.lesson98")
        module.LESSON = "98_demo"
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, "mlkit.exercises.lesson98", module)
        return module
    return install


def _q(name="q1"):
    return Question("98_demo", name, "Square", answer="square", ask=_ask_square, judge=_judge_square)


def test_a_lesson_module_without_questions_says_what_to_add(fake_lesson):
    from mlkit.exercises.lessons import LessonError, lesson_questions

    module = fake_lesson(q1=_q("q1"), q2=_q("q2"))
    with pytest.raises(LessonError, match=r"has no QUESTIONS list\. Add.*QUESTIONS = \[q1, q2\]"):
        lesson_questions(module)
    module.QUESTIONS = [module.q1]
    with pytest.raises(LessonError, match="defines q2 but QUESTIONS does not list it"):
        lesson_questions(module)
    module.QUESTIONS = [module.q1, module.q1]
    with pytest.raises(LessonError, match="'q1' is used twice"):
        lesson_questions(module)
    module.QUESTIONS = [module.q2, module.q1]
    assert lesson_questions(module) == [module.q2, module.q1], "the list's order, not the definition order"


def test_a_lesson_module_with_an_old_python_quiz_says_where_to_move_it(fake_lesson):
    from mlkit.exercises import quiz
    from mlkit.exercises.lessons import LessonError

    fake_lesson(q1=_q(), QUESTIONS=[], QUIZ=[quiz.SingleChoice(prompt="?", options=["a", "b"], answer=0,
                                                                explanation="e")])
    with pytest.raises(LessonError, match=r"defines QUIZ = \[\.\.\.\] in Python.*quizzes/98_demo\.toml"):
        quiz.questions("98_demo")


def test_progress_names_a_broken_lesson_module_and_still_counts_the_others(fake_lesson, monkeypatch):
    import pkgutil

    from mlkit.exercises import progress

    fake_lesson(q1=_q())
    real = pkgutil.iter_modules

    def with_fake(path=None, prefix=""):
        yield from real(path, prefix)
        yield pkgutil.ModuleInfo(None, "lesson98", False)

    monkeypatch.setattr(pkgutil, "iter_modules", with_fake)
    text = progress.summary_text()
    assert "00_lifecycle_overview  0/5" in text
    assert "lesson98: mlkit/exercises/lesson98.py has no QUESTIONS list" in text
