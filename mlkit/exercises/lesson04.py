"""Lesson 04 exercises: the pieces of a safe deployment, each a small function checked by running it.

* q1 ``make_request_model``: a request schema whose bad payloads get a helpful 422;
* q2 ``route``: the weighted, sticky routing decision of a canary (checked statistically);
* q3 ``should_rollback``: the rollback rule, checked against recorded ramp traces;
* q4 ``p99``: the 99th percentile from raw latencies.

Each check is an ``ask`` (runs the learner's function, records what it returned: for q1 the
status and the fields named by a FastAPI app built on the learner's schema) and a ``judge``
(decides from that record); ``hidden`` draws the inputs a grader adds. Used by
``solutions/04_deployment.ipynb`` and its learner copy ``exercises/04_deployment.ipynb``. The
quiz is ``mlkit/exercises/quizzes/04_deployment.toml``.
"""

from __future__ import annotations

import json
import math
import random
from functools import lru_cache
from numbers import Real
from typing import Any

from mlkit.exercises import fixtures
from mlkit.exercises.answers import Returned, call
from mlkit.exercises.question import Mistake, Question

LESSON = "04_deployment"


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


# --- q1: a request schema that rejects bad payloads helpfully ------------------------------------------
_GOOD = ['{"text": "see you at 6"}', '{"text": "WIN now", "threshold": 0.9}']
_BAD = [  # (what, body, the field the 422 must name, the hint when it is accepted)
    ("an empty text", '{"text": ""}', "text", "an empty message is accepted: give text Field(min_length=1)"),
    ("a number as text", '{"text": 42}', "text", "42 is accepted as a text: declare text as str (strict=True also stops '1' -> 1 style conversions)"),
    ("a 5,000-character text", '{"text": "' + "x" * 5000 + '"}', "text",
     "a 5,000-character text is accepted: give text Field(max_length=2000)"),
    ("a NaN threshold", '{"text": "hi", "threshold": NaN}', "threshold",
     "NaN is accepted as a threshold: Field(allow_inf_nan=False)"),
    ("a threshold of 1.5", '{"text": "hi", "threshold": 1.5}', "threshold",
     "1.5 is accepted as a threshold: bound it with Field(ge=0, le=1)"),
    ("no text at all", '{"threshold": 0.5}', "text", "a body without text is accepted: make text required"),
]


def _q1_payloads(case: dict) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """(good bodies, bad ones with what they are, the field to name and the hint)."""
    if "long" not in case:
        return _GOOD, _BAD
    text = fixtures.sms().text.iloc[case["message"]]
    good = [json.dumps({"text": text}), json.dumps({"text": text, "threshold": case["threshold"]})]
    n, number, over = case["long"], case["number"], case["over"]
    bad = [("an empty text", '{"text": ""}', "text", "empty"),
           ("a number as text", json.dumps({"text": number}), "text", "number"),
           (f"a {n:,}-character text", json.dumps({"text": "y" * n}), "text", "long"),
           ("an infinite threshold", '{"text": "hi", "threshold": Infinity}', "threshold", "inf"),
           (f"a threshold of {over}", json.dumps({"text": "hi", "threshold": over}), "threshold", "bound"),
           ("no text at all", json.dumps({"threshold": case["threshold"]}), "text", "required")]
    return good, bad


def _ask_q1(case: dict, make_request_model) -> dict:
    import warnings

    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel

    with warnings.catch_warnings():  # starlette's note about httpx
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    made = call(make_request_model)
    if not made.ok:
        return {"model": made}
    Model = made.value
    if not (isinstance(Model, type) and issubclass(Model, BaseModel)):
        return {"model": Returned(None), "not_a_model": repr(Model)[:200]}
    app = FastAPI()

    @app.exception_handler(RequestValidationError)  # as the lesson's server: the input itself (NaN) is not echoed
    async def invalid(request, exc):
        return JSONResponse({"detail": [{k: e.get(k) for k in ("type", "loc", "msg")} for e in exc.errors()]}, 422)

    def predict(req):
        return {"ok": True}

    predict.__annotations__ = {"req": Model, "return": dict}  # the body is the learner's model
    app.post("/predict")(predict)
    client = TestClient(app)
    good, bad = _q1_payloads(case)

    def post(body: str) -> list:
        r = client.post("/predict", content=body, headers={"content-type": "application/json"})
        fields = sorted({str(e["loc"][-1]) for e in r.json().get("detail", []) if e.get("loc")}) if r.status_code == 422 else []
        return [r.status_code, r.text[:300], fields]

    return {"model": Returned("a model"), "good": [post(b) for b in good], "bad": [post(b) for _, b, _, _ in bad]}


