"""mlkit.evaluation.fairness: Adult data prepared for Fairlearn, selection rates, the plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_difference, selection_rate

from mlkit.evaluation import fairness


@pytest.fixture(scope="module")
def adult():
    return fairness.adult_data(seed=0, n_rows=3000)


def test_adult_data(adult):
    assert len(adult.X_train) + len(adult.X_test) == 3000
    assert len(adult.A_test) == len(adult.y_test) == len(adult.X_test)
    assert set(adult.A_test.columns) == {"sex", "race"}
    assert 0.15 < adult.y_train.mean() < 0.35  # about 24% earn >50K
    assert all(dt.kind == "f" for dt in adult.X_train.dtypes) and not adult.X_train.isna().any().any()
    assert "fnlwgt" not in adult.X_train.columns and "income" not in " ".join(adult.X_train.columns)


def test_model_and_selection_rates_agree_with_fairlearn(adult):
    model = fairness.adult_model().fit(adult.X_train, adult.y_train)
    proba = model.predict_proba(adult.X_test)[:, 1]
    assert ((proba >= 0.5) == adult.y_test).mean() > 0.78
    rates = fairness.selection_rates(proba, adult.A_test.sex, 0.5)
    mf = MetricFrame(metrics=selection_rate, y_true=adult.y_test, y_pred=(proba >= 0.5).astype(int),
                     sensitive_features=adult.A_test.sex)
    pd.testing.assert_series_equal(rates.sort_index(), mf.by_group.sort_index(), check_names=False)
    dp = demographic_parity_difference(adult.y_test, (proba >= 0.5).astype(int), sensitive_features=adult.A_test.sex)
    assert rates.max() - rates.min() == pytest.approx(dp)
    assert fairness.selection_rates(proba, adult.A_test.sex, 1.01).eq(0).all()


def test_tradeoff_figure():
    points = pd.DataFrame({"model": ["a", "b"], "accuracy": [0.85, 0.83], "dp_difference": [0.18, 0.02]})
    fig = fairness.tradeoff_figure(points)
    ax = fig.axes[0]
    assert "demographic parity" in ax.get_xlabel() and len(ax.texts) == 2
    assert np.allclose(ax.lines[0].get_xdata(), [0.18, 0.02])
