"""Data drift: three statistics and a reusable detector built on Evidently (lessons 05, 06).

The statistics, written out so you can read them (each is what Evidently computes for a
numeric column):

- **KS** (Kolmogorov-Smirnov): the p-value of "both samples come from one distribution";
  drift when p <= 0.05. A test: with enough rows it flags even tiny, harmless shifts.
- **PSI** (population stability index): ``sum((ref% - cur%) * ln(ref% / cur%))`` over
  histogram bins; drift when >= 0.1. An effect size, but biased upward on small windows.
- **Wasserstein** (earth mover's distance) divided by the reference's standard deviation;
  drift when >= 0.1. An effect size in "standard deviations moved".

:class:`DriftDetector` is the one way the course decides "has this data drifted?": it
runs an Evidently ``Report`` with ``DataDriftPreset`` and reads its verdict. Lesson 06
calls it to trigger retraining::

    detector = drift.DriftDetector(reference_df, columns=["temp", "hum"])
    result = detector.check(current_df)      # -> DriftResult
    if result.drifted: retrain()
    result.share, result.table               # share of drifted columns; per-column scores
    detector.report(current_df).save_html("drift.html")  # the Evidently snapshot

Evidently takes seconds to import, so it is imported inside the methods that use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# Evidently's names, default thresholds, and whether a larger score means more drift.
METHODS = {"ks": (0.05, False), "psi": (0.1, True), "wasserstein": (0.1, True)}


# --------------------------------------------------------------------------- the statistics
def ks(ref: Any, cur: Any) -> float:
    """The two-sample KS test's p-value (small = the samples differ)."""
    from scipy import stats

    return float(stats.ks_2samp(np.asarray(ref, float), np.asarray(cur, float)).pvalue)


def psi(ref: Any, cur: Any) -> float:
    """Population stability index over equal-width bins of both samples (Sturges' rule),
    empty bins filled with 0.0001: the recipe Evidently uses for a numeric column. A column
    with 20 or fewer distinct reference values gets one bin per value, as in Evidently."""
    ref, cur = np.asarray(ref, float), np.asarray(cur, float)
    if len(np.unique(ref[~np.isnan(ref)])) > 20:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        p = np.histogram(ref, edges)[0] / len(ref)
        q = np.histogram(cur, edges)[0] / len(cur)
    else:
        values = np.union1d(np.unique(ref[~np.isnan(ref)]), np.unique(cur[~np.isnan(cur)]))
        p = np.array([(ref == v).sum() for v in values]) / len(ref)
        q = np.array([(cur == v).sum() for v in values]) / len(cur)
    p, q = (_fill_zeros(x) for x in (p, q))
    return float(np.sum((p - q) * np.log(p / q)))


def _fill_zeros(x: np.ndarray) -> np.ndarray:
    nonzero = x[x > 0]
    small = nonzero.min() / 1e6 if nonzero.size and nonzero.min() <= 1e-4 else 1e-4
    return np.where(x == 0, small, x)


def wasserstein(ref: Any, cur: Any) -> float:
    """Wasserstein-1 distance divided by the reference's standard deviation."""
    from scipy import stats

    ref, cur = np.asarray(ref, float), np.asarray(cur, float)
    return float(stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 1e-3))


STATISTICS = {"ks": ks, "psi": psi, "wasserstein": wasserstein}


def auto_method(n_reference: int) -> str:
    """Evidently's default for a numeric column: KS up to 1,000 reference rows, else Wasserstein."""
    return "ks" if n_reference <= 1000 else "wasserstein"


def decide(score: float, threshold: float, p_value: bool) -> bool:
    """The course's one drift decision for a column: a test's p-value at or below its threshold
    (small: the samples differ), or a distance at or above it (as Evidently decides)."""
    return bool(score <= threshold) if p_value else bool(score >= threshold)


def is_drift(method: str, score: float, threshold: float | None = None) -> bool:
    """Whether ``score`` of ``method`` means drift at ``threshold`` (default: Evidently's)."""
    default, higher = METHODS[method]
    return decide(score, default if threshold is None else threshold, p_value=not higher)


