"""Lesson 01, formats and scale: CSV vs Parquet measured, and a partitioned data set.

:func:`make_large` grows the SMS data into a bigger, realistic-looking event table (each
row a unique text, a day and a user); :func:`csv_vs_parquet` writes it both ways and
times the reads; :func:`write_partitions` splits it by day with ``to_parquet(partition_cols=...)``
(Hive layout, ``day=N/`` folders), the layout that engines for larger-than-memory data
(Dask, Spark, DuckDB...) read one partition at a time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def make_large(df: pd.DataFrame, n_rows: int, n_days: int = 30, seed: int = 0) -> pd.DataFrame:
    """``n_rows`` messages drawn from ``df`` with a day (0..n_days-1), a user id and a
    per-row reference number appended to the text, so no two texts are identical."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(df), size=n_rows)
    ref = pd.Series(rng.integers(10_000_000, 99_999_999, size=n_rows)).astype(str)
    text = df["text"].to_numpy()[pick] + " ref" + ref.to_numpy()
    big = pd.DataFrame({
        "id": np.arange(n_rows, dtype="int64"),
        "day": np.sort(rng.integers(0, n_days, size=n_rows)).astype("int16"),
        "user": rng.integers(0, 50_000, size=n_rows).astype("int32"),
        "text": text,
        "label": df["label"].to_numpy()[pick],
    })
    big["n_chars"] = big["text"].str.len().astype("int32")
    return big


def _median_time(fn, repeats: int, *args, **kwargs) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return float(sorted(times)[len(times) // 2])


def csv_vs_parquet(df: pd.DataFrame, folder: str | os.PathLike, repeats: int = 3) -> pd.DataFrame:
    """Write ``df`` as CSV and as Parquet; measure file size, full read and one-column read.

    Returns one row per format: ``size_mb``, ``write_s``, ``read_s``, ``read_column_s``
    (median of ``repeats`` reads of the ``n_chars`` column only).
    """
    import pandas as pd

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"csv": folder / "events.csv", "parquet": folder / "events.parquet"}
    writers = {"csv": lambda p: df.to_csv(p, index=False), "parquet": lambda p: df.to_parquet(p, index=False)}
    readers = {"csv": lambda p, **kw: pd.read_csv(p, **kw),
               "parquet": lambda p, **kw: pd.read_parquet(p, **kw)}
    column = {"csv": {"usecols": ["n_chars"]}, "parquet": {"columns": ["n_chars"]}}
    rows = []
    for fmt, path in paths.items():
        write_s = _median_time(writers[fmt], 1, path)
        rows.append({
            "format": fmt,
            "size_mb": path.stat().st_size / 1e6,
            "write_s": write_s,
            "read_s": _median_time(readers[fmt], repeats, path),
            "read_column_s": _median_time(readers[fmt], repeats, path, **column[fmt]),
        })
    return pd.DataFrame(rows).set_index("format")


def write_partitions(df: pd.DataFrame, folder: str | os.PathLike, by: str = "day") -> Path:
    """A Hive-partitioned Parquet data set (lesson 01): ``folder/day=0/...parquet``, one folder per
    value of ``by``, written by ``DataFrame.to_parquet(partition_cols=[by])``. The folder is rebuilt.

    Readers (pandas, Dask, Spark, DuckDB) take the folder; the key comes back from the folder
    names as a categorical column (see :func:`read_partitions`), and a filter on it reads only
    the matching folders (``pd.read_parquet(folder, filters=[("day", "==", 3)])``).
    """
    import shutil

    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    df.to_parquet(folder, partition_cols=[by], index=False)
    return folder


def partition_files(folder: str | os.PathLike) -> list[Path]:
    """The Parquet files of a partitioned data set, in key order (``day=0/...``, ``day=1/...``)."""
    import re

    def key(path: Path) -> tuple:
        return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(path.relative_to(folder))))

    folder = Path(folder)
    return sorted(folder.rglob("*.parquet"), key=key)


def read_partitions(folder: str | os.PathLike, by: str = "day", dtype: str = "int16") -> Any:
    """The partitioned data set as a lazy Dask DataFrame, one partition per file, with the
    key ``by`` (read back from the folder names as a category) cast back to ``dtype``."""
    import dask.dataframe as dd

    ddf = dd.read_parquet(folder)
    return ddf.assign(**{by: ddf[by].astype(dtype)})


def daily_summary(df: pd.DataFrame) -> pd.DataFrame:
    """The lesson's transformation in plain pandas (the oracle for the Dask version)."""
    out = df.assign(n_words=df["text"].str.split().str.len(), is_spam=(df["label"] == "spam").astype(int))
    return out.groupby("day").agg(messages=("id", "count"), mean_chars=("n_chars", "mean"),
                                  mean_words=("n_words", "mean"), spam_share=("is_spam", "mean"))


def frame_mb(df: pd.DataFrame) -> float:
    """Memory a DataFrame holds, in MB (strings counted)."""
    return float(df.memory_usage(deep=True).sum() / 1e6)
