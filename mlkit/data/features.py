"""Lesson 01, features: training/serving skew, and the small feature store that prevents it.

The feature is the bike-demand model's (lesson 00) view of the recent past: the mean number of
riders per hour over the last three closed hours, per entity (the bike system; a station or a
user in a bigger store).

* The failure: the training team computes it in pandas over the whole log
  (:func:`training_batch`); the serving team writes it again for one request
  (:func:`serving_rewrite`), with one character changed. Both look right; they disagree:
  ``range(1, hours)`` stops one hour short, so the serving copy adds ``hours - 1`` hours and
  divides by ``hours``. It is kept as the lesson's example of skew; never serve it.
* The fix: one definition (:class:`WindowFeature`, a DuckDB query) computes the offline table;
  training reads it through a point-in-time join (:data:`ASOF_JOIN`: each label gets the newest
  value that was available at the label's time, never a later one; :data:`NAIVE_JOIN` is the
  leak), serving reads the same rows from an online table in sqlite (:class:`OnlineStore`).

pandas is imported inside the functions; duckdb is the caller's (a connection is passed in).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlkit.course.errors import MlkitError

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

ENTITY = "entity"  # the key of every feature row
TIME = "datetime"  # the log's hour, and a label's (request's) time
LOG_COLUMNS = (ENTITY, TIME, "bikers")


def ride_log(bikes: pd.DataFrame) -> pd.DataFrame:
    """The ride log behind the bike data (``mlkit.course.datasets.load_bike_sharing()`` with an
    ``entity`` column): ``entity, datetime, bikers``, one row per hour that had rides (an hour with
    no ride has no row), sorted by time."""
    missing = [c for c in LOG_COLUMNS if c not in bikes.columns]
    if missing:
        raise KeyError(f"The bike data lacks {missing}: load it with mlkit.course.datasets.load_bike_sharing() "
                       f"and name its entity, e.g. .assign({ENTITY}='dc').")
    log = bikes[list(LOG_COLUMNS)].astype({TIME: "datetime64[us]"})
    return log.sort_values([TIME, ENTITY], ignore_index=True)


# ------------------------------------------------------------------ the failure: written twice
def training_batch(log: pd.DataFrame, hours: int = 3) -> pd.Series:
    """The training team's feature, in pandas over the whole log of one entity: for each hour t, the
    mean riders per hour over the ``hours`` hours before t. An hour with no row counts 0 riders."""
    if log[ENTITY].nunique() != 1:
        raise ValueError("training_batch computes one entity's feature: pass log[log.entity == ...].")
    per_hour = log.set_index(TIME)["bikers"].asfreq("h", fill_value=0)
    return per_hour.rolling(hours).mean().shift(1, freq="h").rename(f"riders_last_{hours}h")


def riders_by_hour(log: pd.DataFrame, entity: str) -> dict[pd.Timestamp, int]:
    """The serving side's view of the log: a key-value lookup, hour -> riders of ``entity``, as a
    cache such as Redis would hold it for the request handler. An hour with no ride has no key."""
    rows = log[log[ENTITY] == entity]
    if rows.empty:
        raise KeyError(f"No ride of entity {entity!r} in the log; it has {sorted(set(log[ENTITY]))[:5]}.")
    return dict(zip(rows[TIME], rows["bikers"].astype(int)))


def serving_rewrite(riders: dict[pd.Timestamp, int], t: pd.Timestamp, hours: int = 3) -> float:
    """The serving team's copy, for one request at time ``t``: the mean riders per hour over the
    ``hours`` hours before t, from the lookup :func:`riders_by_hour`; an hour with no ride counts 0."""
    import pandas as pd

    return sum(riders.get(t - pd.Timedelta(hours=h), 0) for h in range(1, hours)) / hours


# ------------------------------------------------------------------ the fix: one definition
@dataclass(frozen=True)
class WindowFeature:
    """One feature definition: the mean of ``column`` over the last ``hours`` hours of the table
    ``source`` (``entity, datetime, column``), per entity, an hour with no row counting 0.

    :meth:`sql` is the only code that computes it. Its rows: ``entity``, ``hour`` (the window's
    last hour, the value's event time), ``available_at`` (``hour`` + 1 h: the hour must close
    before its riders are counted) and the value, named ``name``; NULL until a window is full.
    """

    name: str = "riders_last_3h"
    column: str = "bikers"
    hours: int = 3
    source: str = "log"

    def sql(self) -> str:
        """The DuckDB query that computes the offline table of this feature."""
        if not (self.name.isidentifier() and self.column.isidentifier() and self.source.isidentifier()):
            raise MlkitError(f"Feature {self.name!r}: name, column and source must be plain SQL identifiers.")
        if self.hours < 1:
            raise MlkitError(f"Feature {self.name!r}: the window needs at least 1 hour, not {self.hours}.")
        return f"""
WITH grid AS (  -- every hour of each entity's history, also the hours without a row
    SELECT {ENTITY}, unnest(generate_series(min({TIME}), max({TIME}), INTERVAL 1 HOUR)) AS hour
    FROM {self.source} GROUP BY {ENTITY}
)
SELECT g.{ENTITY}, g.hour, g.hour + INTERVAL 1 HOUR AS available_at,
       CASE WHEN count(*) OVER w = {self.hours}
            THEN avg(coalesce(s.{self.column}, 0)) OVER w END AS {self.name}