# --------------------------------------------------------------------------- the detector
@dataclass(frozen=True)
class DriftResult:
    """The verdict on one current window.

    Attributes:
        drifted: dataset drift (the share of drifted columns reached ``drift_share``).
        share: the share of columns that drifted.
        table: one row per column: ``column``, ``method``, ``score``, ``threshold``, ``drifted``.
        rows: the number of rows in the current window.
    """

    drifted: bool
    share: float
    table: pd.DataFrame
    rows: int

    def scores(self) -> dict[str, float]:
        """{column: score}."""
        return dict(zip(self.table.column, self.table.score))

    def __str__(self) -> str:
        cols = ", ".join(f"{c} {s:.3g}{'*' if d else ''}" for c, s, d in
                         zip(self.table.column, self.table.score, self.table.drifted))
        return f"{'DRIFT' if self.drifted else 'no drift'}: {self.share:.0%} of columns drifted ({cols})"


class DriftDetector:
    """Is a current window drifted from the reference? Evidently's ``DataDriftPreset`` decides.

    Args:
        reference: the data the model was trained or validated on.
        columns: the numeric columns to watch (default: every numeric column).
        method: "ks", "psi" or "wasserstein"; None lets Evidently choose per column.
        threshold: the per-column threshold (None: the method's default).
        drift_share: dataset drift when at least this share of columns drifted.
    """

    def __init__(self, reference: pd.DataFrame, columns: Sequence[str] | None = None, *,
                 method: str | None = None, threshold: float | None = None, drift_share: float = 0.5) -> None:
        if method is not None and method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)} or None, not {method!r}.")
        if columns is None:
            columns = list(reference.select_dtypes("number").columns)
        missing = [c for c in columns if c not in reference.columns]
        if missing:
            raise ValueError(f"The reference has no column(s) {missing}; it has {list(reference.columns)}.")
        if len(reference) < 2:
            raise ValueError("The reference needs at least 2 rows.")
        self.columns = list(columns)
        self.reference = reference[self.columns].reset_index(drop=True)
        self.method, self.threshold, self.drift_share = method, threshold, drift_share

    def _current(self, current: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.columns if c not in current.columns]
        if missing:
            raise ValueError(f"The current data lacks column(s) {missing} that the detector watches.")
        if len(current) < 2:
            raise ValueError(f"The current window has {len(current)} row(s); a drift check needs at least 2.")
        return current[self.columns].reset_index(drop=True)

    def report(self, current: pd.DataFrame) -> Any:
        """Run Evidently's ``Report([DataDriftPreset(...)])``; returns its snapshot
        (``.dict()``, ``.save_html(path)``)."""
        from evidently import Report
        from evidently.presets import DataDriftPreset

        preset = DataDriftPreset(columns=self.columns, method=self.method, threshold=self.threshold,
                                 drift_share=self.drift_share)
        return Report([preset]).run(current_data=self._current(current), reference_data=self.reference)

    def check(self, current: pd.DataFrame) -> DriftResult:
        """The verdict on ``current``, read from Evidently's report."""
        return self.result_from(self.report(current), len(current))

    def result_from(self, snapshot: Any, rows: int) -> DriftResult:
        """A :class:`DriftResult` from an Evidently snapshot made by :meth:`report`."""
        import pandas as pd

        table, share = [], None
        for m in snapshot.dict()["metrics"]:
            cfg = m["config"]
            if cfg.get("type", "").endswith("ValueDrift"):
                method, score = _method_name(cfg["method"]), float(m["value"])
                pvalue = method == "ks" or "p_value" in cfg["method"].lower()  # a test: small = drift
                t = cfg.get("threshold")
                t = METHODS["ks" if pvalue else "wasserstein"][0] if t is None else t  # Evidently's defaults
                table.append({"column": cfg["column"], "method": method, "score": score, "threshold": t,
                              "drifted": decide(score, t, p_value=pvalue)})
            elif cfg.get("type", "").endswith("DriftedColumnsCount"):
                share = float(m["value"]["share"])
        df = pd.DataFrame(table, columns=["column", "method", "score", "threshold", "drifted"])
        return self._verdict(df, float(df.drifted.mean()) if share is None else share, rows)

    def _verdict(self, table: pd.DataFrame, share: float, rows: int) -> DriftResult:
        """Dataset drift: at least ``drift_share`` of the columns drifted (as Evidently decides)."""
        return DriftResult(bool(share >= self.drift_share), share, table, rows)

    def quick(self, current: pd.DataFrame) -> DriftResult:
        """The same verdict computed here with scipy (no Evidently): for loops over many
        windows and for widgets; tests check that it agrees with :meth:`check`. Every column
        is treated as numeric; Evidently may pick a categorical test (chi-square, z-test) for
        a column with few distinct values, so use :meth:`check` for such columns."""
        import pandas as pd

        cur = self._current(current)
        method = self.method or auto_method(len(self.reference))
        rows = []
        for c in self.columns:
            score = STATISTICS[method](self.reference[c], cur[c])
            t = METHODS[method][0] if self.threshold is None else self.threshold
            rows.append({"column": c, "method": method, "score": score, "threshold": t,
                         "drifted": is_drift(method, score, t)})
        df = pd.DataFrame(rows)
        return self._verdict(df, float(df.drifted.mean()), len(cur))


