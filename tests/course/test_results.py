import numpy as np

from mlkit.course.results import MIME, collect, report


def test_report_makes_values_json_friendly():
    data = report(acc=np.float32(0.91234567), n=np.int64(3), ok=True, name="x", bad=float("nan"))
    assert data == {"acc": 0.9123, "n": 3, "ok": True, "name": "x", "bad": "nan"}


def test_collect_reads_reported_outputs_of_a_notebook():
    nb = {"cells": [
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {MIME: {"a": 1}}}]},
        {"cell_type": "code", "outputs": [{"output_type": "stream", "text": "hi"}]},
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {MIME: '{"b": 2}'}}]},
    ]}
    assert collect(nb) == {"a": 1, "b": 2}
