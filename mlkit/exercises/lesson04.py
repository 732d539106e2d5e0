"""Lesson 04 exercises: the pieces of a safe deployment, each a small function checked by running it.

* q1 ``make_request_model``: a request schema whose bad payloads get a helpful 422;
* q2 ``route``: the weighted, sticky routing decision of a canary (checked statistically);
* q3 ``should_rollback``: the rollback rule, checked against recorded ramp traces;
* q4 ``p99``: the 99th percentile from raw latencies.

Used by ``solutions/04_deployment.ipynb`` and its learner copy ``exercises/04_deployment.ipynb``.
The quiz is ``mlkit/exercises/quizzes/04_deployment.toml``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from numbers import Real
from typing import Any

from mlkit.exercises.core import Mistake, Question

LESSON = "04_deployment"


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(float(x))


# --- q1: a request schema that rejects bad payloads helpfully ------------------------------------------
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


def _check_q1(make_request_model) -> str:
    import warnings

    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel

    with warnings.catch_warnings():  # starlette's note about httpx
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    Model = make_request_model()
    if not (isinstance(Model, type) and issubclass(Model, BaseModel)):
        raise Mistake(f"make_request_model should return a pydantic model class (class ...(BaseModel)), got {Model!r}.")
    app = FastAPI()

    @app.exception_handler(RequestValidationError)  # as the lesson's server: the input itself (NaN) is not echoed
    async def invalid(request, exc):
        return JSONResponse({"detail": [{k: e.get(k) for k in ("type", "loc", "msg")} for e in exc.errors()]}, 422)

    def predict(req):
        return {"ok": True}

    predict.__annotations__ = {"req": Model, "return": dict}  # the body is the learner's model
    app.post("/predict")(predict)
    client = TestClient(app)
    for body in ('{"text": "see you at 6"}', '{"text": "WIN now", "threshold": 0.9}'):
        r = client.post("/predict", content=body, headers={"content-type": "application/json"})
        if r.status_code != 200:
            raise Mistake(f"A good request {body} got {r.status_code}: {r.json()}. Keep text a string and the "
                          "threshold optional with a default of 0.5.")
    for what, body, field, hint in _BAD:
        r = client.post("/predict", content=body, headers={"content-type": "application/json"})
        if r.status_code != 422:
            raise Mistake(f"{what.capitalize()} got {r.status_code}, not 422: {hint}.")
        fields = {str(e["loc"][-1]) for e in r.json()["detail"] if e.get("loc")}
        if field not in fields:
            raise Mistake(f"The 422 for {what} names {sorted(fields)}, not '{field}': the message must point at "
                          "the field to fix.")
    return f"All {len(_BAD)} bad payloads get a 422 that names the field to fix; good ones get 200."


q1 = Question(
    LESSON, "q1", "Reject a bad payload with a helpful 422", answer="make_request_model", check=_check_q1,
    hints=[
        "Declare the rules on the fields and FastAPI turns every broken rule into a 422 that names the field: "
        "text = Field(min_length=1, max_length=2000).",
        "Bound the threshold: Field(0.5, ge=0, le=1). allow_inf_nan=False says outright that NaN and "
        "infinity are not numbers you accept.",
        "threshold: float = Field(0.5, ge=0, le=1, allow_inf_nan=False)",
    ],
)


# --- q2: weighted, sticky routing ------------------------------------------------------------------------
_USERS = [f"user-{i}" for i in range(20_000)]


def _check_q2(route) -> str:
    shares = {}
    for weight in (0.0, 0.05, 0.25, 0.5, 1.0):
        answers = [route(u, weight) for u in _USERS]
        odd = {a for a in answers if a not in ("canary", "stable")}
        if odd:
            raise Mistake(f"route returned {sorted(map(repr, odd))[:3]}: return 'canary' or 'stable'.")
        again = [route(u, weight) for u in _USERS[:2000]]
        flipped = sum(a != b for a, b in zip(answers, again))
        if flipped:
            raise Mistake(f"At weight {weight}, {flipped} of 2,000 users got a different answer the second time: "
                          "the choice must depend on the user key only, not on a random draw.")
        share = answers.count("canary") / len(answers)
        if abs(share - weight) > 0.015:
            raise Mistake(f"At weight {weight}, {share:.1%} of 20,000 users went to the canary, not about "
                          f"{weight:.0%}: map the key to a uniform number in [0, 1) and compare it with weight.")
        shares[weight] = [a == "canary" for a in answers]
    back = sum(a and not b for a, b in zip(shares[0.05], shares[0.25]))
    if back:
        raise Mistake(f"Raising the weight from 5% to 25% moved {back} users from the canary back to stable: use "
                      "the same number per user at every weight (do not mix the weight into the hash).")
    return ("Sticky, weighted and monotone: raising the weight only adds users to the canary. "
            "Use a stable hash (zlib.crc32): Python's hash() of a string changes between processes.")


q2 = Question(
    LESSON, "q2", "Weighted, sticky routing", answer="route", check=_check_q2,
    hints=[
        "Turn the user key into a number in [0, 1) that is always the same for that user, then send the user "
        "to the canary when the number is below the weight.",
        "zlib.crc32(user.encode()) is an integer from 0 to 2**32 - 1, the same in every process.",
        "return 'canary' if zlib.crc32(user.encode()) / 2**32 < weight else 'stable'",
    ],
)


# --- q3: the rollback rule ----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _traces() -> list[tuple[int, int, float]]:
    """Windows (requests, errors, p99 ms) as a router records them while ramping a canary: healthy ones,
    slow ones, failing ones, and small ones, from a seeded simulation of 400 stages."""
    import numpy as np

    rng = np.random.default_rng(4)
    out = [(10, 5, 30.0), (19, 19, 500.0), (20, 0, 20.0), (1000, 20, 50.0), (1000, 21, 50.0), (50, 0, 100.0),
           (50, 0, 100.5), (1000, 3, 20.0)]
    for _ in range(400):
        n = int(rng.integers(1, 400))
        rate = rng.choice([0.0, 0.005, 0.03, 0.3])
        p99 = float(rng.choice([15.0, 60.0, 180.0])) * rng.uniform(0.8, 1.25)
        out.append((n, int(rng.binomial(n, rate)), round(p99, 1)))
    return out


def _check_q3(should_rollback) -> str:
    from mlkit.deployment import rollout

    slo = rollout.SLO(max_error_rate=0.02, max_p99_ms=100.0, min_requests=20)
    wrong = []
    for n, e, p99 in _traces():
        got = should_rollback(n, e, p99, slo)
        if not isinstance(got, bool):
            raise Mistake(f"should_rollback returned {got!r}: return True (roll back) or False.")
        want = rollout.breach(rollout.Window(n, e, p99), slo) is not None
        if got != want:
            wrong.append((n, e, p99, got, want))
    if wrong:
        keys = {(n, e, p99) for n, e, p99, _, _ in wrong}
        small = [w for w in wrong if w[0] < slo.min_requests]
        if small:
            n, e, p99, got, want = small[0]
            why = f" With {n} < {slo.min_requests} requests there is no verdict yet: return False."
        elif (1000, 3, 20.0) in keys:
            n, e, p99, got, want = 1000, 3, 20.0, True, False
            why = " 3 errors in 1,000 is 0.3 %: compare the error *rate* errors/requests with max_error_rate."
        elif (1000, 20, 50.0) in keys:
            n, e, p99, got, want = 1000, 20, 50.0, True, False
            why = " 2.0 % is not over a 2 % limit: roll back only when the rate is *above* it."
        elif (50, 0, 100.0) in keys:
            n, e, p99, got, want = 50, 0, 100.0, True, False
            why = " p99 of exactly 100 ms meets a 100 ms limit: roll back only above it."
        else:
            (n, e, p99, got, want), why = wrong[0], ""
        raise Mistake(f"{len(wrong)} of {len(_traces())} recorded windows judged wrong. First: {n} requests, {e} "
                      f"errors, p99 {p99} ms -> you said {got}, the SLO says {want}.{why}")
    return f"All {len(_traces())} recorded windows judged as the router judges them."


q3 = Question(
    LESSON, "q3", "The rollback rule", answer="should_rollback", check=_check_q3,
    hints=[
        "Three questions in order: enough requests to judge? error rate above its limit? p99 above its limit?",
        "slo.min_requests, slo.max_error_rate (a fraction: 0.02 is 2 %), slo.max_p99_ms.",
        "if requests < slo.min_requests: return False; return errors / requests > slo.max_error_rate or "
        "p99_ms > slo.max_p99_ms",
    ],
)


# --- q4: p99 from raw latencies ---------------------------------------------------------------------------
def _latencies(n: int, seed: int) -> list[float]:
    """Latencies (ms) shaped like a server's: mostly fast, a slow tail (log-normal plus rare stalls)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ms = rng.lognormal(mean=1.0, sigma=0.5, size=n)
    stalls = rng.random(n) < 0.02
    ms[stalls] += rng.uniform(50, 200, stalls.sum())
    return [float(x) for x in ms]