def _judge_q1(got: dict, case: dict) -> str:
    got["model"].value  # noqa: B018 - an error raised by make_request_model() is the answer
    if "not_a_model" in got:
        raise Mistake("make_request_model should return a pydantic model class (class ...(BaseModel)), "
                      f"got {got['not_a_model']}.")
    good, bad = _q1_payloads(case)
    for body, (status, text, _) in zip(good, got["good"]):
        if status != 200:
            raise Mistake(f"A good request {body[:80]} got {status}: {text[:200]}. Keep text a string and the "
                          "threshold optional with a default of 0.5.")
    for (what, _, field, hint), (status, _, fields) in zip(bad, got["bad"]):
        if status != 422:
            raise Mistake(f"{what.capitalize()} got {status}, not 422: {hint}.")
        if field not in fields:
            raise Mistake(f"The 422 for {what} names {sorted(fields)}, not '{field}': the message must point at "
                          "the field to fix.")
    return f"All {len(bad)} bad payloads get a 422 that names the field to fix; good ones get 200."


def _hidden_q1(rng: random.Random) -> dict:
    return {"message": rng.randrange(4000), "threshold": round(rng.uniform(0.05, 0.95), 2),
            "long": rng.randint(2001, 6000), "number": rng.choice([7, 3.5, 1234]),
            "over": rng.choice([-0.5, 1.01, 2.0, 100.0])}


q1 = Question(
    LESSON, "q1", "Reject a bad payload with a helpful 422", answer="make_request_model",
    ask=_ask_q1, judge=_judge_q1, hidden=_hidden_q1,
    hints=[
        "Declare the rules on the fields and FastAPI turns every broken rule into a 422 that names the field: "
        "text = Field(min_length=1, max_length=2000).",
        "Bound the threshold: Field(0.5, ge=0, le=1). allow_inf_nan=False says outright that NaN and "
        "infinity are not numbers you accept.",
        "threshold: float = Field(0.5, ge=0, le=1, allow_inf_nan=False)",
    ],
)


# --- q2: weighted, sticky routing ------------------------------------------------------------------------
_Q2_EXAMPLE = {"users": "user-{}", "n": 20_000, "weights": [0.0, 0.05, 0.25, 0.5, 1.0], "ramp": [0.05, 0.25]}


def _ask_q2(case: dict, route) -> dict:
    """Each user's answer per weight, as one letter (c: 'canary', s: 'stable', ?: anything else,
    kept aside), and the answers of the first 2,000 users asked again."""
    users = [case["users"].format(i) for i in range(case["n"])]
    out: dict[str, Any] = {"answers": {}, "again": {}, "odd": []}
    for weight in case["weights"]:
        got = call(lambda w=weight: [route(u, w) for u in users])
        if not got.ok:
            return {"error": got}
        letters = "".join("c" if a == "canary" else "s" if a == "stable" else "?" for a in got.value)
        out["odd"] += [repr(a) for a in got.value if a not in ("canary", "stable")][:3]
        again = call(lambda w=weight: [route(u, w) for u in users[:2000]])
        if not again.ok:
            return {"error": again}
        out["answers"][str(weight)] = letters
        out["again"][str(weight)] = "".join("c" if a == "canary" else "s" if a == "stable" else "?" for a in again.value)
    return out


def _judge_q2(got: dict, case: dict) -> str:
    if "error" in got:
        got["error"].value  # noqa: B018
    if got["odd"]:
        raise Mistake(f"route returned {sorted(set(got['odd']))[:3]}: return 'canary' or 'stable'.")
    n = case["n"]
    for weight in case["weights"]:
        answers, again = got["answers"][str(weight)], got["again"][str(weight)]
        flipped = sum(a != b for a, b in zip(answers, again))
        if flipped:
            raise Mistake(f"At weight {weight}, {flipped} of 2,000 users got a different answer the second time: "
                          "the choice must depend on the user key only, not on a random draw.")
        share = answers.count("c") / len(answers)
        if abs(share - weight) > 0.015:
            raise Mistake(f"At weight {weight}, {share:.1%} of {n:,} users went to the canary, not about "
                          f"{weight:.0%}: map the key to a uniform number in [0, 1) and compare it with weight.")
    low, high = case["ramp"]
    back = sum(a == "c" and b != "c" for a, b in zip(got["answers"][str(low)], got["answers"][str(high)]))
    if back:
        raise Mistake(f"Raising the weight from {low:.0%} to {high:.0%} moved {back} users from the canary back to "
                      "stable: use the same number per user at every weight (do not mix the weight into the hash).")
    return ("Sticky, weighted and monotone: raising the weight only adds users to the canary. "
            "Use a stable hash (zlib.crc32): Python's hash() of a string changes between processes.")


