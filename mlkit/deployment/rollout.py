"""The decisions of a rollout, as small pure functions (lesson 04).

The router (:mod:`mlkit.deployment.router`), the load generator and the lesson's exercises
all call these, so that "which user goes to the canary", "is the canary healthy" and
"what is p99" each have one definition.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

STAGES = (0.05, 0.25, 0.5, 1.0)  # the staged ramp of a canary


def bucket(key: str) -> float:
    """A stable number in [0, 1) for a user key (CRC-32, the same in every process and run).

    Python's ``hash()`` of a string changes between processes, so it cannot make routing sticky.
    """
    return zlib.crc32(key.encode("utf-8")) / 2**32


def goes_to_canary(key: str | None, weight: float, draw: float | None = None) -> bool:
    """The weighted, sticky routing decision of lesson 04.

    A user whose :func:`bucket` is below ``weight`` goes to the canary: the same user always
    gets the same answer at one weight, and raising the weight only moves users from stable to
    canary, never back. A request without a key uses ``draw`` (a random number in [0, 1)).
    """
    if weight <= 0:
        return False
    if weight >= 1:
        return True
    x = bucket(key) if key else (draw if draw is not None else 0.0)
    return x < weight


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks, as ``numpy.percentile``.

    The value below which ``q`` % of the observations fall: sort, then read at rank
    ``q/100 * (n - 1)``, interpolating between the two neighbours. NaN for no values.
    """
    xs = sorted(values)
    if not xs:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"q is a percent between 0 and 100, got {q}")
    rank = q / 100 * (len(xs) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


@dataclass(frozen=True)
class SLO:
    """What a canary must keep to: at most ``max_error_rate`` of its requests failing, and a p99
    latency of at most ``max_p99_ms``, judged once it has served ``min_requests`` requests."""

    max_error_rate: float = 0.02
    max_p99_ms: float = 100.0
    min_requests: int = 20

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Window:
    """What a version did during one stage: requests, failures, latencies (ms)."""

    requests: int
    errors: int
    p99_ms: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def window(latencies_ms: Sequence[float], errors: int) -> Window:
    """A :class:`Window` from raw latencies (one per request, failed ones included) and a failure count."""
    return Window(len(latencies_ms), errors, percentile(latencies_ms, 99) if latencies_ms else math.nan)


def breach(w: Window, slo: SLO) -> str | None:
    """Why the window breaks the SLO (a sentence), or None while it holds or is too small to judge.

    The rollback rule of lesson 04: too few requests -> no verdict yet; then the error rate,
    then p99, each compared with its limit.
    """
    if w.requests < slo.min_requests:
        return None
    if w.error_rate > slo.max_error_rate:
        return f"error rate {w.error_rate:.1%} > {slo.max_error_rate:.1%} over {w.requests} requests"
    if w.p99_ms > slo.max_p99_ms:
        return f"p99 {w.p99_ms:.1f} ms > {slo.max_p99_ms:.0f} ms over {w.requests} requests"
    return None
