"""The model server's inference log, read with pandas (lessons 05 and 06).

Lesson 04's server appends one JSON object per scored message to the file named by
``$MLKIT_INFERENCE_LOG``, flat, with the fields :data:`mlkit.deployment.server.LOG_FIELDS`:
``ts`` (unix seconds), ``request_id``, ``model_version``, ``endpoint``, ``outcome``,
``latency_ms``, the message's statistics (:func:`mlkit.data.textstats.summary`: ``n_chars``,
``n_words``, ``n_digits``, ``upper_share``, ``has_url``, ``has_phone``), ``tfidf_nnz``,
``spam_probability`` and ``label`` (null on an error), ``cache_hit``. :func:`read` adds
``time``, the ``ts`` as UTC datetimes. Lesson 05 plots prediction and confidence
distributions over time from it; lesson 06 replays it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.course.errors import MlkitError

if TYPE_CHECKING:
    import pandas as pd


def read(path: str | os.PathLike, last: int | None = None) -> pd.DataFrame:
    """The log as a DataFrame, one row per scored message (the last ``last`` lines if given),
    with ``time`` parsed from ``ts``. A half-written last line (the server is still writing)
    is skipped."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise MlkitError(f"No inference log at {path}: start the model server with MLKIT_INFERENCE_LOG "
                         "set to this path and send it requests first.")
    lines = path.read_text().splitlines()
    if last is not None:
        lines = lines[-last:]
    records: list[dict[str, Any]] = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    df = pd.DataFrame.from_records(records)
    if records and "ts" not in df.columns:
        raise MlkitError(f"{path} is not an inference log of lesson 04's server: its records have no 'ts' "
                         f"(they have {list(df.columns)[:8]}).")
    df["time"] = pd.to_datetime(df["ts"] if records else [], unit="s", utc=True)
    return df


def over_time(df: pd.DataFrame, value: str, freq: str = "5s", by: str | None = None) -> pd.DataFrame:
    """Per time bucket: the count of each ``by`` value (the prediction mix) or, with no
    ``by``, the mean and quantiles of ``value`` (e.g. the confidence)."""
    import pandas as pd

    g = df.set_index("time").groupby(pd.Grouper(freq=freq))
    if by:
        return g[by].value_counts().unstack(fill_value=0)
    return g[value].describe(percentiles=[0.1, 0.5, 0.9])[["count", "mean", "10%", "50%", "90%"]]


def figure(df: pd.DataFrame, freq: str = "2s") -> Any:
    """Two panels from the log's answered requests: the share predicted spam, and the
    model's confidence (P of the predicted class; median and 10-90 % band), per time bucket."""
    import matplotlib.pyplot as plt
    import numpy as np

    ok = df[df.spam_probability.notna()].copy()
    ok["spam"] = (ok.label == "spam").astype(float)
    ok["confidence"] = np.maximum(ok.spam_probability, 1 - ok.spam_probability)
    share = over_time(ok, "spam", freq)
    conf = over_time(ok, "confidence", freq)
    t = (share.index - share.index[0]).total_seconds()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 2.8))
    a.plot(t, 100 * share["mean"], color="tab:orange")
    a.set(title="predicted spam (% of messages)", xlabel="s", ylim=(0, 100))
    b.fill_between(t, conf["10%"], conf["90%"], alpha=0.3, color="tab:green", label="10-90 %")
    b.plot(t, conf["50%"], color="tab:green", label="median")
    b.set(title="confidence of the prediction", xlabel="s", ylim=(0.5, 1.01))
    b.legend(fontsize=7, loc="lower left")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
