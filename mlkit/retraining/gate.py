"""Lesson 06: the promotion gate. A challenger replaces the champion only when it is better
on the same recent labelled data, by at least a margin, and the interval says so.

The comparison reuses lesson 03's paired bootstrap (:func:`mlkit.evaluation.stats.paired_difference`):
both models are scored on the same resampled hours, so the luck they share cancels. The
hours of one day are not independent, so the interval is somewhat too narrow; the margin
is the safety for that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlkit.evaluation import stats
from mlkit.evaluation.metrics import mae  # the course's one MAE (lesson 03); gate.mae for this lesson's code


@dataclass(frozen=True)
class Decision:
    """The gate's verdict: ``promote``, the reasons, both errors and the interval of
    MAE(challenger) - MAE(champion) (negative: the challenger errs less)."""

    promote: bool
    reasons: list[str]
    champion_mae: float
    challenger_mae: float
    diff: stats.Interval = field(repr=False)

    def __str__(self) -> str:
        verdict = "PROMOTE" if self.promote else "BLOCK"
        return f"{verdict}: " + "; ".join(self.reasons)


def decide(y_true: Any, champion_pred: Any, challenger_pred: Any, *, margin: float = 0.02,
           n_boot: int = 500, seed: int = 0, level: float = 0.95) -> Decision:
    """Gate a challenger against the champion on the same labelled rows (lesson 06).

    Promote only when (1) both predict finite numbers for every row, (2) the challenger's MAE
    is lower by at least ``margin`` (a share of the champion's MAE, 0.02 = 2 %), and (3) the
    upper end of the paired bootstrap interval of the difference is below zero.
    """
    y = np.asarray(y_true, float)
    a, b = np.asarray(champion_pred, float), np.asarray(challenger_pred, float)
    if not (len(y) == len(a) == len(b)) or len(y) < 10:
        raise ValueError(f"Need at least 10 labelled rows with one prediction each from both models; got "
                         f"{len(y)} labels, {len(a)} champion and {len(b)} challenger predictions.")
    if margin < 0:
        raise ValueError(f"margin must be >= 0 (a share of the champion's error), not {margin}.")
    champ = mae(y, a)
    if not np.isfinite(b).all():
        return Decision(False, [f"the challenger predicted {int((~np.isfinite(b)).sum())} non-finite values"],
                        champ, float("nan"), stats.Interval(float("nan"), float("nan"), float("nan"), level))
    chall = mae(y, b)
    diff = stats.paired_difference(mae, y, a, b, n_boot=n_boot, seed=seed, level=level)
    need = -margin * champ
    reasons = []
    better = diff.estimate <= need
    reasons.append(f"MAE {chall:.1f} vs champion {champ:.1f}: difference {diff.estimate:+.1f} "
                   f"{'meets' if better else 'misses'} the margin ({need:+.1f})")
    sure = diff.high < 0
    reasons.append(f"{level:.0%} interval of the difference [{diff.low:+.1f}, {diff.high:+.1f}] "
                   f"{'is below 0' if sure else 'lies above 0' if diff.low > 0 else 'contains 0'}")
    return Decision(bool(better and sure), reasons, champ, chall, diff)