def _hidden_q2(rng: random.Random) -> dict:
    weights = sorted({round(rng.uniform(0.02, 0.98), 2) for _ in range(3)})
    return {"users": rng.choice(["u{}", "client-{}", "acct_{}"]) + f"-{rng.randrange(10**6)}",
            "n": rng.randint(15_000, 20_000), "weights": weights, "ramp": [weights[0], weights[-1]]}


q2 = Question(
    LESSON, "q2", "Weighted, sticky routing", answer="route", ask=_ask_q2, judge=_judge_q2,
    examples=[_Q2_EXAMPLE], hidden=_hidden_q2,
    hints=[
        "Turn the user key into a number in [0, 1) that is always the same for that user, then send the user "
        "to the canary when the number is below the weight.",
        "zlib.crc32(user.encode()) is an integer from 0 to 2**32 - 1, the same in every process.",
        "return 'canary' if zlib.crc32(user.encode()) / 2**32 < weight else 'stable'",
    ],
)


# --- q3: the rollback rule ----------------------------------------------------------------------------
_Q3_EXAMPLE = {"slo": [0.02, 100.0, 20], "seed": 4}


@lru_cache(maxsize=4)
def _traces(seed: int = 4, slo: tuple = (0.02, 100.0, 20)) -> list[tuple[int, int, float]]:
    """Windows (requests, errors, p99 ms) as a router records them while ramping a canary: the edges
    of the SLO, then healthy, slow, failing and small windows from a seeded simulation of 400 stages."""
    import numpy as np

    rate, p99_max, least = slo
    n = 1000  # errors at exactly the limit: n * rate is a whole number for the rates used here
    out = [(least // 2, least // 4, 30.0), (least - 1, least - 1, 5 * p99_max), (least, 0, 0.2 * p99_max),
           (n, round(n * rate), 0.5 * p99_max), (n, round(n * rate) + 1, 0.5 * p99_max), (50, 0, p99_max),
           (50, 0, p99_max + 0.5), (n, round(n * rate * 0.15), 0.2 * p99_max)]
    rng = np.random.default_rng(seed)
    for _ in range(400):
        k = int(rng.integers(1, 400))
        share = rng.choice([0.0, 0.005, 0.03, 0.3]) * (rate / 0.02)
        p99 = float(rng.choice([15.0, 60.0, 180.0])) * (p99_max / 100.0) * rng.uniform(0.8, 1.25)
        out.append((k, int(rng.binomial(k, min(share, 1.0))), round(p99, 1)))
    return out


def _q3_slo(case: dict):
    from mlkit.deployment import rollout

    rate, p99, least = case["slo"]
    return rollout.SLO(max_error_rate=rate, max_p99_ms=p99, min_requests=least)


def _ask_q3(case: dict, should_rollback) -> dict:
    slo = _q3_slo(case)
    return {"answers": call(lambda: [should_rollback(n, e, p99, slo) for n, e, p99 in _traces(case["seed"],
                                                                                             tuple(case["slo"]))])}


def _judge_q3(got: dict, case: dict) -> str:
    from mlkit.deployment import rollout

    slo = _q3_slo(case)
    traces = _traces(case["seed"], tuple(case["slo"]))
    answers = got["answers"].value
    wrong = []
    for (n, e, p99), mine in zip(traces, answers):
        if not isinstance(mine, bool):
            raise Mistake(f"should_rollback returned {mine!r}: return True (roll back) or False.")
        want = rollout.breach(rollout.Window(n, e, p99), slo) is not None
        if mine != want:
            wrong.append((n, e, p99, mine, want))
    if wrong:
        edge = traces[3:8]  # at the error limit, just over it, at the p99 limit, just over it, a low rate
        keys = {(n, e, p99) for n, e, p99, _, _ in wrong}
        small = [w for w in wrong if w[0] < slo.min_requests]
        if small:
            n, e, p99, mine, want = small[0]
            why = f" With {n} < {slo.min_requests} requests there is no verdict yet: return False."
        elif edge[4] in keys:
            (n, e, p99), mine, want = edge[4], True, False
            why = (f" {e} errors in {n:,} is {100 * e / n:g} %: compare the error *rate* errors/requests with "
                   "max_error_rate.")
        elif edge[0] in keys:
            (n, e, p99), mine, want = edge[0], True, False
            why = (f" {100 * e / n:g} % is not over a {100 * slo.max_error_rate:g} % limit: roll back only when the "
                   "rate is *above* it.")
        elif edge[2] in keys:
            (n, e, p99), mine, want = edge[2], True, False
            why = f" p99 of exactly {p99:g} ms meets a {slo.max_p99_ms:g} ms limit: roll back only above it."
        else:
            (n, e, p99, mine, want), why = wrong[0], ""
        raise Mistake(f"{len(wrong)} of {len(traces)} recorded windows judged wrong. First: {n} requests, {e} "
                      f"errors, p99 {p99} ms -> you said {mine}, the SLO says {want}.{why}")
    return f"All {len(traces)} recorded windows judged as the router judges them."


def _hidden_q3(rng: random.Random) -> dict:
    return {"slo": [rng.choice([0.01, 0.04, 0.05]), float(rng.choice([50, 150, 200])), rng.choice([10, 30, 50])],
            "seed": rng.randrange(10**6)}


q3 = Question(
    LESSON, "q3", "The rollback rule", answer="should_rollback", ask=_ask_q3, judge=_judge_q3,
    examples=[_Q3_EXAMPLE], hidden=_hidden_q3,
    hints=[
        "Three questions in order: enough requests to judge? error rate above its limit? p99 above its limit?",
        "slo.min_requests, slo.max_error_rate (a fraction: 0.02 is 2 %), slo.max_p99_ms.",
        "if requests < slo.min_requests: return False; return errors / requests > slo.max_error_rate or "
        "p99_ms > slo.max_p99_ms",
    ],
)


# --- q4: p99 from raw latencies ---------------------------------------------------------------------------
_Q4_EXAMPLE = {"lists": [[1000, 0], [37, 1], [5000, 2]]}


def _latencies(n: int, seed: int) -> list[float]:
    """Latencies (ms) shaped like a server's: mostly fast, a slow tail (log-normal plus rare stalls)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ms = rng.lognormal(mean=1.0, sigma=0.5, size=n)
    stalls = rng.random(n) < 0.02
    ms[stalls] += rng.uniform(50, 200, stalls.sum())
    return [float(x) for x in ms]


def _ask_q4(case: dict, p99) -> dict:
    out = []
    for n, seed in case["lists"]:
        data = _latencies(n, seed)
        got = call(p99, data)
        out.append({"p99": got, "changed": data != _latencies(n, seed)})
    return {"answers": out}


def _judge_q4(got: dict, case: dict) -> str:
    import numpy as np

    for (n, seed), answer in zip(case["lists"], got["answers"]):
        data = _latencies(n, seed)
        mine = answer["p99"].value
        if answer["changed"]:
            raise Mistake("p99 changed the list it was given (data.sort()?): sort a copy, sorted(data).")
        if not _is_number(mine):
            raise Mistake(f"p99 returned {mine!r}: return one number, in the same unit as the latencies (ms).")
        lo, hi = np.percentile(data, 99, method="lower"), np.percentile(data, 99, method="higher")
        if lo - 1e-9 <= mine <= hi + 1e-9:
            continue
        arr = np.asarray(data)
        if math.isclose(mine, float(np.percentile(arr, 0.99)), rel_tol=1e-6):
            raise Mistake("That is the 0.99th percentile: np.percentile takes a percent (99); np.quantile takes "
                          "a fraction (0.99).")
        if math.isclose(mine, float(arr.mean()), rel_tol=1e-6):
            raise Mistake(f"{mine:.2f} ms is the mean: p99 is the value 99 % of requests are at or below.")
        if mine == data[int(0.99 * (n - 1))] or mine == data[int(0.99 * n)]:
            raise Mistake("You read the 99 % position of the list as it came: sort it first.")
        raise Mistake(f"For {n} latencies p99 is between {lo:.2f} and {hi:.2f} ms (ranks around 0.99 x n), "
                      f"you returned {mine:.2f}.")
    return "Right on 37, 1,000 and 5,000 latencies. With 37 requests, p99 is simply the slowest: it needs data."


def _hidden_q4(rng: random.Random) -> dict:
    return {"lists": [[rng.randint(20, 80), rng.randrange(10**6)], [rng.randint(500, 3000), rng.randrange(10**6)]]}


q4 = Question(
    LESSON, "q4", "p99 from raw latencies", answer="p99", ask=_ask_q4, judge=_judge_q4,
    examples=[_Q4_EXAMPLE], hidden=_hidden_q4,
    hints=[
        "p99 is the latency that 99 % of requests beat: sort the latencies and read near position 0.99 x n.",
        "Interpolate between the two neighbours of rank 0.99 * (n - 1), as numpy does, or take the nearest rank.",
        "xs = sorted(latencies_ms); r = 0.99 * (len(xs) - 1); lo = int(r); hi = min(lo + 1, len(xs) - 1); "
        "return xs[lo] + (xs[hi] - xs[lo]) * (r - lo)",
    ],
)


# --- the exercises, in the order learners meet them ----------------------------------------------
QUESTIONS = [q1, q2, q3, q4]