def _method_name(evidently_method: str) -> str:
    """Evidently's display name ("K-S p_value", "PSI", "Wasserstein distance (normed)") -> ours."""
    low = evidently_method.lower()
    return "ks" if low.startswith("k-s") else "psi" if "psi" in low else "wasserstein" if "wasserstein" in low else low


# --------------------------------------------------------------------------- windows
def windows(df: pd.DataFrame, freq: str = "W-SUN", time_col: str = "datetime",
            min_rows: int = 24) -> list[tuple[pd.Timestamp, pd.DataFrame]]:
    """Split ``df`` into calendar windows (weekly by default); windows under ``min_rows``
    rows (a partial first or last week) are dropped."""
    import pandas as pd

    groups = df.groupby(pd.Grouper(key=time_col, freq=freq))
    return [(start, g) for start, g in groups if len(g) >= min_rows]


def timeline(detector: DriftDetector, df: pd.DataFrame, *, freq: str = "W-SUN", time_col: str = "datetime",
             quick: bool = False, progress: bool = True) -> pd.DataFrame:
    """The drift verdict for every window of ``df``: one row per window with ``end``,
    ``rows``, ``share``, ``drifted`` and each column's score (Evidently, or scipy if ``quick``)."""
    import pandas as pd
    from tqdm.auto import tqdm

    rows = []
    for end, window in tqdm(windows(df, freq, time_col), desc="drift per window", disable=not progress):
        res = detector.quick(window) if quick else detector.check(window)
        rows.append({"end": end, "rows": res.rows, "share": res.share, "drifted": res.drifted, **res.scores()})
    return pd.DataFrame(rows)


def false_alarm_rates(pool: pd.DataFrame, columns: Sequence[str], *, reference_rows: int, window_rows: int,
                      n_windows: int, seed: int = 0,
                      thresholds: dict[str, float] | None = None) -> pd.DataFrame:
    """How often each statistic cries drift when there is none.

    ``pool`` is split at random into a reference of ``reference_rows`` rows and the rest;
    ``n_windows`` windows of ``window_rows`` rows are drawn from the rest. Every window comes
    from the same distribution as the reference, so every alarm is false. Returns one row per
    method: ``method``, ``threshold``, ``false_alarm_rate`` (per column check) and
    ``any_column_rate`` (windows where at least one column alarmed).
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(pool))
    ref = pool.iloc[idx[:reference_rows]]
    rest = pool.iloc[idx[reference_rows:]]
    if len(rest) < window_rows:
        raise ValueError(f"The pool has {len(pool)} rows: too few for a {reference_rows}-row reference "
                         f"and {window_rows}-row windows.")
    thresholds = {m: METHODS[m][0] for m in METHODS} | (thresholds or {})
    alarms = {m: np.zeros((n_windows, len(columns)), bool) for m in METHODS}
    for i in range(n_windows):
        win = rest.iloc[rng.choice(len(rest), window_rows, replace=False)]
        for m, stat in STATISTICS.items():
            for j, c in enumerate(columns):
                alarms[m][i, j] = is_drift(m, stat(ref[c], win[c]), thresholds[m])
    return pd.DataFrame([{"method": m, "threshold": thresholds[m], "false_alarm_rate": a.mean(),
                          "any_column_rate": a.any(axis=1).mean()} for m, a in alarms.items()])
