"""Plumbing for the fairness part of lesson 03 (UCI Adult); the lesson calls Fairlearn itself.

* :func:`adult_data`: Adult as model-ready frames (one-hot features, the 0/1 label
  ">50K", and the sensitive features ``sex`` and ``race`` kept apart);
* :func:`adult_model`: the scikit-learn pipeline the lesson registers as "adult-income";
* :func:`selection_rates`: the share predicted ">50K" per group at a threshold (the widget);
* :func:`tradeoff_figure`: accuracy against demographic-parity difference, one point per model.

pandas and scikit-learn are imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

SENSITIVE = ("sex", "race")
LABEL = "income"
DROPPED = ("fnlwgt",)  # a census sampling weight, not a property of the person


@dataclass
class AdultData:
    """Adult split into train and test: features X, labels y (1 = ">50K"), sensitive A."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    A_train: pd.DataFrame
    A_test: pd.DataFrame

    @property
    def feature_names(self) -> list[str]:
        return list(self.X_train.columns)


def adult_data(seed: int = 0, test_size: float = 0.3, n_rows: int | None = None) -> AdultData:
    """UCI Adult (``mlkit.course.datasets.load_adult``) ready for a model (lesson 03).

    Categorical columns are one-hot encoded (missing values become their own "nan"
    category); ``sex`` and ``race`` stay *in* the features (dropping them does not remove
    their proxies, as the lesson shows) and are also returned apart as ``A_*`` for
    Fairlearn. ``n_rows`` keeps a stratified random subset (fast mode).
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from mlkit.course import datasets

    df = datasets.load_adult()
    if n_rows is not None and n_rows < len(df):
        df, _ = train_test_split(df, train_size=n_rows, random_state=seed, stratify=df[LABEL])
    y = (df[LABEL].str.strip() == ">50K").to_numpy().astype(int)
    features = df.drop(columns=[LABEL, *DROPPED])
    X = pd.get_dummies(features, dummy_na=False, dtype=float).astype(float)  # ages and hours as floats too
    X.columns = [c.replace(" ", "") for c in X.columns]
    A = df[list(SENSITIVE)].reset_index(drop=True)
    X = X.reset_index(drop=True)
    idx_train, idx_test = train_test_split(np.arange(len(X)), test_size=test_size, random_state=seed, stratify=y)
    return AdultData(X.iloc[idx_train].reset_index(drop=True), X.iloc[idx_test].reset_index(drop=True),
                     y[idx_train], y[idx_test],
                     A.iloc[idx_train].reset_index(drop=True), A.iloc[idx_test].reset_index(drop=True))


def adult_model(C: float = 1.0, max_iter: int = 300) -> Any:
    """The Adult model: standardised features, then a logistic regression (lesson 03).

    Linear, so ``shap.LinearExplainer`` explains it exactly and in milliseconds, and
    quick to refit, so Fairlearn's ``ExponentiatedGradient`` (which refits it many times)
    stays within a laptop's minute.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))


def selection_rates(proba: Any, groups: Any, threshold: float = 0.5) -> pd.Series:
    """Share of each group with ``proba >= threshold`` (predicted ">50K"), largest first."""
    import pandas as pd

    selected = pd.Series(np.asarray(proba, dtype=float) >= threshold)
    return selected.groupby(np.asarray(groups)).mean().sort_values(ascending=False)


def tradeoff_figure(points: pd.DataFrame, x: str = "dp_difference", y: str = "accuracy",
                    label: str = "model", title: str = "accuracy vs. fairness",
                    xlabel: str = "demographic parity difference (lower is fairer)") -> Any:
    """A scatter of one point per model: ``x`` (lower is fairer) against ``y`` (higher is better)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(points[x], points[y], color="0.8", zorder=1)
    for i, row in enumerate(points.itertuples(index=False)):
        ax.scatter(getattr(row, x), getattr(row, y), s=60, color=f"C{i}", zorder=2)
        ax.annotate(getattr(row, label), (getattr(row, x), getattr(row, y)), textcoords="offset points",
                    xytext=(6, 4), fontsize=9)
    ax.set(xlabel=xlabel, ylabel=y, title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig
