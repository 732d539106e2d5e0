"""The drift injector: a shift moves the scores and the alert; callbacks never raise."""

from __future__ import annotations

import pytest

from mlkit.course import datasets
from mlkit.monitoring import drift, widget

COLUMNS = ["temp", "atemp", "hum", "windspeed"]


@pytest.fixture(scope="module")
def injector():
    bikes = datasets.load_bike_sharing()
    july = bikes[bikes.mnth == "July"]
    odd = july.datetime.dt.day % 2 == 1
    return widget.DriftInjector(drift.DriftDetector(july[odd], COLUMNS), july[~odd])


def test_click_shifts_and_the_alert_follows(injector):
    injector.shift.value = 0.0
    before = injector.text
    assert "no alert" in before and not injector.result.drifted
    after = injector.click()
    assert after != before and injector.shift.value == 0.25
    assert "ALERT DataDrift firing" in after and injector.result.share == 1.0
    assert injector.errors == []


def test_one_column_is_not_a_dataset_drift(injector):
    injector.column.value = "hum"
    injector.shift.value = 1.5
    assert injector.result.scores()["hum"] < 0.05 and injector.result.share == 0.25
    assert "no alert" in injector.text
    injector.column.value = widget.ALL


def test_button_wraps_and_errors_are_shown_not_raised(injector):
    injector.shift.value = injector.shift.max
    injector.click()
    assert injector.shift.value == injector.shift.min
    injector.current = injector.current.head(1)  # too small to test: shown in the widget, never raised
    injector.shift.value = 0.5
    assert "Could not check drift" in injector.text and injector.errors
