"""The inference log, in the format lesson 04's server writes (flat records with its LOG_FIELDS), read
with pandas; half-written lines skipped; distributions over time."""

from __future__ import annotations

import json

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

from mlkit.course.errors import MlkitError
from mlkit.data import textstats
from mlkit.deployment.server import LOG_FIELDS
from mlkit.monitoring import inference_log

TEXTS = ["WINNER! Claim your prize at www.win.example, call 09061701461", "see you at 6 then", "ok"]


def _write(path, n=40):
    """40 lines written by the server's own writer: single requests and two-message batch requests,
    every tenth message an error (no prediction); then half a line, as while the server writes."""
    from mlkit.deployment.server.inference_log import InferenceLog

    log = InferenceLog(path)
    for i in range(0, n, 2):
        records = []
        for j in (i, i + 1):
            error = j % 10 == 9
            p = None if error else (0.97 if j % 3 == 0 else 0.04)
            records.append({**textstats.summary(TEXTS[j % len(TEXTS)]), "tfidf_nnz": None if error else 7,
                            "spam_probability": p, "label": None if p is None else ("spam" if p >= 0.5 else "ham")})
        log.write(request_id=f"r{i // 2}", version="3", endpoint="batch", outcome="ok", latency_ms=1.5,
                  records=records)
    log.file.close()
    with path.open("a") as f:
        f.write('{"ts": 1700000100, "request_id": "half')  # the server is still writing


def test_read_gives_one_row_per_message_with_the_servers_fields_and_time(tmp_path):
    path = tmp_path / "log.jsonl"
    _write(path)
    df = inference_log.read(path)
    assert list(df.columns) == [*LOG_FIELDS, "time"] and len(df) == 40
    assert str(df.time.dt.tz) == "UTC" and df.time.is_monotonic_increasing
    assert abs((df.time.iloc[0] - pd.Timestamp.now(tz="UTC")).total_seconds()) < 600  # ts is unix seconds
    assert df.label.isna().sum() == df.spam_probability.isna().sum() == 4  # errors carry no prediction
    assert df.request_id.nunique() == 20  # a batch request: one line per message, one request id
    tail = inference_log.read(path, last=5)
    assert len(tail) == 4 and tail.request_id.tolist() == ["r18", "r18", "r19", "r19"]  # the half line is skipped


def test_over_time_and_figure(tmp_path):
    path = tmp_path / "log.jsonl"
    _write(path)
    df = inference_log.read(path)
    mix = inference_log.over_time(df, "label", freq="5s", by="label")
    assert set(mix.columns) == {"spam", "ham"} and mix.values.sum() == 36 and mix.spam.sum() == 12
    conf = inference_log.over_time(df, "spam_probability", freq="5s")
    assert list(conf.columns) == ["count", "mean", "10%", "50%", "90%"] and conf["count"].sum() == 36
    fig = inference_log.figure(df, freq="5s")
    assert len(fig.axes) == 2
    spam_share = fig.axes[0].lines[0].get_ydata()
    assert spam_share.max() <= 100 and abs(spam_share.mean() - 100 * 12 / 36) < 15


def test_a_file_that_is_no_inference_log_is_a_clear_error(tmp_path):
    with pytest.raises(MlkitError, match="MLKIT_INFERENCE_LOG"):
        inference_log.read(tmp_path / "none.jsonl")
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"time": "2024-01-01", "output": {"label": "spam"}}) + "\n")
    with pytest.raises(MlkitError, match="not an inference log of lesson 04's server"):
        inference_log.read(other)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert len(inference_log.read(empty)) == 0
