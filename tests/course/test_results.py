"""mlkit.report and the runner's collect: key results travel as a MIME output, JSON-friendly."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from mlkit.course.results import MIME, collect, report


def test_report_makes_values_json_friendly():
    data = report(acc=np.float32(0.91234567), n=np.int64(3), ok=True, flag=np.bool_(False), name="x",
                  bad=float("nan"), big=float("inf"), loss=torch.tensor(0.123456), path=Path("/a/b"), none=None)
    assert data == {"acc": 0.9123, "n": 3, "ok": True, "flag": False, "name": "x", "bad": "nan", "big": "inf",
                    "loss": 0.1235, "path": "/a/b", "none": None}
    assert type(data["n"]) is int and type(data["flag"]) is bool
    json.dumps(data)  # what the runner stores in summary.json


def test_report_in_plain_python_prints_the_values():
    res = subprocess.run([sys.executable, "-c", "import mlkit; mlkit.report(acc=0.5, n=2)"],
                         capture_output=True, text=True, check=True, timeout=60)
    assert res.stdout.strip() == "Key results: acc = 0.5, n = 2"


def test_report_in_ipython_emits_the_mime_output(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.get_ipython", lambda: object())  # as in a kernel
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append((obj, raw)))
    report(acc=0.75)
    assert shown == [({MIME: {"acc": 0.75}, "text/plain": "Key results: acc = 0.75"}, True)]


def test_collect_reads_reported_outputs_of_a_notebook():
    nb = {"cells": [
        {"cell_type": "markdown", "source": "text"},
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {MIME: {"a": 1}}}]},
        {"cell_type": "code", "outputs": [{"output_type": "stream", "text": "hi"}]},
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {MIME: '{"b": 2, "a": 3}'}}]},
    ]}
    assert collect(nb) == {"a": 3, "b": 2}  # a later report of the same name wins
    assert collect({"cells": []}) == {}
