"""mlkit.evaluation.metrics against scikit-learn, the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from mlkit.evaluation import metrics


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.2).astype(int)
    proba = np.clip(0.35 * y + rng.random(500) * 0.7, 0, 1)
    return y, proba


def test_classification_metrics_equal_sklearn(scored):
    y, proba = scored
    for t in (0.2, 0.5, 0.8, 0.99):
        pred = (proba >= t).astype(int)
        got = metrics.classification_metrics(y, pred)
        assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
        assert got["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
        assert got["recall"] == pytest.approx(skm.recall_score(y, pred))
        assert got["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0))
        tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
        assert metrics.confusion_counts(y, pred) == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def test_at_threshold_matches_one_threshold_at_a_time(scored):
    y, proba = scored
    ts = np.linspace(0.05, 0.95, 19)
    table = metrics.at_threshold(y, proba, ts)
    for i, t in enumerate(ts):
        pred = (proba >= t).astype(int)
        assert table["precision"][i] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
        assert table["recall"][i] == pytest.approx(skm.recall_score(y, pred))
        assert table["flagged_rate"][i] == pytest.approx(pred.mean())


def test_brier_equals_sklearn(scored):
    y, proba = scored
    assert metrics.brier(y, proba) == pytest.approx(skm.brier_score_loss(y, proba))


def test_regression_metrics_equal_sklearn():
    rng = np.random.default_rng(1)
    y = rng.poisson(100, 300).astype(float)
    pred = y + rng.normal(0, 20, 300)
    got = metrics.regression_metrics(y, pred)
    assert got["mae"] == metrics.mae(y, pred) == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))


def test_ranking_metrics_equal_sklearn(scored):
    y, proba = scored
    for k in (1, 5, 10, 50, 500):
        assert metrics.ndcg_at_k(y, proba, k) == pytest.approx(skm.ndcg_score([y], [proba], k=k))
        assert metrics.precision_at_k(y, proba, k) == pytest.approx(y[np.argsort(-proba)][:k].mean())
    assert metrics.average_precision(y, proba) == pytest.approx(skm.average_precision_score(y, proba))
    graded = np.random.default_rng(2).integers(0, 4, 200)
    scores = graded + np.random.default_rng(3).normal(0, 1.5, 200)
    assert metrics.ndcg_at_k(graded, scores, 10) == pytest.approx(skm.ndcg_score([graded], [scores], k=10))


def test_ties_are_handled_as_sklearn_does():
    rng = np.random.default_rng(4)
    y = (rng.random(300) < 0.3).astype(int)
    scores = np.round(rng.random(300) + 0.5 * y, 1)  # many ties, as with saturated probabilities
    assert metrics.average_precision(y, scores) == pytest.approx(skm.average_precision_score(y, scores))
    for k in (1, 3, 10, 300):
        assert metrics.ndcg_at_k(y, scores, k) == pytest.approx(skm.ndcg_score([y], [scores], k=k))


def test_map_averages_per_group(scored):
    y, proba = scored
    groups = np.arange(len(y)) // 50
    want = np.mean([skm.average_precision_score(y[groups == g], proba[groups == g])
                    for g in np.unique(groups) if y[groups == g].any()])
    assert metrics.mean_average_precision(y, proba, groups) == pytest.approx(want)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="0/1"):
        metrics.confusion_counts([0, 2], [0, 1])
    with pytest.raises(ValueError, match="k must be"):
        metrics.ndcg_at_k([1, 0], [0.2, 0.1], 0)
    with pytest.raises(ValueError, match="same|labels"):
        metrics.confusion_counts([0, 1, 1], [0, 1])


def test_fast_f1_equals_sklearn(scored):
    y, proba = scored
    for t in (0.1, 0.5, 0.9, 2.0):
        pred = (proba >= t).astype(int)
        assert metrics.f1(y, pred) == pytest.approx(skm.f1_score(y, pred, zero_division=0))
    c = metrics.confusion_counts(y, (proba >= 0.5).astype(int))
    assert metrics.f1_from_counts(c["tp"], c["fp"], c["fn"]) == metrics.f1(y, (proba >= 0.5).astype(int))
    assert metrics.f1([0, 0], [0, 0]) == 0.0 and metrics.f1([1, 0], [0, 1]) == 0.0  # nothing right: 0, not NaN
