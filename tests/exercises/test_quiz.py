"""The quiz: grading of each kind, and the widget driven headless (simulated clicks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exercise_checks import front_end_classes

from mlkit.exercises import progress, quiz
from mlkit.exercises.quiz import MultipleChoice, Numeric, ShortText, SingleChoice

ROOT = Path(__file__).resolve().parents[2]
LESSON = "00_lifecycle_overview"
QUIZ00 = quiz.questions(LESSON)


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("MLKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLKIT_STRICT", raising=False)


def right_answer(q):
    """The response a learner who knows the answer would give."""
    if isinstance(q, SingleChoice):
        return q.answer
    if isinstance(q, MultipleChoice):
        return list(q.answers)
    if isinstance(q, Numeric):
        return str(q.answer)
    return " and ".join(k if isinstance(k, str) else k[0] for k in q.keywords).replace("*", "")


# --- grading ---------------------------------------------------------------------------------------
def test_single_choice_gives_the_feedback_of_the_wrong_option():
    q = SingleChoice(prompt="?", options=["a", "b", "c"], answer=2, explanation="e", feedback={0: "not a"})
    assert q.grade(2) == (True, "")
    assert q.grade(0) == (False, "not a")
    assert q.grade(1)[0] is False and q.grade(1)[1]
    with pytest.raises(ValueError, match="Pick one"):
        q.grade(None)


def test_multiple_choice_counts_wrong_ticks_and_missed_options():
    q = MultipleChoice(prompt="?", options=list("abcd"), answers=[0, 2], explanation="e", feedback={3: "d is not"})
    assert q.grade([2, 0])[0] is True
    ok, msg = q.grade([0, 3])
    assert not ok and "1 of your ticks is wrong" in msg and "1 right option not ticked" in msg and "d is not" in msg
    with pytest.raises(ValueError):
        q.grade([])


@pytest.mark.parametrize("typed, correct", [("86.8", True), ("86,9 %", True), (" 86.6 ", True),
                                            ("87.2", False), ("13.2", False)])
def test_numeric_accepts_the_tolerance_and_common_formats(typed, correct):
    q = QUIZ00[-1]
    assert q.grade(typed)[0] is correct


def test_numeric_names_the_typical_wrong_values_and_refuses_text():
    q = QUIZ00[-1]
    assert "spam share" in q.grade("13.2")[1]
    assert "percent" in q.grade("0.868")[1]
    assert "too high" in q.grade("95")[1]
    with pytest.raises(ValueError, match="Type a number"):
        q.grade("about eighty")


def test_short_text_matches_whole_words_phrases_and_plurals():
    q = ShortText(prompt="?", keywords=[("blue green", "bluegreen"), "canary", "shadow"], need=2, explanation="e")
    assert q.grade("Blue/Green and canaries")[0] is True
    assert q.grade("shadow deployment, a CANARY release")[0] is True
    ok, msg = q.grade("just deploy it on Friday")
    assert not ok and "0 of the 2" in msg
    assert q.grade("blue, then a canary")[1] == "Your answer names 1 of the 2 key ideas we look for."
    assert not q.grade("a bluegreenish canaryish shadowy rollout")[0], "whole words only, not prefixes"
    assert not q.grade("blueberry and canary")[0]
    with pytest.raises(ValueError):
        q.grade("   ")


def test_an_ordered_answer_must_name_the_stages_in_order():
    stages = next(q for q in quiz.questions("07_capstone_spam") if q.id == "six_stages")
    assert stages.ordered and stages.need == 6
    assert stages.grade("Data collection, training, evaluation, deployment, monitoring, retraining.")[0] is True
    ok, msg = stages.grade("Training, data, evaluation, deployment, monitoring, retraining")
    assert not ok and "not in order" in msg
    assert not stages.grade("data, training, evaluation, deployment, monitoring")[0]


# --- lesson 00's quiz ---------------------------------------------------------------------------------
def test_lesson00_quiz_covers_the_seven_self_check_questions_with_every_kind():
    ids = [q.id for q in QUIZ00]
    for topic in ("stages", "versioning", "model_metrics", "deployment_strategies", "why_monitoring",
                  "training_infra", "data_drift"):
        assert topic in ids
    assert {q.kind for q in QUIZ00} == {"single", "multiple", "numeric", "text"}
    assert len(set(ids)) == len(ids)
    assert all(q.explanation for q in QUIZ00)


@pytest.mark.parametrize("q", QUIZ00, ids=lambda q: q.id)
def test_every_quiz_question_accepts_its_right_answer(q):
    assert q.grade(right_answer(q))[0] is True


def test_answers_are_not_in_any_notebook():
    texts = [p.read_text() for folder in ("notebooks", "solutions", "exercises") for p in (ROOT / folder).glob("*.ipynb")]
    for q in QUIZ00:
        assert not any(q.explanation in t for t in texts), q.id


# --- the widget, without a front end --------------------------------------------------------------------
def _states(widget) -> str:
    """Everything the widget tree would send to the browser."""
    import ipywidgets as w

    seen, stack, out = set(), [widget], []
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        out.append(json.dumps(x.get_state(), default=str))
        for child in getattr(x, "children", ()):
            if isinstance(child, w.Widget):
                stack.append(child)
    return "\n".join(out)


def test_quiz_widget_has_the_css_class_and_sends_no_answers_before_answering():
    qz = quiz.Quiz(LESSON)
    assert "mlkit-quiz" in front_end_classes(qz.box)
    assert len(qz.items) == len(QUIZ00)
    state = _states(qz.box)
    for q in QUIZ00:
        assert q.explanation not in state


def test_right_answer_click_shows_explanation_and_saves_progress():
    qz = quiz.Quiz(LESSON)
    i = next(i for i, q in enumerate(qz.questions) if q.id == "versioning")
    feedback = qz.answer(i, qz.questions[i].answer)
    assert "Right" in feedback and "roll back" in feedback
    assert "1 of 8 right" in qz.score.value
    saved = progress.load()["lessons"][LESSON]["quiz"]["versioning"]
    assert saved["correct"] is True and saved["response"] == 1 and saved["attempts"] == 1


def test_wrong_answer_click_shows_its_feedback_and_the_explanation():
    qz = quiz.Quiz(LESSON)
    i = next(i for i, q in enumerate(qz.questions) if q.id == "data_drift")
    feedback = qz.answer(i, 3)
    assert "Not quite" in feedback and "concept drift" in feedback and "feature distributions" in feedback
    assert progress.load()["lessons"][LESSON]["quiz"]["data_drift"]["correct"] is False
    assert "0 of 8 right" in qz.score.value


def test_every_kind_of_input_works_through_clicks():
    qz = quiz.Quiz(LESSON)
    for i, q in enumerate(qz.questions):
        assert "Right" in qz.answer(i, right_answer(q)), q.id
    assert f"{len(qz.items)} of {len(qz.items)} right" in qz.score.value
    rows = {r["lesson"]: r for r in progress.summary()}
    assert rows[LESSON]["quiz_right"] == rows[LESSON]["quiz_total"] == len(QUIZ00)


def test_clicking_without_an_answer_or_with_bad_input_never_raises():
    qz = quiz.Quiz(LESSON)
    for item in qz.items:
        item.button.click()  # nothing selected / typed
        assert item.feedback.value and "Right" not in item.feedback.value
    numeric = next(i for i, q in enumerate(qz.questions) if q.kind == "numeric")
    assert "Type a number" in qz.answer(numeric, "lots")
    assert not progress.progress_path().exists(), "no answer, nothing saved"


def test_show_displays_headless(capsys):
    quiz.show(LESSON)  # outside a kernel IPython's display prints the widget's repr
    assert "VBox" in capsys.readouterr().out


def test_unknown_lesson_says_what_is_missing():
    with pytest.raises(LookupError, match="No exercises or quiz for lesson '42_nothing'"):
        quiz.Quiz("42_nothing")
    with pytest.raises(LookupError, match="is for lesson '00_lifecycle_overview'"):
        quiz.Quiz("00_other")


def test_a_new_quiz_mentions_answers_saved_earlier():
    quiz.Quiz(LESSON).answer(1, 1)
    again = quiz.Quiz(LESSON)
    assert "Saved from earlier sessions: 1 of 8 right" in again.score.value
    assert "0 of 8 right" in again.score.value
