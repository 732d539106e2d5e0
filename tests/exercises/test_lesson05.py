"""mlkit.exercises.lesson05: the reference answers pass; typical mistakes get specific feedback."""

from __future__ import annotations

import numpy as np
from exercise_checks import expect as _expect
from exercise_checks import hidden_verdict

from mlkit.exercises import lesson05 as ex
from mlkit.exercises import quiz
from mlkit.monitoring import scrape


def test_module_contract():
    assert ex.LESSON == "05_monitoring"
    assert [ex.q1, ex.q2, ex.q3] == ex.QUESTIONS
    assert [q.id for q in quiz.questions("05_monitoring")] == [
        "bucket_quantile", "burn_rate", "two_windows", "model_vs_system", "ks_large_n", "concept_drift"]


# --- q1 ----------------------------------------------------------------------------------------
def _histogram(buckets=tuple(range(20, 220, 20)), name="sms_message_length_chars", value=len, every=1):
    def make(texts, registry):
        from prometheus_client import Histogram

        h = Histogram(name, "length", buckets=buckets, registry=registry)
        for t in texts[::every]:
            h.observe(value(t))
        return h

    return make


def _p95(buckets):
    return scrape.histogram_quantile(0.95, buckets)


def test_q1():
    _expect(ex.q1, _histogram(), _p95, status="passed", says="exact: 160.0")
    _expect(ex.q1, _histogram(), lambda b: next(le for le, c in b if c >= 0.95 * b[-1][1]), says="bucket bound")
    _expect(ex.q1, _histogram(name="lengths"), _p95, says="no histogram called 'sms_message_length_chars'")
    _expect(ex.q1, _histogram(every=2), _p95, says="observe each once")
    _expect(ex.q1, _histogram(value=lambda t: len(t.split())), _p95, says="len(text)")
    _expect(ex.q1, _histogram(buckets=(100, 1000)), _p95, says="finite bucket")
    _expect(ex.q1, _histogram(), lambda b: "p95", says="return a number")


# --- q2 ----------------------------------------------------------------------------------------
def _burn(history, seconds):
    now = history[-1]
    older = [s for s in history if now.at - s.at >= seconds]
    start = older[-1] if older else history[0]
    total = scrape.increase(start, now, "mlkit_requests_total")
    errors = scrape.increase(start, now, "mlkit_requests_total", outcome="error")
    return errors / total / 0.01 if total else 0.0


def test_q2():
    _expect(ex.q2, lambda h: _burn(h, 12) > 14.4 and _burn(h, 3) > 14.4, status="passed", says="Fires")
    _expect(ex.q2, lambda h: _burn(h, 3) > 14.4, says="blip")
    _expect(ex.q2, lambda h: _burn(h, 12) > 14.4, says="short window")
    _expect(ex.q2, lambda h: _burn(h, 12) > 1000, says="burn rate is the error share")
    _expect(ex.q2, lambda h: _burn(h, 12) >= 0, says="healthy")
    slow = lambda h: scrape.window(h[max(0, len(h) - 13)], h[-1]).p99_ms > 100  # noqa: E731
    _expect(ex.q2, lambda h: slow(h) or (_burn(h, 12) > 14.4 and _burn(h, 3) > 14.4), says="latency fault")
    _expect(ex.q2, lambda h: "yes", says="True or False")


# --- q3 ----------------------------------------------------------------------------------------
def test_q3():
    _expect(ex.q3, lambda n, d, a=0.05: float(np.quantile(n, 1 - a, method="higher")), status="passed")
    _expect(ex.q3, lambda n, d, a=0.05: float(np.max(n)), says="too cautious")
    _expect(ex.q3, lambda n, d, a=0.05: float(np.quantile(d, 0.05)), says="WITHOUT drift")
    _expect(ex.q3, lambda n, d, a=0.05: 0.1, says="more than the 5 % budget")
    _expect(ex.q3, lambda n, d, a=0.05: None, says="returned None")
    _expect(ex.q3, lambda n, d, a=0.05: "0.2", says="a number")



def test_right_answers_pass_a_hidden_case():
    for q, answer in ((ex.q1, (_histogram(), _p95)), (ex.q2, (lambda h: _burn(h, 12) > 14.4 and _burn(h, 3) > 14.4,)),
                      (ex.q3, (lambda n, d, a=0.05: float(np.quantile(n, 1 - a, method="higher")),))):
        verdict = hidden_verdict(q, *answer, seed=11)
        assert verdict.status == "passed", (q.name, verdict)
