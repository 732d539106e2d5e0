"""The inference log reads with pandas, half-written lines skipped; distributions over time."""

from __future__ import annotations

import json

import matplotlib
import pytest

matplotlib.use("Agg")

from mlkit.course.errors import MlkitError
from mlkit.monitoring import inference_log


def _write(path, n=40):
    with path.open("w") as f:
        for i in range(n):
            p = 0.9 if i % 4 == 0 else 0.05
            f.write(json.dumps({"ts": 1_700_000_000 + i * 0.5, "request_id": f"r{i}", "model_version": "3",
                                "outcome": "ok", "latency_ms": 1.5, "n_chars": 20 + i, "spam_probability": p,
                                "label": "spam" if p >= 0.5 else "ham", "input": {"n_digits": i % 3}}) + "\n")
        f.write('{"ts": 1700000100, "request_id": "half')  # the server is still writing


def test_read_flattens_and_parses_time(tmp_path):
    path = tmp_path / "log.jsonl"
    _write(path)
    df = inference_log.read(path)
    assert len(df) == 40 and "input.n_digits" in df.columns
    assert str(df.time.dt.tz) == "UTC" and df.time.is_monotonic_increasing
    assert len(inference_log.read(path, last=5)) == 4  # the half line is one of the last five
    assert inference_log.column(df, "output.label", "label") == "label"
    with pytest.raises(MlkitError, match="none of the columns"):
        inference_log.column(df, "nope")


def test_over_time_and_figure(tmp_path):
    path = tmp_path / "log.jsonl"
    _write(path)
    df = inference_log.read(path)
    mix = inference_log.over_time(df, "label", freq="5s", by="label")
    assert set(mix.columns) == {"spam", "ham"} and mix.values.sum() == 40
    conf = inference_log.over_time(df, "spam_probability", freq="5s")
    assert {"count", "mean", "50%"} <= set(conf.columns)
    fig = inference_log.figure(df, freq="5s")
    assert len(fig.axes) == 2


def test_missing_log_says_what_to_do(tmp_path):
    with pytest.raises(MlkitError, match="MLKIT_INFERENCE_LOG"):
        inference_log.read(tmp_path / "none.jsonl")
