"""Lesson 05 exercises: metrics, alerts and drift thresholds, each checked by running it.

* q1 ``message_length_histogram`` and ``p95_from_buckets``: add a histogram metric with the
  Prometheus client, and compute p95 from its buckets as ``histogram_quantile`` does;
* q2 ``error_alert``: a burn-rate alert rule that fires on an error fault and not on
  healthy traffic, a blip or a latency fault;
* q3 ``pick_threshold``: a drift threshold that keeps false alarms under a budget and
  still catches a real shift.

Used by ``solutions/05_monitoring.ipynb`` and its learner copy ``exercises/05_monitoring.ipynb``.
The quiz is ``mlkit/exercises/quizzes/05_monitoring.toml``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from numbers import Real
from typing import Any

from mlkit.exercises.core import Mistake, Question

LESSON = "05_monitoring"
INF = math.inf


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


# --- q1: a histogram metric and p95 from its buckets ----------------------------------------------
_KNOWN = [  # (buckets, q) with the answer histogram_quantile gives
    ([(10.0, 90), (20.0, 100), (INF, 100)], "interpolate inside the (10, 20] bucket: 10 + 10 x 5/10 = 15"),
    ([(50.0, 96), (100.0, 100), (INF, 100)], "rank 95 is in the lowest bucket, which starts at 0"),
    ([(5.0, 10), (10.0, 50), (INF, 100)], "rank 95 is in the +Inf bucket: return the highest finite bound"),
    ([(1.0, 0), (2.0, 40), (4.0, 80), (8.0, 100), (INF, 100)], "interpolate inside the (4, 8] bucket"),
]


def _check_q1(message_length_histogram, p95_from_buckets) -> str:
    import numpy as np
    from prometheus_client import CollectorRegistry, generate_latest

    from mlkit.exercises import fixtures
    from mlkit.monitoring import scrape

    for buckets, why in _KNOWN:
        want = scrape.histogram_quantile(0.95, buckets)
        got = p95_from_buckets(list(buckets))
        if not _is_number(got):
            raise Mistake(f"p95_from_buckets({buckets}) returned {got!r}; return a number.")
        if abs(got - want) > 1e-9:
            hint = ("That is a bucket bound: interpolate linearly inside the bucket. "
                    if got in [le for le, _ in buckets] else "")
            raise Mistake(f"p95_from_buckets({buckets}) gave {got:g}; histogram_quantile gives {want:g}. "
                          f"{hint}Here: {why}.")
    texts = list(fixtures.sms().text)
    registry = CollectorRegistry()
    message_length_histogram(texts, registry)
    snap = scrape.parse(generate_latest(registry).decode())
    name = "sms_message_length_chars"
    if not snap.select(f"{name}_count"):
        found = sorted({s.name for s in snap.samples}) or "nothing"
        raise Mistake(f"The registry has no histogram called {name!r} (it has {found}): "
                      f"Histogram('{name}', '...', buckets=[...], registry=registry).")
    count, total = snap.value(f"{name}_count"), snap.value(f"{name}_sum")
    if count != len(texts):
        raise Mistake(f"The histogram counted {count:.0f} observations for {len(texts)} messages: observe each once.")
    lengths = np.array([len(t) for t in texts])
    if abs(total - lengths.sum()) > 0.5:
        raise Mistake(f"The observations add up to {total:.0f}, but the messages have {lengths.sum()} characters: "
                      "observe len(text), the number of characters.")
    buckets = snap.buckets(name)
    if len(buckets) < 6:
        raise Mistake(f"Only {len(buckets) - 1} finite bucket(s): with so few, p95 can be off by hundreds of "
                      "characters. Use bounds that cover 0-200 characters in steps of 20 or so.")
    est, true = p95_from_buckets(buckets), float(np.percentile(lengths, 95))
    width = max(scrape.bucket_width(v, buckets) for v in (est, true))
    if abs(est - true) > width:
        raise Mistake(f"p95 from your buckets is {est:.1f} characters, the exact p95 is {true:.1f}: more than a "
                      f"bucket ({width:g}) apart. Are the bounds sorted, and do they cover the messages' lengths?")
    return (f"p95 from {len(buckets) - 1} buckets: {est:.1f} characters; exact: {true:.1f} "
            f"(the bucket there is {width:g} wide).")


q1 = Question(
    LESSON, "q1", "A histogram metric, and p95 from its buckets",
    answer=("message_length_histogram", "p95_from_buckets"), check=_check_q1,
    hints=[
        "Histogram(name, documentation, buckets=[...], registry=registry), then .observe(len(text)) per message. "
        "For p95: the rank is 0.95 x the +Inf bucket's count; find the first bucket whose count reaches it.",
        "Inside that bucket, interpolate: start + (end - start) * (rank - count_before) / (count - count_before); "
        "the lowest bucket starts at 0, and a rank in the +Inf bucket returns the highest finite bound.",
        "Bounds such as list(range(20, 220, 20)) cover almost every SMS (160 characters is the classic limit).",
    ],
)


# --- q2: an alert rule that fires on the fault and not on healthy traffic -------------------------
@lru_cache(maxsize=1)
def _histories() -> dict[str, list]:
    from mlkit.monitoring import scrape

    healthy = (20, 0.0, 0.0)
    return {
        "healthy": scrape.simulated_history([healthy, (15, 0.0, 0.0)], seed=1),
        "error fault": scrape.simulated_history([healthy, (15, 0.3, 0.0)], seed=2),
        "latency fault": scrape.simulated_history([healthy, (15, 0.0, 0.3)], seed=3),
        "one-second blip": scrape.simulated_history([healthy, (1, 1.0, 0.0), (14, 0.0, 0.0)], seed=4),
        "fault fixed": scrape.simulated_history([healthy, (15, 0.3, 0.0), (4, 0.0, 0.0)], seed=5),
    }


def _states(error_alert, history) -> list[bool]:
    import numpy as np

    out = []
    for i in range(2, len(history) + 1):
        v = error_alert(history[:i])
        if not isinstance(v, (bool, np.bool_)):
            raise Mistake(f"error_alert returned {v!r} ({type(v).__name__}); return True or False.")
        out.append(bool(v))
    return out


def _check_q2(error_alert) -> str:
    h = _histories()
    s = {name: _states(error_alert, hist) for name, hist in h.items()}
    if not s["error fault"][-1]:
        raise Mistake("error_alert stays silent after 15 s of 30 % errors. The burn rate is the error share "
                      "divided by the budget (1 - 0.99 = 0.01): 30 % errors burn it 30 times too fast.")
    if any(s["healthy"]):
        raise Mistake("error_alert fires on healthy traffic (no errors at all): compare the burn rate with 14.4.")
    if any(s["latency fault"]):
        raise Mistake("error_alert fires on a latency fault: count requests with outcome='error' only.")
    if any(s["one-second blip"]):
        raise Mistake("error_alert pages for a one-second blip of errors: require the burn rate over the long "
                      "window (12 s) to be high as well; one bad second in twelve is not a fault.")
    if s["fault fixed"][-1]:
        raise Mistake("error_alert still fires 4 s after the errors stopped: require the short window (3 s) too, "
                      "so the alert stops soon after the fix.")
    first = s["error fault"].index(True) + 2 - 21  # seconds into the fault
    return f"Fires {first} s into the error fault, stays quiet on healthy traffic, a latency fault and a blip, and stops after the fix."


q2 = Question(
    LESSON, "q2", "An alert rule that fires on the fault, not on healthy traffic", answer="error_alert",
    check=_check_q2,
    hints=[
        "For a window of w seconds, take the last snapshot and the latest one at least w seconds older; "
        "metrics.increase(old, new, 'mlkit_requests_total', outcome='error') counts the errors in between.",
        "burn = (errors / requests) / 0.01 (0 when there were no requests). Fire when burn > 14.4 over 12 s AND over 3 s.",
        "old = [s for s in history if history[-1].at - s.at >= w]; old = old[-1] if old else history[0]",
    ],
)


# --- q3: a drift threshold that trades sensitivity against false alarms -------------------------
@lru_cache(maxsize=1)
def _scores(n: int = 200, window: int = 168, shift: float = 0.25):
    """PSI of ``temp`` for ``n`` random summer windows without drift and ``n`` with ``temp``
    shifted by ``shift`` standard deviations; two independent sets (fit, test)."""
    import numpy as np

    from mlkit.course import datasets
    from mlkit.monitoring import drift

    bikes = datasets.load_bike_sharing()
    summer = bikes[bikes.season == 3].temp.to_numpy()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(summer))
    ref, rest = summer[idx[:1000]], summer[idx[1000:]]
    sets = []
    for _ in range(2):
        wins = [rest[rng.choice(len(rest), window, replace=False)] for _ in range(n)]
        null = np.array([drift.psi(ref, w) for w in wins])
        shifted = np.array([drift.psi(ref, w + shift * ref.std()) for w in wins])
        sets.append((null, shifted))
    return sets


def _check_q3(pick_threshold) -> str:
    import numpy as np

    (null, shifted), (null2, shifted2) = _scores()
    t = pick_threshold(null.copy(), shifted.copy(), 0.05)
    if not _is_number(t):
        raise Mistake(f"pick_threshold returned {t!r}; return the threshold, a number (drift when PSI >= it).")
    fa, caught = float(np.mean(null >= t)), float(np.mean(shifted >= t))
    if fa > 0.05 + 1 / len(null):
        hint = (" It looks like a percentile of the drifted scores: the false-alarm budget is about the windows "
                "WITHOUT drift." if abs(t - np.quantile(shifted, 0.05)) < 1e-9 or t < np.median(null) else "")
        raise Mistake(f"With threshold {t:.4g}, {fa:.0%} of the no-drift windows raise an alarm: more than the 5 % "
                      f"budget.{hint}")
    best = max(float(np.mean(shifted >= s)) for s in np.append(null, np.inf) if np.mean(null >= s) <= 0.05)
    if caught < best - 0.03:
        raise Mistake(f"Threshold {t:.4g} keeps false alarms at {fa:.0%} but catches only {caught:.0%} of the shifted "
                      f"windows; a lower threshold within the budget catches {best:.0%}. The largest no-drift score "
                      "is too cautious: the budget allows 5 % of them above the threshold.")
    fa2, caught2 = float(np.mean(null2 >= t)), float(np.mean(shifted2 >= t))
    return (f"Threshold {t:.4g}: {fa:.0%} false alarms and {caught:.0%} of 0.25-σ shifts caught here; on fresh "
            f"windows {fa2:.0%} and {caught2:.0%} (Evidently's default 0.1 would give "
            f"{np.mean(null2 >= 0.1):.0%} and {np.mean(shifted2 >= 0.1):.0%}).")


q3 = Question(
    LESSON, "q3", "A drift threshold: sensitivity against false alarms", answer="pick_threshold",
    check=_check_q3,
    hints=[
        "A window raises an alarm when its score is >= the threshold. The false-alarm rate is the share of the "
        "no-drift scores at or above it.",
        "You want the lowest threshold whose false-alarm rate stays within the budget: a high percentile of the "
        "no-drift scores (the 95th for a 5 % budget).",
        "np.quantile(null_scores, 1 - max_false_alarm, method='higher') is just above 95 % of them.",
    ],
)

QUESTIONS = [q1, q2, q3]
