"""Metrics written out from their definitions (lesson 03), each tested against scikit-learn.

The lesson calls scikit-learn for every metric and checks that these agree: writing a
metric once from its definition is the surest way to know what it measures.

* classification at a threshold: :func:`confusion_counts`, :func:`at_threshold` (every
  threshold at once, for the threshold widget); F1 is defined once, :func:`f1_from_counts`,
  and :func:`f1` (fast enough for thousands of bootstrap resamples) is it too;
* regression: :func:`mae` (the course's one mean absolute error: lessons 03, 06),
  :func:`relative_error` (MAE over the mean count: lessons 00, 06), :func:`regression_metrics`
  (MAE, RMSE, R²);
* ranking: :func:`precision_at_k`, :func:`average_precision`, :func:`mean_average_precision`,
  :func:`dcg_at_k`, :func:`ndcg_at_k`.

numpy only; no scikit-learn import here (the tests bring it as the oracle).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _binary(y: Any, name: str = "y_true") -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}.")
    if not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name} must hold 0/1 labels (1 = the positive class, e.g. spam).")
    return arr.astype(int)


def _divide(num: Any, den: Any) -> Any:
    """num / den, 0 where den is 0 (scikit-learn's zero_division=0)."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out if out.ndim else float(out)


# --- classification ------------------------------------------------------------------------------
def f1_from_counts(tp: Any, fp: Any, fn: Any) -> Any:
    """F1 of the positive class from its counts: 2 tp / (2 tp + fp + fn), 0 where nothing is
    positive in the labels or the predictions (scikit-learn's ``zero_division=0``)."""
    return _divide(2 * np.asarray(tp), 2 * np.asarray(tp) + np.asarray(fp) + np.asarray(fn))


def confusion_counts(y_true: Any, y_pred: Any) -> dict[str, int]:
    """tp, fp, fn, tn of binary 0/1 predictions (lesson 03)."""
    y, p = _binary(y_true), _binary(y_pred, "y_pred")
    if len(y) != len(p):
        raise ValueError(f"y_true has {len(y)} labels but y_pred {len(p)}.")
    return {"tp": int(((p == 1) & (y == 1)).sum()), "fp": int(((p == 1) & (y == 0)).sum()),
            "fn": int(((p == 0) & (y == 1)).sum()), "tn": int(((p == 0) & (y == 0)).sum())}


def classification_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of the positive class, from the counts (lesson 03)."""
    c = confusion_counts(y_true, y_pred)
    precision = _divide(c["tp"], c["tp"] + c["fp"])
    recall = _divide(c["tp"], c["tp"] + c["fn"])
    return {"accuracy": (c["tp"] + c["tn"]) / sum(c.values()), "precision": precision, "recall": recall,
            "f1": f1_from_counts(c["tp"], c["fp"], c["fn"])}


def at_threshold(y_true: Any, proba: Any, thresholds: Sequence[float] | np.ndarray) -> dict[str, np.ndarray]:
    """Counts and rates for many thresholds at once ("positive" means ``proba >= threshold``).

    Returns arrays keyed tp, fp, fn, tn, precision, recall, f1 and flagged_rate (the share
    of messages flagged), one entry per threshold. Used by the threshold widget (lesson 03).
    """
    y = _binary(y_true)
    proba = np.asarray(proba, dtype=float)
    t = np.asarray(thresholds, dtype=float)
    flagged = proba[None, :] >= t[:, None]
    tp = (flagged & (y == 1)).sum(1)
    fp = (flagged & (y == 0)).sum(1)
    fn = int((y == 1).sum()) - tp
    tn = int((y == 0).sum()) - fp
    return {"threshold": t, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": _divide(tp, tp + fp), "recall": _divide(tp, tp + fn),
            "f1": f1_from_counts(tp, fp, fn), "flagged_rate": (tp + fp) / len(y)}


def brier(y_true: Any, proba: Any) -> float:
    """Mean squared difference between the predicted probability and the 0/1 outcome."""
    y = _binary(y_true)
    return float(np.mean((np.asarray(proba, dtype=float) - y) ** 2))


# --- regression ------------------------------------------------------------------------------------
def _errors(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have one shape; y_true has shape {y.shape} but y_pred {p.shape}.")
    return y, y - p


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error (lesson 03's bike counts, lesson 06's promotion gate)."""
    return float(np.mean(np.abs(_errors(y_true, y_pred)[1])))


def relative_error(y_true: Any, y_pred: Any) -> float:
    """:func:`mae` divided by the mean of ``y_true`` (0.25: off by a quarter of the typical count;
    lesson 00's stale model, lesson 06's weekly errors)."""
    y = np.asarray(y_true, dtype=float)
    if y.size == 0:
        raise ValueError("Need two non-empty arrays of one shape; got empty ones.")
    if y.mean() <= 0:
        raise ValueError("The mean of y_true is not positive: a relative error has nothing to compare with.")
    return mae(y, y_pred) / float(y.mean())


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """MAE, RMSE and R² (lesson 03, bike counts)."""
    y, err = _errors(y_true, y_pred)
    return {"mae": mae(y_true, y_pred), "rmse": float(np.sqrt(np.mean(err**2))),
            "r2": float(1 - np.sum(err**2) / np.sum((y - y.mean()) ** 2))}


# --- ranking ---------------------------------------------------------------------------------------
def _order(scores: Any) -> np.ndarray:
    """Indices from the highest score down (a stable sort: ties keep their input order)."""
    return np.argsort(-np.asarray(scores, dtype=float), kind="stable")


def precision_at_k(y_true: Any, scores: Any, k: int) -> float:
    """The share of relevant items among the k highest-scored (lesson 03: a moderator's queue).
    Ties at the cut keep the input order (a queue shows k messages, not a tied group)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    y = np.asarray(y_true)[_order(scores)][:k]
    return float((y > 0).sum() / k)


def average_precision(y_true: Any, scores: Any) -> float:
    """The mean of the precision at each rank where recall grows, i.e. sum over distinct
    score thresholds of (gain in recall) x precision. Tied scores are one threshold, as in
    scikit-learn's ``average_precision_score``."""
    y = (np.asarray(y_true) > 0).astype(float)
    s = np.asarray(scores, dtype=float)
    if y.sum() == 0:
        return 0.0
    order = _order(s)
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last item of each group of tied scores
    tp = np.cumsum(y)[last]
    precision, recall = tp / (last + 1), tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mean_average_precision(y_true: Any, scores: Any, groups: Any) -> float:
    """MAP: the average precision of each group's own ranking (a query, a user, a day's
    queue), averaged over the groups that hold at least one relevant item."""
    y, s, g = np.asarray(y_true), np.asarray(scores, dtype=float), np.asarray(groups)
    aps = [average_precision(y[g == key], s[g == key]) for key in np.unique(g) if (y[g == key] > 0).any()]
    return float(np.mean(aps)) if aps else 0.0


def dcg_at_k(relevance: Any, scores: Any, k: int) -> float:
    """Discounted cumulative gain: the relevance at rank r counts 1/log2(r + 1), top k only.
    Items with tied scores share their ranks' discounts equally (scikit-learn's ``dcg_score``)."""
    rel, s = np.asarray(relevance, dtype=float), np.asarray(scores, dtype=float)
    discount = 1 / np.log2(np.arange(2, len(s) + 2))
    discount[k:] = 0.0
    _, group, counts = np.unique(-s, return_inverse=True, return_counts=True)  # groups, highest score first
    mean_gain = np.bincount(group, weights=rel) / counts
    group_discount = np.diff(np.r_[0.0, np.cumsum(discount)[np.cumsum(counts) - 1]])
    return float(np.sum(mean_gain * group_discount))


def ndcg_at_k(relevance: Any, scores: Any, k: int) -> float:
    """DCG@k divided by the DCG@k of the best possible order (1.0 = perfect ranking)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    ideal = dcg_at_k(relevance, relevance, k)
    return dcg_at_k(relevance, scores, k) / ideal if ideal > 0 else 0.0


def f1(y_true: Any, y_pred: Any) -> float:
    """F1 of the positive class of 0/1 labels (:func:`f1_from_counts`; scikit-learn's ``f1_score``,
    about 50 times faster: for bootstraps)."""
    y, p = np.asarray(y_true), np.asarray(y_pred)
    tp = np.count_nonzero((p == 1) & (y == 1))
    fp = np.count_nonzero((p == 1) & (y != 1))
    return float(f1_from_counts(tp, fp, np.count_nonzero(y == 1) - tp))