def _check_q4(p99) -> str:
    import numpy as np

    for n, seed in ((1000, 0), (37, 1), (5000, 2)):
        data = _latencies(n, seed)
        before = list(data)
        got = p99(data)
        if data != before:
            raise Mistake("p99 changed the list it was given (data.sort()?): sort a copy, sorted(data).")
        if not _is_number(got):
            raise Mistake(f"p99 returned {got!r}: return one number, in the same unit as the latencies (ms).")
        lo, hi = np.percentile(data, 99, method="lower"), np.percentile(data, 99, method="higher")
        if lo - 1e-9 <= got <= hi + 1e-9:
            continue
        arr = np.asarray(data)
        if math.isclose(got, float(np.percentile(arr, 0.99)), rel_tol=1e-6):
            raise Mistake("That is the 0.99th percentile: np.percentile takes a percent (99); np.quantile takes "
                          "a fraction (0.99).")
        if math.isclose(got, float(arr.mean()), rel_tol=1e-6):
            raise Mistake(f"{got:.2f} ms is the mean: p99 is the value 99 % of requests are at or below.")
        if got == data[int(0.99 * (n - 1))] or got == data[int(0.99 * n)]:
            raise Mistake("You read the 99 % position of the list as it came: sort it first.")
        raise Mistake(f"For {n} latencies p99 is between {lo:.2f} and {hi:.2f} ms (ranks around 0.99 x n), "
                      f"you returned {got:.2f}.")
    return "Right on 37, 1,000 and 5,000 latencies. With 37 requests, p99 is simply the slowest: it needs data."


q4 = Question(
    LESSON, "q4", "p99 from raw latencies", answer="p99", check=_check_q4,
    hints=[
        "p99 is the latency that 99 % of requests beat: sort the latencies and read near position 0.99 x n.",
        "Interpolate between the two neighbours of rank 0.99 * (n - 1), as numpy does, or take the nearest rank.",
        "xs = sorted(latencies_ms); r = 0.99 * (len(xs) - 1); lo = int(r); hi = min(lo + 1, len(xs) - 1); "
        "return xs[lo] + (xs[hi] - xs[lo]) * (r - lo)",
    ],
)


# --- the exercises, in the order learners meet them ----------------------------------------------
QUESTIONS = [q1, q2, q3, q4]
