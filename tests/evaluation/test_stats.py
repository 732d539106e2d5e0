"""mlkit.evaluation.stats: bootstrap intervals, paired differences, verdicts, the McNemar table, A/B traffic."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score
from statsmodels.stats.contingency_tables import mcnemar

from mlkit.evaluation import stats


@pytest.fixture
def preds():
    rng = np.random.default_rng(0)
    y = (rng.random(800) < 0.15).astype(int)
    a = np.where(rng.random(800) < 0.9, y, 1 - y)
    b = np.where(rng.random(800) < 0.93, y, 1 - y)
    return y, a, b


def test_bootstrap_interval_contains_the_point_estimate(preds):
    y, a, _ = preds
    ci = stats.bootstrap(f1_score, y, a, n_boot=200, seed=1)
    assert ci.low <= ci.estimate <= ci.high
    assert ci.estimate == pytest.approx(f1_score(y, a))
    assert len(ci.samples) == 200 and 0 < ci.width < 0.3
    again = stats.bootstrap(f1_score, y, a, n_boot=200, seed=1)
    assert (again.low, again.high) == (ci.low, ci.high)  # seeded


def test_paired_difference_is_narrower_than_unpaired(preds):
    y, a, b = preds
    paired = stats.paired_difference(f1_score, y, a, b, n_boot=300, seed=0)
    assert paired.estimate == pytest.approx(f1_score(y, b) - f1_score(y, a))
    ia, ib = (stats.bootstrap(f1_score, y, p, n_boot=300, seed=s) for p, s in ((a, 1), (b, 2)))
    unpaired_sd = np.std(ib.samples - ia.samples)
    assert np.std(paired.samples) < unpaired_sd


def test_verdict_reports_a_non_significant_winner():
    assert stats.verdict(stats.Interval(0.01, -0.02, 0.04)).startswith("not significant")
    assert "B is ahead" in stats.verdict(stats.Interval(0.01, -0.02, 0.04))
    assert stats.verdict(stats.Interval(0.03, 0.01, 0.05), "old", "new").startswith("new is better")
    assert stats.verdict(stats.Interval(-0.03, -0.05, -0.01), "old", "new").startswith("old is better")
    assert "score the same" in stats.verdict(stats.Interval(0.0, 0.0, 0.0))
    assert "0.0004" in stats.verdict(stats.Interval(0.0004, -0.001, 0.002), digits=4)


def test_mcnemar_table_layout(preds):
    y, a, b = preds
    t = stats.mcnemar_table(y, a, b)
    assert t.sum() == len(y)
    assert t[0, 1] == np.sum((a == y) & (b != y)) and t[1, 0] == np.sum((a != y) & (b == y))
    # statsmodels' exact test on it counts only the discordant pairs: swapping A and B changes nothing
    assert mcnemar(t, exact=True).pvalue == pytest.approx(mcnemar(stats.mcnemar_table(y, b, a), exact=True).pvalue)


def test_simulate_ab_counts():
    out = stats.simulate_ab(np.zeros(100), np.ones(100), 250, seed=0)
    assert out == {"errors_a": 0, "n_a": 250, "errors_b": 250, "n_b": 250}


def test_bad_input():
    with pytest.raises(ValueError, match="same length"):
        stats.bootstrap(f1_score, [0, 1], [0])
    with pytest.raises(ValueError, match="too few"):
        stats.bootstrap(f1_score, [0, 1], [0, 1], n_boot=2)
