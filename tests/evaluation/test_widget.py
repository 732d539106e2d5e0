"""mlkit.evaluation.widget: the threshold explorer updates everything, and never raises."""

from __future__ import annotations

import numpy as np
import pytest

from mlkit.evaluation import widget


@pytest.fixture
def explorer():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.15).astype(int)
    proba = np.clip(0.5 * y + 0.6 * rng.random(400), 0, 1)
    adult_p = rng.random(300)
    groups = {"sex": np.where(rng.random(300) < 0.5, "Female", "Male")}
    return widget.ThresholdExplorer(y, proba, adult_proba=adult_p, adult_groups=groups)


def test_button_changes_threshold_and_text(explorer):
    before_text, before = explorer.text, explorer.numbers()
    after_text = explorer.click()  # the first button: lower the threshold
    assert explorer.threshold == pytest.approx(0.45)
    assert after_text != before_text and explorer.errors == []
    after = explorer.numbers()
    assert after["review_per_1000"] >= before["review_per_1000"] and after["recall"] >= before["recall"]
    assert "per 1,000 messages" in after_text and "Female" in after_text


def test_numbers_are_consistent(explorer):
    n = explorer.numbers()
    assert n["tp"] + n["fp"] + n["fn"] + n["tn"] == 400
    assert n["precision_low"] <= n["precision"] <= n["precision_high"]
    assert n["recall_low"] <= n["recall"] <= n["recall_high"]
    assert n["review_per_1000"] == pytest.approx(1000 * (n["tp"] + n["fp"]) / 400)
    # Wilson intervals of precision (out of the flagged) and recall (out of the spam), as statsmodels gives them
    from statsmodels.stats.proportion import proportion_confint

    assert (n["precision_low"], n["precision_high"]) == pytest.approx(
        proportion_confint(n["tp"], n["tp"] + n["fp"], method="wilson"))
    assert (n["recall_low"], n["recall_high"]) == pytest.approx(
        proportion_confint(n["tp"], n["tp"] + n["fn"], method="wilson"))


def test_nothing_flagged_leaves_precision_unknown():
    explorer = widget.ThresholdExplorer([0, 1, 1, 0], [0.1, 0.8, 0.3, 0.2], threshold=0.9)
    n = explorer.numbers()
    assert n["tp"] + n["fp"] == 0 and (n["precision_low"], n["precision_high"]) == (0.0, 1.0)
    assert explorer.errors == []


def test_slider_bounds_and_errors_are_shown_not_raised(explorer):
    explorer.slider.value = 0.99
    explorer.higher.click()
    assert "highest" in explorer.text and explorer.errors == []
    explorer.proba = explorer.proba[:10]  # broken state: the callback must not raise
    explorer.slider.value = 0.5
    assert explorer.errors and "Could not update the threshold" in explorer.text


def test_bad_input():
    with pytest.raises(ValueError, match="labels but"):
        widget.ThresholdExplorer([0, 1], [0.5])
