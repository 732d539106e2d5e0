"""mlkit.exercises.lesson04: the reference answers pass; typical mistakes get specific feedback."""

from __future__ import annotations

import hashlib
import random
import zlib

import numpy as np
import pytest

pytest.importorskip("fastapi")

from exercise_checks import expect as _expect
from exercise_checks import hidden_verdict

from mlkit.exercises import lesson04 as ex
from mlkit.exercises import quiz


def test_module_contract():
    assert ex.LESSON == "04_deployment"
    assert [ex.q1, ex.q2, ex.q3, ex.q4] == ex.QUESTIONS
    assert [q.id for q in quiz.questions("04_deployment")] == ["readiness", "strategy", "sticky", "p99", "rollback_rule"]


# --- q1 ----------------------------------------------------------------------------------------
def _model(min_length=1, max_length=2000, bounded=True):
    from pydantic import BaseModel, Field

    def make():
        class Request(BaseModel):
            text: str = Field(min_length=min_length, max_length=max_length)
            threshold: float = Field(0.5, ge=0, le=1, allow_inf_nan=False) if bounded else 0.5

        return Request

    return make


def test_q1():
    _expect(ex.q1, _model(), "passed")
    _expect(ex.q1, _model(min_length=0), says="Field(min_length=1)")
    _expect(ex.q1, _model(max_length=10_000), says="max_length")
    _expect(ex.q1, _model(bounded=False), says="NaN")
    _expect(ex.q1, lambda: dict, says="pydantic model class")


# --- q2 ----------------------------------------------------------------------------------------
def test_q2():
    _expect(ex.q2, lambda u, w: "canary" if zlib.crc32(u.encode()) / 2**32 < w else "stable", "passed")
    _expect(ex.q2, lambda u, w: "canary" if random.random() < w else "stable", says="second time")
    salted = lambda u, w: ("canary" if int(hashlib.md5(f"{u}{w}".encode()).hexdigest(), 16) / 16**32 < w  # noqa: E731
                           else "stable")
    _expect(ex.q2, salted, says="back to stable")
    _expect(ex.q2, lambda u, w: "canary" if zlib.crc32(u.encode()) / 2**32 < w / 2 else "stable", says="not about")
    _expect(ex.q2, lambda u, w: zlib.crc32(u.encode()) / 2**32 < w, says="'canary' or 'stable'")


# --- q3 ----------------------------------------------------------------------------------------
def test_q3():
    def right(n, e, p99, slo):
        return n >= slo.min_requests and (e / n > slo.max_error_rate or p99 > slo.max_p99_ms)

    _expect(ex.q3, right, "passed")
    _expect(ex.q3, lambda n, e, p, s: e / n > s.max_error_rate or p > s.max_p99_ms, says="no verdict yet")
    _expect(ex.q3, lambda n, e, p, s: n >= s.min_requests and (e > s.max_error_rate or p > s.max_p99_ms),
            says="error *rate*")
    _expect(ex.q3, lambda n, e, p, s: n >= s.min_requests and (e / n >= s.max_error_rate or p > s.max_p99_ms),
            says="not over a 2 % limit")
    _expect(ex.q3, lambda n, e, p, s: 1, says="True (roll back) or False")


# --- q4 ----------------------------------------------------------------------------------------
def test_q4():
    _expect(ex.q4, lambda xs: float(np.percentile(xs, 99)), "passed")
    _expect(ex.q4, lambda xs: sorted(xs)[min(len(xs) - 1, int(np.ceil(0.99 * len(xs))) - 1)], "passed")  # nearest rank
    _expect(ex.q4, lambda xs: float(np.percentile(xs, 0.99)), says="percent (99)")
    _expect(ex.q4, lambda xs: float(np.mean(xs)), says="the mean")
    _expect(ex.q4, lambda xs: xs[int(0.99 * (len(xs) - 1))], says="sort it first")

    def in_place(xs):
        xs.sort()
        return xs[int(0.99 * (len(xs) - 1))]

    _expect(ex.q4, in_place, says="changed the list")
    _expect(ex.q4, lambda xs: None, says="one number")


def test_quiz_answers(home):
    pytest.importorskip("ipywidgets")
    q = quiz.Quiz("04_deployment")
    q.answer(0, 1)
    q.answer(1, 2)
    q.answer(2, [0, 1, 3])
    assert "median" in q.answer(3, "5")
    q.answer(3, "300")
    q.answer(4, "error rate and p99 latency, then roll back")
    assert all(it.correct for it in q.items), [it.feedback.value for it in q.items]



def test_right_answers_pass_a_hidden_case():
    def right(n, e, p99, slo):
        return n >= slo.min_requests and (e / n > slo.max_error_rate or p99 > slo.max_p99_ms)

    for q, answer in ((ex.q1, _model()), (ex.q2, lambda u, w: "canary" if zlib.crc32(u.encode()) / 2**32 < w else "stable"),
                      (ex.q3, right), (ex.q4, lambda xs: float(np.percentile(xs, 99)))):
        verdict = hidden_verdict(q, answer, seed=11)
        assert verdict.status == "passed", (q.name, verdict)
    fixed = hidden_verdict(ex.q3, lambda n, e, p, s: n >= 20 and (e / n > 0.02 or p > 100), seed=11)
    assert fixed.status == "failed" and "hidden case" in fixed.message, "an SLO typed in fails another SLO"