FROM grid AS g LEFT JOIN {self.source} AS s ON s.{ENTITY} = g.{ENTITY} AND s.{TIME} = g.hour
WINDOW w AS (PARTITION BY g.{ENTITY} ORDER BY g.hour
             RANGE BETWEEN INTERVAL {self.hours - 1} HOUR PRECEDING AND CURRENT ROW)
ORDER BY g.hour, g.{ENTITY}"""


RIDERS_LAST_3H = WindowFeature()

# Training reads the offline table through one of these joins (tables ``labels`` and ``offline``).
ASOF_JOIN = f"""
SELECT l.*, f.* EXCLUDE ({ENTITY})
FROM labels AS l ASOF LEFT JOIN offline AS f
  ON l.{ENTITY} = f.{ENTITY} AND l.{TIME} >= f.available_at  -- the newest value known at the label's time
ORDER BY l.{ENTITY}, l.{TIME}"""

NAIVE_JOIN = f"""
SELECT l.*, f.* EXCLUDE ({ENTITY})
FROM labels AS l LEFT JOIN offline AS f
  ON l.{ENTITY} = f.{ENTITY} AND l.{TIME} = f.hour  -- same time stamp: the window holds the label's own hour
ORDER BY l.{ENTITY}, l.{TIME}"""


def offline_table(con: duckdb.DuckDBPyConnection, feature: WindowFeature = RIDERS_LAST_3H) -> pd.DataFrame:
    """Compute ``feature`` with its definition into the table ``offline`` of ``con`` (which must hold
    ``feature.source``), and return it."""
    con.execute(f"CREATE OR REPLACE TABLE offline AS {feature.sql()}")
    return con.sql("SELECT * FROM offline").df()


def join(con: duckdb.DuckDBPyConnection, labels: pd.DataFrame, sql: str = ASOF_JOIN) -> pd.DataFrame:
    """``labels`` (``entity, datetime, ...``) joined to the table ``offline`` of ``con`` by ``sql``
    (:data:`ASOF_JOIN` or :data:`NAIVE_JOIN`), one row per label."""
    missing = [c for c in (ENTITY, TIME) if c not in labels.columns]
    if missing:
        raise KeyError(f"The labels lack {missing}: each label needs an {ENTITY} and its time ({TIME}).")
    con.register("labels", labels.astype({TIME: "datetime64[us]"}))
    try:
        return con.sql(sql).df()
    finally:
        con.unregister("labels")


# ------------------------------------------------------------------ serving: the online store
class OnlineStore:
    """The online table (sqlite): the newest value of each feature per entity, the one a request reads.
    ``fresh=True`` deletes the file first.

    :meth:`materialize` copies offline rows that became available in ``(start, end]`` (Feast's word
    for it); a row never replaces a newer one. :meth:`get` is what serving calls.
    """

    def __init__(self, path: str | Path, fresh: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:  # a replay starts from an empty table: an old run's newer values would win
            for old in (self.path, *self.path.parent.glob(self.path.name + "-*")):
                old.unlink(missing_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode = WAL")  # a write is a commit, not a sync of the whole file
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS online (entity TEXT, feature TEXT, value REAL, "
                        "available_at TEXT, PRIMARY KEY (entity, feature))")

    def __repr__(self) -> str:
        n = self.db.execute("SELECT count(*) FROM online").fetchone()[0]
        return f"OnlineStore({self.path.name}: {n} values)"

    def materialize(self, offline: pd.DataFrame, names: list[str], end: pd.Timestamp,
                    start: pd.Timestamp | None = None) -> int:
        """Copy the values of ``names`` from ``offline`` rows with ``start < available_at <= end``
        (``offline`` sorted by ``available_at``, as :func:`offline_table` returns it);
        return how many values were written."""
        import numpy as np

        times = offline["available_at"].to_numpy()
        if (np.diff(times) < np.timedelta64(0)).any():
            raise MlkitError("materialize needs the offline rows sorted by available_at, as offline_table returns them.")
        lo = 0 if start is None else int(np.searchsorted(times, np.datetime64(start), side="right"))
        hi = int(np.searchsorted(times, np.datetime64(end), side="right"))
        entities = offline[ENTITY].to_numpy()[lo:hi]
        rows = [(entities[i], name, None if np.isnan(v[i]) else float(v[i]), str(times[lo + i]))
                for name, v in ((n, offline[n].to_numpy(float)[lo:hi]) for n in names) for i in range(hi - lo)]
        self.db.executemany(
            "INSERT INTO online VALUES (?, ?, ?, ?) ON CONFLICT (entity, feature) DO UPDATE SET "
            "value = excluded.value, available_at = excluded.available_at "
            "WHERE excluded.available_at > online.available_at", rows)
        self.db.commit()
        return len(rows)

    def get(self, entity: str, name: str) -> float | None:
        """The newest value of the feature ``name`` for ``entity``; None when it has none yet."""
        row = self.db.execute("SELECT value FROM online WHERE entity = ? AND feature = ?", (entity, name)).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        self.db.close()
