"""Lesson 06: the 2011 bike-sharing year as a production stream, replayed week by week.

Week ``w`` holds the hours from day ``7 w`` to ``7 w + 6`` of the year (the last day of the
year joins week 51). Features (weather, hour of day) are known when a prediction is made;
the label (``bikers``) arrives ``delay_days`` later, so at the start of week ``w`` the
labelled rows are those older than ``delay_days`` days.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

WEEKS = 52


def load_stream(bikes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The bike year (default: ``mlkit.course.datasets.load_bike_sharing()``) with a ``week`` column
    0..51 (lesson 06); it must hold the bike model's inputs and target (:mod:`mlkit.training.bike`)."""
    from mlkit.training import bike

    if bikes is None:
        from mlkit.course import datasets

        bikes = datasets.load_bike_sharing()
    bike.check_columns(bikes, ("datetime", *bike.INPUTS, bike.TARGET))
    out = bikes.copy()
    out["week"] = ((out["datetime"].dt.dayofyear - 1) // 7).clip(upper=WEEKS - 1).astype(int)
    return out.reset_index(drop=True)


def week_start(stream: pd.DataFrame, week: int) -> pd.Timestamp:
    """The first hour of ``week`` (midnight of its first day)."""
    import pandas as pd

    year = int(stream["datetime"].dt.year.min())
    return pd.Timestamp(year=year, month=1, day=1) + pd.Timedelta(days=7 * week)


def week_rows(stream: pd.DataFrame, week: int) -> pd.DataFrame:
    """The rows of one week."""
    return stream[stream["week"] == week]


def labelled_at(stream: pd.DataFrame, week: int, delay_days: float = 7, window_weeks: int | None = None
                ) -> pd.DataFrame:
    """The rows whose labels have arrived by the start of ``week``: older than ``delay_days``;
    with ``window_weeks``, only those of the last ``window_weeks`` weeks before ``week``."""
    import pandas as pd

    if delay_days < 0:
        raise ValueError(f"delay_days must be >= 0, not {delay_days}.")
    start = week_start(stream, week)
    rows = stream[stream["datetime"] < start - pd.Timedelta(days=delay_days)]
    if window_weeks is not None:
        rows = rows[rows["week"] >= week - window_weeks]
    return rows
