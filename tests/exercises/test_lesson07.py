"""mlkit.exercises.lesson07: the reference answers pass; typical mistakes get specific feedback."""

from __future__ import annotations

import numpy as np
import pytest
from exercise_checks import expect as _expect
from exercise_checks import hidden_verdict

from mlkit.evaluation import metrics
from mlkit.exercises import lesson07 as ex
from mlkit.exercises import quiz
from mlkit.monitoring import drift


@pytest.fixture(scope="module")
def ref(solutions):
    return solutions(ex.LESSON, "precision_at_recall", "hold_out_campaign", "campaign_alarm",
                     np=np, metrics=metrics, drift=drift)


def test_module_contract():
    assert ex.LESSON == "07_capstone_spam"
    assert [ex.q1, ex.q2, ex.q3] == ex.QUESTIONS
    assert [q.id for q in quiz.questions("07_capstone_spam")] == [
        "six_stages", "why_versioning", "system_vs_model_metrics", "deployment_strategies", "why_monitoring",
        "training_infrastructure", "data_drift"]


# --- q1 ----------------------------------------------------------------------------------------
def test_q1(ref):
    _expect(ex.q1, ref["precision_at_recall"], status="passed", says="At recall >= 0.9")

    def at(pick):
        def answer(y, p, r):
            g = metrics.at_threshold(y, p, np.unique(p))
            return pick(g, r)
        return answer

    at_half = lambda y, p, r: (0.5, float(y[p >= 0.5].mean()))  # noqa: E731 - the default threshold
    _expect(ex.q1, at_half, says="below the required")
    returns_recall = at(lambda g, r: (float(g["threshold"][0]), float(g["recall"][0])))
    _expect(ex.q1, returns_recall, says="That is the recall")
    lowest = at(lambda g, r: (float(g["threshold"][0]), float(g["precision"][0])))
    _expect(ex.q1, lowest, says="spam share")
    _expect(ex.q1, lambda y, p, r: tuple(100 * np.array(ref["precision_at_recall"](y, p, r))), says="percentage")
    _expect(ex.q1, lambda y, p, r: ref["precision_at_recall"](y, p, r)[1], says="tuple (threshold, precision)")


# --- q2 ----------------------------------------------------------------------------------------
def test_q2(ref):
    rule_mask = lambda df, rule, **kw: df.text.str.contains(rule, regex=True, **kw)  # noqa: E731
    _expect(ex.q2, ref["hold_out_campaign"], status="passed", says="spam messages held out")

    def split(mask_of):
        def answer(df, rule):
            m = mask_of(df, rule)
            return df[~m], df[m]
        return answer

    _expect(ex.q2, split(lambda df, r: rule_mask(df, r, case=False)), says="ham message")
    _expect(ex.q2, split(lambda df, r: rule_mask(df, r) & (df.label == "spam")), says="case-insensitively")
    _expect(ex.q2, split(lambda df, r: df.text.str.contains("te?xt", case=False) & (df.label == "spam")),
            says="word boundaries")
    _expect(ex.q2, lambda df, r: (df, ref["hold_out_campaign"](df, r)[1]), says="exactly one side")
    _expect(ex.q2, lambda df, r: list(ref["hold_out_campaign"](df, r)), says="tuple (rest, campaign)")


# --- q3 ----------------------------------------------------------------------------------------
def test_q3(ref):
    _expect(ex.q3, ref["campaign_alarm"], status="passed", says="Fires on both campaign windows")
    _expect(ex.q3, lambda r, c: True, says="fires on every window")
    _expect(ex.q3, lambda r, c: False, says="Silent on")
    _expect(ex.q3, lambda r, c: "drift", says="return True (alarm) or False")


@pytest.mark.parametrize("name", [q.name for q in ex.QUESTIONS if q.hidden is not None])
def test_reference_answer_passes_a_hidden_case(name, ref):
    q = getattr(ex, name)
    verdict = hidden_verdict(q, *((ref[a]) for a in q.answers), seed=11)
    assert verdict.status == "passed", verdict
