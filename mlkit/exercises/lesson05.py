"""Lesson 05 exercises: metrics, alerts and drift thresholds, each checked by running it.

* q1 ``message_length_histogram`` and ``p95_from_buckets``: add a histogram metric with the
  Prometheus client, and compute p95 from its buckets as ``histogram_quantile`` does;
* q2 ``error_alert``: a burn-rate alert rule that fires on an error fault and not on
  healthy traffic, a blip or a latency fault;
* q3 ``pick_threshold``: a drift threshold that keeps false alarms under a budget and
  still catches a real shift.

Each check is an ``ask`` (runs the learner's functions, records what they returned: for q1
the registry's exposition text, which the judge parses itself) and a ``judge`` (decides from
that record); ``hidden`` draws the inputs a grader adds. Used by
``solutions/05_monitoring.ipynb`` and its learner copy ``exercises/05_monitoring.ipynb``. The
quiz is ``mlkit/exercises/quizzes/05_monitoring.toml``.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache
from numbers import Real
from typing import Any

from mlkit.exercises.answers import call, kind
from mlkit.exercises.question import Mistake, Question

LESSON = "05_monitoring"
INF = math.inf
NAME = "sms_message_length_chars"


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


# --- q1: a histogram metric and p95 from its buckets ----------------------------------------------
_KNOWN = [  # (buckets, q) with the answer histogram_quantile gives
    ([(10.0, 90), (20.0, 100), (INF, 100)], "interpolate inside the (10, 20] bucket: 10 + 10 x 5/10 = 15"),
    ([(50.0, 96), (100.0, 100), (INF, 100)], "rank 95 is in the lowest bucket, which starts at 0"),
    ([(5.0, 10), (10.0, 50), (INF, 100)], "rank 95 is in the +Inf bucket: return the highest finite bound"),
    ([(1.0, 0), (2.0, 40), (4.0, 80), (8.0, 100), (INF, 100)], "interpolate inside the (4, 8] bucket"),
]
_Q1_EXAMPLE = {"known": [[[list(b) for b in buckets], why] for buckets, why in _KNOWN], "texts": None}


def _q1_texts(case: dict) -> list[str]:
    from mlkit.exercises import fixtures

    texts = fixtures.sms().text
    if case["texts"] is not None:
        texts = texts.sample(case["texts"][0], random_state=case["texts"][1])
    return list(texts)


def _ask_q1(case: dict, message_length_histogram, p95_from_buckets) -> dict:
    from prometheus_client import CollectorRegistry, generate_latest

    from mlkit.monitoring import scrape

    known = [call(p95_from_buckets, [tuple(b) for b in buckets]) for buckets, _ in case["known"]]
    registry = CollectorRegistry()
    made = call(message_length_histogram, _q1_texts(case), registry)
    out = {"known": known, "made": made}
    if made.ok:
        out["exposition"] = generate_latest(registry).decode()
        buckets = scrape.parse(out["exposition"]).buckets(NAME)
        out["own"] = call(p95_from_buckets, buckets) if buckets else None
    return out


def _judge_q1(got: dict, case: dict) -> str:
    import numpy as np

    from mlkit.monitoring import scrape

    for (buckets, why), outcome in zip(case["known"], got["known"]):
        buckets = [tuple(b) for b in buckets]
        want, mine = scrape.histogram_quantile(0.95, buckets), outcome.value
        if not _is_number(mine):
            raise Mistake(f"p95_from_buckets({buckets}) returned {mine!r}; return a number.")
        if abs(mine - want) > 1e-9:
            hint = ("That is a bucket bound: interpolate linearly inside the bucket. "
                    if mine in [le for le, _ in buckets] else "")
            raise Mistake(f"p95_from_buckets({buckets}) gave {mine:g}; histogram_quantile gives {want:g}. "
                          f"{hint}Here: {why}.")
    got["made"].value  # noqa: B018 - an error raised by message_length_histogram is the answer
    texts = _q1_texts(case)
    snap = scrape.parse(str(got["exposition"]))
    if not snap.select(f"{NAME}_count"):
        found = sorted({s.name for s in snap.samples}) or "nothing"
        raise Mistake(f"The registry has no histogram called {NAME!r} (it has {found}): "
                      f"Histogram('{NAME}', '...', buckets=[...], registry=registry).")
    count, total = snap.value(f"{NAME}_count"), snap.value(f"{NAME}_sum")
    if count != len(texts):
        raise Mistake(f"The histogram counted {count:.0f} observations for {len(texts)} messages: observe each once.")
    lengths = np.array([len(t) for t in texts])
    if abs(total - lengths.sum()) > 0.5:
        raise Mistake(f"The observations add up to {total:.0f}, but the messages have {lengths.sum()} characters: "
                      "observe len(text), the number of characters.")
    buckets = snap.buckets(NAME)
    if len(buckets) < 6:
        raise Mistake(f"Only {len(buckets) - 1} finite bucket(s): with so few, p95 can be off by hundreds of "
                      "characters. Use bounds that cover 0-200 characters in steps of 20 or so.")
    est, true = got["own"].value, float(np.percentile(lengths, 95))
    if not _is_number(est):
        raise Mistake(f"p95_from_buckets({buckets[:3]}...) returned {est!r}; return a number.")
    width = max(scrape.bucket_width(v, buckets) for v in (est, true))
    if abs(est - true) > width:
        raise Mistake(f"p95 from your buckets is {est:.1f} characters, the exact p95 is {true:.1f}: more than a "
                      f"bucket ({width:g}) apart. Are the bounds sorted, and do they cover the messages' lengths?")
    return (f"p95 from {len(buckets) - 1} buckets: {est:.1f} characters; exact: {true:.1f} "
            f"(the bucket there is {width:g} wide).")


def _hidden_buckets(rng: random.Random) -> list[list[float]]:
    bounds = sorted(rng.sample(range(1, 200), rng.randint(2, 6)))
    counts = sorted(rng.randint(0, 1000) for _ in bounds)
    total = max(counts[-1] + rng.randint(0, 60), 1)
    return [[float(b), float(c)] for b, c in zip(bounds, counts)] + [[INF, float(total)]]


def _hidden_q1(rng: random.Random) -> dict:
    return {"known": [[_hidden_buckets(rng), "hidden"] for _ in range(3)],
            "texts": [rng.randint(1000, 4000), rng.randrange(10**6)]}


q1 = Question(
    LESSON, "q1", "A histogram metric, and p95 from its buckets",
    answer=("message_length_histogram", "p95_from_buckets"), ask=_ask_q1, judge=_judge_q1,
    examples=[_Q1_EXAMPLE], hidden=_hidden_q1,
    hints=[
        "Histogram(name, documentation, buckets=[...], registry=registry), then .observe(len(text)) per message. "
        "For p95: the rank is 0.95 x the +Inf bucket's count; find the first bucket whose count reaches it.",
        "Inside that bucket, interpolate: start + (end - start) * (rank - count_before) / (count - count_before); "
        "the lowest bucket starts at 0, and a rank in the +Inf bucket returns the highest finite bound.",
        "Bounds such as list(range(20, 220, 20)) cover almost every SMS (160 characters is the classic limit).",
    ],
)


# --- q2: an alert rule that fires on the fault and not on healthy traffic -------------------------
_Q2_EXAMPLE = {"seed": 0, "errors": 0.3}


@lru_cache(maxsize=4)
def _histories(seed: int = 0, errors: float = 0.3) -> dict[str, list]:
    from mlkit.monitoring import scrape

    healthy = (20, 0.0, 0.0)
    return {
        "healthy": scrape.simulated_history([healthy, (15, 0.0, 0.0)], seed=seed + 1),
        "error fault": scrape.simulated_history([healthy, (15, errors, 0.0)], seed=seed + 2),
        "latency fault": scrape.simulated_history([healthy, (15, 0.0, 0.3)], seed=seed + 3),
        "one-second blip": scrape.simulated_history([healthy, (1, 1.0, 0.0), (14, 0.0, 0.0)], seed=seed + 4),
        "fault fixed": scrape.simulated_history([healthy, (15, errors, 0.0), (4, 0.0, 0.0)], seed=seed + 5),
    }


def _ask_q2(case: dict, error_alert) -> dict:
    """For each history, what error_alert says after each second (from the second scrape on)."""
    out = {}
    for name, history in _histories(case["seed"], case["errors"]).items():
        out[name] = call(lambda h=history: [error_alert(h[:i]) for i in range(2, len(h) + 1)])
    return out


def _states(outcome: Any) -> list[bool]:
    out = []
    for v in outcome.value:
        if not isinstance(v, bool):
            raise Mistake(f"error_alert returned {v!r} ({kind(v)}); return True or False.")
        out.append(v)
    return out


def _judge_q2(got: dict, case: dict) -> str:
    s = {name: _states(got[name]) for name in _histories(case["seed"], case["errors"])}
    if not s["error fault"][-1]:
        raise Mistake(f"error_alert stays silent after 15 s of {case['errors']:.0%} errors. The burn rate is the "
                      f"error share divided by the budget (1 - 0.99 = 0.01): {case['errors']:.0%} errors burn it "
                      f"{case['errors'] / 0.01:.0f} times too fast.")
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


def _hidden_q2(rng: random.Random) -> dict:
    return {"seed": rng.randrange(10**6), "errors": rng.choice([0.25, 0.35, 0.4, 0.5])}


q2 = Question(
    LESSON, "q2", "An alert rule that fires on the fault, not on healthy traffic", answer="error_alert",
    ask=_ask_q2, judge=_judge_q2, examples=[_Q2_EXAMPLE], hidden=_hidden_q2,
    hints=[
        "For a window of w seconds, take the last snapshot and the latest one at least w seconds older; "
        "metrics.increase(old, new, 'mlkit_requests_total', outcome='error') counts the errors in between.",
        "burn = (errors / requests) / 0.01 (0 when there were no requests). Fire when burn > 14.4 over 12 s AND over 3 s.",
        "old = [s for s in history if history[-1].at - s.at >= w]; old = old[-1] if old else history[0]",
    ],
)


# --- q3: a drift threshold that trades sensitivity against false alarms -------------------------
_Q3_EXAMPLE = {"seed": 0, "budget": 0.05}


@lru_cache(maxsize=4)
def _scores(seed: int = 0, n: int = 200, window: int = 168, shift: float = 0.25):
    """PSI of ``temp`` for ``n`` random summer windows without drift and ``n`` with ``temp``
    shifted by ``shift`` standard deviations; two independent sets (fit, test)."""
    import numpy as np

    from mlkit.course import datasets
    from mlkit.monitoring import drift

    bikes = datasets.load_bike_sharing()
    summer = bikes[bikes.season == 3].temp.to_numpy()
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(summer))
    ref, rest = summer[idx[:1000]], summer[idx[1000:]]
    sets = []
    for _ in range(2):
        wins = [rest[rng.choice(len(rest), window, replace=False)] for _ in range(n)]
        null = np.array([drift.psi(ref, w) for w in wins])
        shifted = np.array([drift.psi(ref, w + shift * ref.std()) for w in wins])
        sets.append((null, shifted))
    return sets


def _ask_q3(case: dict, pick_threshold) -> dict:
    (null, shifted), _ = _scores(case["seed"])
    return {"threshold": call(pick_threshold, null.copy(), shifted.copy(), case["budget"])}


def _judge_q3(got: dict, case: dict) -> str:
    import numpy as np

    (null, shifted), (null2, shifted2) = _scores(case["seed"])
    budget = case["budget"]
    t = got["threshold"].value
    if not _is_number(t):
        raise Mistake(f"pick_threshold returned {t!r}; return the threshold, a number (drift when PSI >= it).")
    fa, caught = float(np.mean(null >= t)), float(np.mean(shifted >= t))
    if fa > budget + 1 / len(null):
        hint = (" It looks like a percentile of the drifted scores: the false-alarm budget is about the windows "
                "WITHOUT drift." if abs(t - np.quantile(shifted, budget)) < 1e-9 or t < np.median(null) else "")
        raise Mistake(f"With threshold {t:.4g}, {fa:.0%} of the no-drift windows raise an alarm: more than the "
                      f"{100 * budget:g} % budget.{hint}")
    best = max(float(np.mean(shifted >= s)) for s in np.append(null, np.inf) if np.mean(null >= s) <= budget)
    if caught < best - 0.03:
        raise Mistake(f"Threshold {t:.4g} keeps false alarms at {fa:.0%} but catches only {caught:.0%} of the shifted "
                      f"windows; a lower threshold within the budget catches {best:.0%}. The largest no-drift score "
                      f"is too cautious: the budget allows {100 * budget:g} % of them above the threshold.")
    fa2, caught2 = float(np.mean(null2 >= t)), float(np.mean(shifted2 >= t))
    return (f"Threshold {t:.4g}: {fa:.0%} false alarms and {caught:.0%} of 0.25-σ shifts caught here; on fresh "
            f"windows {fa2:.0%} and {caught2:.0%} (Evidently's default 0.1 would give "
            f"{np.mean(null2 >= 0.1):.0%} and {np.mean(shifted2 >= 0.1):.0%}).")


def _hidden_q3(rng: random.Random) -> dict:
    return {"seed": rng.randrange(10**6), "budget": rng.choice([0.02, 0.1])}


q3 = Question(
    LESSON, "q3", "A drift threshold: sensitivity against false alarms", answer="pick_threshold",
    ask=_ask_q3, judge=_judge_q3, examples=[_Q3_EXAMPLE], hidden=_hidden_q3,
    hints=[
        "A window raises an alarm when its score is >= the threshold. The false-alarm rate is the share of the "
        "no-drift scores at or above it.",
        "You want the lowest threshold whose false-alarm rate stays within the budget: a high percentile of the "
        "no-drift scores (the 95th for a 5 % budget).",
        "np.quantile(null_scores, 1 - max_false_alarm, method='higher') is just above 95 % of them.",
    ],
)

QUESTIONS = [q1, q2, q3]
