"""Lesson 00, "No monitoring": the stale-versus-refitted comparison on the bike data."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error

from mlkit.course import datasets
from mlkit.overview import degradation
from mlkit.training import bike


@pytest.fixture(scope="module")
def bikes():
    return degradation.add_features(datasets.load_bike_sharing())


@pytest.fixture(scope="module")
def predictions(bikes):
    return degradation.predict_later_months(bikes)


def test_relative_error_is_mae_over_mean_and_refuses_bad_input():
    y, p = np.array([10.0, 20.0, 30.0]), np.array([12.0, 15.0, 30.0])
    assert degradation.relative_error(y, p) == pytest.approx(mean_absolute_error(y, p) / 20.0)
    assert degradation.relative_error(2 * y, 2 * p) == pytest.approx(degradation.relative_error(y, p))  # scale-free
    with pytest.raises(ValueError, match="one shape"):
        degradation.relative_error(y, p[:2])
    with pytest.raises(ValueError, match="not positive"):
        degradation.relative_error([0, 0], [1, 1])


def test_months_and_days_are_added_and_missing_columns_are_named(bikes):
    assert sorted(bikes.month.unique()) == list(range(1, 13)) and bikes.date.nunique() == 365
    assert (bikes.date <= bikes.datetime).all()
    with pytest.raises(KeyError, match="load_bike_sharing"):
        degradation.add_features(bikes.drop(columns=["hr"]))


def test_model_learns_the_two_commuter_peaks_a_straight_line_in_hr_cannot(bikes):
    model = degradation.fit(bikes, range(1, 13))
    assert isinstance(model, bike.BikeModel)  # the course's one bike model
    day = pd.DataFrame({"hr": range(24), "workingday": 1, "weathersit": "clear", "temp": 0.5, "hum": 0.5,
                        "windspeed": 0.2})
    profile = model.predict(day)
    assert set(np.argsort(profile)[-2:]) == {8, 17}  # the morning and evening rush hours
    assert profile[3] < profile[8] / 4 and profile[3] < profile[17] / 4


def test_both_models_predict_the_same_rows_and_the_refit_uses_the_months_before(bikes, predictions):
    assert sorted(predictions.month.unique()) == list(range(5, 13))
    assert len(predictions) == int(bikes.month.between(5, 12).sum())
    july = predictions[predictions.month == 7]
    refit = degradation.fit(bikes, [4, 5, 6]).predict(july)
    stale = degradation.fit(bikes, [1, 2, 3]).predict(july)
    np.testing.assert_allclose(july.refitted, refit)
    np.testing.assert_allclose(july.stale, stale)
    with pytest.raises(ValueError, match="start after month 4"):
        degradation.predict_later_months(bikes, eval_months=[3])
    with pytest.raises(ValueError, match="No rows for month"):
        degradation.months(bikes, [13])


def test_by_month_matches_a_direct_computation(predictions):
    table = degradation.by_month(predictions)
    aug = predictions[predictions.month == 8]
    assert table.loc[8, "stale"] == pytest.approx(mean_absolute_error(aug.bikers, aug.stale) / aug.bikers.mean())
    assert table.loc[8, "riders"] == pytest.approx(aug.bikers.mean())
    np.testing.assert_allclose(table.ratio, table.stale / table.refitted)


def test_the_lessons_conclusion_holds_on_the_real_data(predictions):
    """What the lesson says: the stale model is worse than a refit in every later month,
    and clearly so over the summer, also at the low end of a bootstrap interval."""
    table = degradation.by_month(predictions)
    assert (table.ratio > 1.1).all(), table.ratio
    assert (table.stale_bias < 0).all()  # it predicts too few riders: the system grew
    summer = predictions[predictions.month.between(6, 8)]
    for seed in (0, 1, 2):
        low = np.percentile(degradation.bootstrap_ratio(summer, n=400, seed=seed), 2.5)
        assert low > 1.4, (seed, low)


def test_bootstrap_resamples_whole_days_reproducibly():
    days = pd.to_datetime(["2011-07-01"] * 3 + ["2011-07-02"] * 3 + ["2011-07-03"] * 3)
    frame = pd.DataFrame({"date": days, "month": 7, "bikers": 10.0,
                          "stale": [12.0] * 6 + [20.0] * 3, "refitted": 11.0})
    a = degradation.bootstrap_ratio(frame, n=300, seed=4)
    assert np.array_equal(a, degradation.bootstrap_ratio(frame, n=300, seed=4))
    assert a.min() == pytest.approx(2.0) and a.max() == pytest.approx(10.0)  # all day 1-2, all day 3
    same = frame.assign(stale=frame.refitted)
    assert np.allclose(degradation.bootstrap_ratio(same, n=50), 1.0)
    with pytest.raises(ValueError, match="two days"):
        degradation.bootstrap_ratio(frame[frame.date == days[0]])


def test_plot_shows_both_models_by_month(predictions):
    table = degradation.by_month(predictions)
    fig = degradation.plot_comparison(table)
    stale_line, refit_line = fig.axes[0].get_lines()[:2]
    np.testing.assert_allclose(stale_line.get_ydata(), table.stale)
    np.testing.assert_allclose(refit_line.get_ydata(), table.refitted)


@pytest.mark.parametrize("stale_months, window", [((1, 2, 3), 1), ((1, 2, 3), 2), ((1, 2, 3, 4), 3)])
def test_the_conclusion_does_not_hang_on_the_choice_of_months(bikes, stale_months, window):
    """Another refit window or a stale model fitted one month longer: still worse in every month."""
    preds = degradation.predict_later_months(bikes, stale_months, range(max(stale_months) + 2, 13), window)
    assert (degradation.by_month(preds).ratio > 1.1).all()
