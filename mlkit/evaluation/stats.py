"""Uncertainty and comparison for lesson 03: is the champion better, or only luckier?

* :func:`bootstrap`: a percentile bootstrap interval for any metric;
* :func:`paired_difference`: metric(B) - metric(A) on the *same* resampled messages;
* :func:`verdict`: "B is better", "A is better" or "not significant" from an interval;
* :func:`mcnemar_table`: the 2x2 table of paired predictions that statsmodels' McNemar test
  (``statsmodels.stats.contingency_tables.mcnemar``, called by the lesson) takes;
* :func:`simulate_ab`: draw the traffic of an A/B test from a labelled set.

numpy only; the tests and intervals of statsmodels are called directly where they are used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval (and the bootstrap samples behind it)."""

    estimate: float
    low: float
    high: float
    level: float = 0.95
    samples: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    @property
    def contains_zero(self) -> bool:
        return self.low <= 0.0 <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def bootstrap(metric: Callable[..., float], y_true: Any, *predictions: Any, n_boot: int = 1000,
              seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of ``metric(y_true, *predictions)`` (lesson 03).

    Each of ``n_boot`` resamples draws len(y_true) messages with replacement and keeps every
    array aligned (the same messages for the labels and every prediction).
    """
    y = np.asarray(y_true)
    preds = [np.asarray(p) for p in predictions]
    if any(len(p) != len(y) for p in preds):
        raise ValueError("y_true and every prediction array need the same length (one entry per message).")
    if n_boot < 10:
        raise ValueError(f"n_boot={n_boot} is too few resamples for an interval; use hundreds.")
    samples = np.array([metric(y[i], *(p[i] for p in preds)) for i in _indices(len(y), n_boot, seed)])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Interval(float(metric(y, *preds)), float(low), float(high), level, samples)


def paired_difference(metric: Callable[[Any, Any], float], y_true: Any, pred_a: Any, pred_b: Any,
                      n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Interval:
    """Interval of metric(B) - metric(A), both scored on the same resampled messages (lesson 03).

    Pairing removes the luck of the draw that A and B share (easy or hard messages), so
    the interval is much narrower than two separate intervals would suggest.
    """
    return bootstrap(lambda y, a, b: metric(y, b) - metric(y, a), y_true, pred_a, pred_b,
                     n_boot=n_boot, seed=seed, level=level)


def verdict(diff: Interval, a: str = "A", b: str = "B", digits: int = 3) -> str:
    """What an interval of (B - A) lets you say: a winner only when it excludes zero."""
    interval = f"{diff.level:.0%} interval [{diff.low:+.{digits}f}, {diff.high:+.{digits}f}]"
    if diff.contains_zero:
        if diff.estimate == 0:
            return f"not significant: {a} and {b} score the same here, and the {interval} contains 0"
        leader = b if diff.estimate > 0 else a
        return f"not significant: {leader} is ahead by {abs(diff.estimate):.{digits}f}, but the {interval} contains 0"
    winner = b if diff.estimate > 0 else a
    return f"{winner} is better by {abs(diff.estimate):.{digits}f} ({interval})"


def mcnemar_table(y_true: Any, pred_a: Any, pred_b: Any) -> np.ndarray:
    """2x2 counts: rows A right/wrong, columns B right/wrong (statsmodels' layout)."""
    y, a, b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    ra, rb = a == y, b == y
    return np.array([[np.sum(ra & rb), np.sum(ra & ~rb)], [np.sum(~ra & rb), np.sum(~ra & ~rb)]])


def simulate_ab(errors_a: Any, errors_b: Any, n_per_arm: int, seed: int = 0) -> dict[str, int]:
    """An A/B test on simulated traffic: each arm draws ``n_per_arm`` messages (with
    replacement) from a labelled set and counts its model's errors on them. ``errors_a``
    and ``errors_b`` are 0/1 per message (1 = that model got it wrong). Returns the errors
    and sizes of both arms (lesson 03)."""
    rng = np.random.default_rng(seed)
    ea, eb = np.asarray(errors_a), np.asarray(errors_b)
    return {"errors_a": int(ea[rng.integers(0, len(ea), n_per_arm)].sum()), "n_a": int(n_per_arm),
            "errors_b": int(eb[rng.integers(0, len(eb), n_per_arm)].sum()), "n_b": int(n_per_arm)}
