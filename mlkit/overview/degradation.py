"""Lesson 00, "No monitoring": what a model that is never refitted costs, measured fairly.

A model of hourly bike rentals (the course's one bike model, :mod:`mlkit.training.bike`) is
fitted once on January-March 2011 (the *stale* model) and compared, month by month, with the
same model refitted on the three months just before the month it predicts (the *refitted*
model). Both predict the SAME month, and the error is relative to that month's ridership
(MAE / mean riders), so busier months do not look worse just because they are busier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mlkit.evaluation.metrics import relative_error  # lesson 00 calls it as degradation.relative_error
from mlkit.training import bike

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

TARGET = bike.TARGET


def add_features(bikes: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``bikes`` with ``month`` and ``date`` (the groups lesson 00 compares and resamples).

    The model's own features (the hour of the day as a category per kind of day, the weather)
    are made by the model itself (:func:`mlkit.training.bike.encode`).
    """
    bike.check_columns(bikes, ("datetime", *bike.INPUTS, TARGET))
    out = bikes.copy()
    out["month"] = out["datetime"].dt.month
    out["date"] = out["datetime"].dt.normalize()
    return out


def months(bikes: pd.DataFrame, selected: Iterable[int]) -> pd.DataFrame:
    """The rows of ``bikes`` (from :func:`add_features`) whose month is in ``selected``."""
    selected = list(selected)
    rows = bikes[bikes["month"].isin(selected)]
    if rows.empty:
        raise ValueError(f"No rows for month(s) {selected}; the data has months "
                         f"{sorted(bikes['month'].unique())}.")
    return rows


def fit(bikes: pd.DataFrame, selected: Iterable[int]) -> bike.BikeModel:
    """The bike model fitted on the given months of ``bikes``."""
    return bike.BikeModel.fit(months(bikes, selected))


def predict_later_months(bikes: pd.DataFrame, stale_months: Sequence[int] = (1, 2, 3),
                         eval_months: Iterable[int] = range(5, 13), window: int = 3) -> pd.DataFrame:
    """The rows of ``eval_months`` with two predictions each: ``stale`` and ``refitted``.

    The stale model is fitted once on ``stale_months``; for each month ``m`` a fresh model
    is fitted on the ``window`` months just before ``m``. Both predict the same rows.
    """
    import pandas as pd

    stale = fit(bikes, stale_months)
    parts = []
    for m in eval_months:
        recent = range(m - window, m)
        if m <= max(stale_months) or set(recent) <= set(stale_months):
            raise ValueError(f"Month {m} is not later than the stale model's data {list(stale_months)}, or "
                             f"its refit months {list(recent)} hold nothing newer: start after month "
                             f"{max(stale_months) + 1}.")
        target = months(bikes, [m])[["date", "month", *bike.INPUTS, TARGET]].copy()
        target["stale"] = stale.predict(target)
        target["refitted"] = fit(bikes, recent).predict(target)
        parts.append(target)
    return pd.concat(parts)


def by_month(predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per month of :func:`predict_later_months`' output.

    Columns: ``riders`` (mean per hour), ``stale`` and ``refitted`` (relative errors),
    ``ratio`` (stale / refitted) and ``stale_bias`` (mean error / mean riders; negative:
    the stale model predicts too few riders).
    """
    import pandas as pd

    rows = {}
    for m, g in predictions.groupby("month"):
        y = g[TARGET]
        rows[m] = {"riders": y.mean(), "stale": relative_error(y, g["stale"]),
                   "refitted": relative_error(y, g["refitted"]),
                   "stale_bias": float((g["stale"] - y).mean() / y.mean())}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("month")
    table["ratio"] = table["stale"] / table["refitted"]
    return table


def bootstrap_ratio(predictions: pd.DataFrame, n: int = 1000, seed: int = 0) -> np.ndarray:
    """``n`` bootstrap values of (stale relative error) / (refitted relative error).

    Whole days are resampled with replacement (the hours of one day are not independent),
    so the spread says how much the ratio depends on which days happened to be observed.
    It does not cover the randomness of the training data.
    """
    import numpy as np

    y = predictions[TARGET]
    per_day = (predictions.assign(stale=(predictions["stale"] - y).abs(),
                                  refitted=(predictions["refitted"] - y).abs())
               .groupby("date")[[TARGET, "stale", "refitted"]].sum().to_numpy())
    if len(per_day) < 2:
        raise ValueError("Need at least two days to resample.")
    rng = np.random.default_rng(seed)
    sums = per_day[rng.integers(0, len(per_day), size=(n, len(per_day)))].sum(axis=1)
    return sums[:, 1] / sums[:, 2]  # riders cancel: (stale error / riders) / (refitted error / riders)


def plot_comparison(table: pd.DataFrame, stale_months: Sequence[int] = (1, 2, 3)):
    """Relative error by month of the stale and the refitted model (lesson 00)."""
    import calendar

    import matplotlib.pyplot as plt

    first, last = calendar.month_abbr[min(stale_months)], calendar.month_abbr[max(stale_months)]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(table.index, table["stale"], "o-", color="tab:red", label=f"stale: fitted once on {first}-{last}")
    ax.plot(table.index, table["refitted"], "s-", color="tab:green", label="refitted on the 3 months before")
    ax.set(xlabel="month of 2011 (the month both models predict)", ylabel="relative error (MAE / mean riders)",
           ylim=(0, None), title="Same month, same model design: only the age of the training data differs")
    ax.legend(loc="lower right")
    return fig
