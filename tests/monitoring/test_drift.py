"""Drift statistics against scipy; the Evidently-backed detector on real bike-sharing data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlkit.course import datasets
from mlkit.monitoring import drift

COLUMNS = ["temp", "atemp", "hum", "windspeed"]


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return datasets.load_bike_sharing()


@pytest.fixture(scope="module")
def halves(bikes):
    july = bikes[bikes.mnth == "July"]
    odd = july.datetime.dt.day % 2 == 1
    return july[odd], july[~odd]


def test_ks_and_wasserstein_are_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 500), rng.normal(0.3, 1.2, 300)
    assert drift.ks(a, b) == pytest.approx(stats.ks_2samp(a, b).pvalue)
    assert drift.wasserstein(a, b) == pytest.approx(stats.wasserstein_distance(a, b) / np.std(a))


def test_psi_is_symmetrised_kl_over_the_bins():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 1, 5000), rng.uniform(0, 1, 3000) ** 1.5  # every bin holds both samples
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")
    p, q = np.histogram(a, edges)[0] / len(a), np.histogram(b, edges)[0] / len(b)
    assert p.min() > 0 and q.min() > 0
    assert drift.psi(a, b) == pytest.approx(stats.entropy(p, q) + stats.entropy(q, p))
    assert drift.psi(a, a) == pytest.approx(0.0)
    # few distinct values: one bin per value, as Evidently does
    c, d = rng.integers(0, 5, 1000), rng.integers(0, 6, 1000)
    vals = np.arange(6)
    p, q = (np.array([(x == v).mean() for v in vals]) for x in (c, d))
    p = np.where(p == 0, 1e-4, p)
    assert drift.psi(c, d) == pytest.approx(np.sum((p - q) * np.log(p / q)))


def test_is_drift_directions():
    assert drift.is_drift("ks", 0.01) and not drift.is_drift("ks", 0.2)
    assert drift.is_drift("psi", 0.3) and not drift.is_drift("psi", 0.05)
    assert drift.is_drift("wasserstein", 0.05, threshold=0.04)
    assert drift.auto_method(1000) == "ks" and drift.auto_method(1001) == "wasserstein"


def test_one_decision_at_the_threshold_itself():
    """Evidently's rule, at the edge: a p-value equal to its threshold is drift, and so is a distance."""
    assert drift.decide(0.05, 0.05, p_value=True) and not drift.decide(0.0501, 0.05, p_value=True)
    assert drift.decide(0.1, 0.1, p_value=False) and not drift.decide(0.0999, 0.1, p_value=False)
    assert drift.is_drift("ks", 0.05) and drift.is_drift("psi", 0.1) and not drift.is_drift("wasserstein", 0.0999)


def test_detector_finds_winter_vs_summer_and_not_within_a_month(bikes, halves):
    det = drift.DriftDetector(bikes[bikes.season == 1], COLUMNS)
    summer = det.check(bikes[bikes.season == 3])
    assert summer.drifted and summer.share == 1.0
    assert set(summer.table.method) == {"wasserstein"}  # > 1,000 reference rows: Evidently's choice
    within = drift.DriftDetector(halves[0], COLUMNS).check(halves[1])
    assert not within.drifted and set(within.table.method) == {"ks"}
    assert "no drift" in str(within)


@pytest.mark.parametrize("method", ["ks", "psi", "wasserstein"])
def test_quick_path_equals_evidently(halves, method):
    det = drift.DriftDetector(halves[0], COLUMNS, method=method)
    evid, quick = det.check(halves[1]), det.quick(halves[1])
    assert evid.share == quick.share and evid.drifted == quick.drifted
    np.testing.assert_allclose(evid.table.score, quick.table.score, rtol=1e-6, atol=1e-12)


def test_detector_errors_are_clear(bikes):
    with pytest.raises(ValueError, match="method must be"):
        drift.DriftDetector(bikes, COLUMNS, method="chi2")
    with pytest.raises(ValueError, match="no column"):
        drift.DriftDetector(bikes, ["nope"])
    det = drift.DriftDetector(bikes, COLUMNS)
    with pytest.raises(ValueError, match="lacks column"):
        det.quick(bikes[["temp"]])
    with pytest.raises(ValueError, match="at least 2"):
        det.quick(bikes.head(1))


def test_timeline_and_windows(bikes):
    det = drift.DriftDetector(bikes[bikes.mnth == "Jan"], COLUMNS, method="wasserstein")
    tl = drift.timeline(det, bikes, quick=True, progress=False)
    assert 50 <= len(tl) <= 53 and set(COLUMNS) <= set(tl.columns)
    assert tl.rows.min() >= 24
    summer = tl[tl.end.dt.month.isin([7, 8])]
    assert summer.drifted.all() and summer.temp.min() > 1  # summer is far from January


def test_false_alarm_rates_on_windows_without_drift(bikes):
    pool = bikes[bikes.season == 3]
    rates = drift.false_alarm_rates(pool, COLUMNS, reference_rows=1000, window_rows=168, n_windows=40, seed=0)
    by = rates.set_index("method")
    assert set(by.index) == {"ks", "psi", "wasserstein"}
    assert by.loc["ks", "false_alarm_rate"] <= 0.15  # ~5 % by construction of the test
    assert (rates.any_column_rate >= rates.false_alarm_rate).all()
    with pytest.raises(ValueError, match="too few"):
        drift.false_alarm_rates(pool.head(100), COLUMNS, reference_rows=90, window_rows=50, n_windows=2)
