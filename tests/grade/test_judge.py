"""The grader's half of a check (mlkit.grade.judge): it decides from an answer file alone, and a
file that is missing, malformed, oversized, a link or forged is a failed question with its
reason, never a crash of the grader. Fast: no notebook runs here."""

from __future__ import annotations

import json
import os

import pytest

from mlkit.exercises import answers, lesson00
from mlkit.exercises.solutions import solution_source
from mlkit.grade import extract, judge

LESSON = "00_lifecycle_overview"


@pytest.fixture(scope="module")
def request_():
    return judge.make_request(LESSON, seed=7, n_hidden=1)


def _write(out, request, name, record):
    record = {**record, "nonce": request["nonce"], "question": name}
    extract.answer_path(out, name).write_text(json.dumps(record))


def _by_name(results):
    return {r["question"]: r for r in results}


def test_the_request_holds_examples_then_hidden_cases_drawn_from_the_seed(request_):
    q4 = request_["questions"][3]
    assert q4["name"] == "q4" and q4["cases"][0] == lesson00.q4.examples[0] and len(q4["cases"]) == 2
    again = judge.make_request(LESSON, seed=7)
    assert again["questions"] == request_["questions"] and again["nonce"] != request_["nonce"]
    assert judge.make_request(LESSON, seed=8)["questions"][3]["cases"][1] != q4["cases"][1]
    assert all(len(q["cases"]) == 1 for q in judge.make_request(LESSON, seed=None)["questions"])


def test_a_right_answer_file_passes_and_no_file_means_nothing_was_graded(tmp_path, request_):
    assert judge.judge(request_, tmp_path) == []  # the kernel never reached the extraction cells
    ns = {}
    exec(solution_source(LESSON, "spam_rate_alerts"), ns)
    spec = request_["questions"][3]
    _write(tmp_path, request_, "q4", lesson00.q4.collect((ns["spam_rate_alerts"],), spec["cases"]))
    got = _by_name(judge.judge(request_, tmp_path))
    assert got["q4"]["status"] == "passed", got["q4"]
    assert got["q1"]["status"] == "failed" and "No answer came back" in got["q1"]["message"]


def test_malformed_forged_oversized_and_linked_files_fail_with_their_reason(tmp_path, request_):
    extract.answer_path(tmp_path, "q1").write_text("{not json")
    _write(tmp_path, request_, "q2", {"cases": [{"__ndarray__": ["<f8", [3], [1.0]]}, {}]})
    extract.answer_path(tmp_path, "q3").write_text(json.dumps({"nonce": "0" * 32, "question": "q3", "cases": []}))
    os.symlink("/etc/passwd", extract.answer_path(tmp_path, "q4"))
    with extract.answer_path(tmp_path, "q5").open("w") as f:
        f.truncate(answers.MAX_BYTES + 1)
    got = _by_name(judge.judge(request_, tmp_path))
    assert {r["status"] for r in got.values()} == {"failed"}, got
    assert "malformed" in got["q1"]["message"] and "could not be read" in got["q1"]["message"]
    assert "malformed" in got["q2"]["message"] and "shape" in got["q2"]["message"]
    assert "nonce" in got["q3"]["message"]
    assert "No answer came back" in got["q4"]["message"], "a link is not followed"
    assert "MB allowed" in got["q5"]["message"]


def test_a_record_of_the_wrong_form_is_not_judged(tmp_path, request_):
    _write(tmp_path, request_, "q1", {"cases": ["passed", "passed"]})
    _write(tmp_path, request_, "q2", {"cases": [{"timed": {"__returned__": 2.0}}]})  # one case of two
    got = _by_name(judge.judge(request_, tmp_path))
    assert "cannot be judged" in got["q1"]["message"], got["q1"]
    assert "do not match the questions asked" in got["q2"]["message"], got["q2"]


def test_the_codec_keeps_what_judges_read_and_loads_no_code():
    import numpy as np
    import pandas as pd

    value = {"t": (1, 2.5, "x", None, True), "a": np.arange(3), "f": pd.DataFrame({"text": ["a", "b"], "n": [1, 2]}),
             "s": pd.Series([0.5, float("nan")], name="p"), "k": {1: "one"}, "nan": float("nan"),
             "call": answers.call(lambda: 1 / 0), "obj": object()}
    back = answers.roundtrip(value)
    assert back["t"] == (1, 2.5, "x", None, True) and back["a"].tolist() == [0, 1, 2]
    assert back["f"].equals(value["f"]) and back["s"].name == "p" and back["k"] == {1: "one"}
    assert back["call"].is_a("ZeroDivisionError") and "division by zero" in back["call"].text
    assert answers.kind(back["obj"]) == "object" and repr(back["obj"]).startswith("<object object")
    for bad in ['{"__ndarray__": ["|O8", [1], [1]]}', '{"__ndarray__": ["<f8", [5], [1]]}', '[' * 100 + ']' * 100,
                '{"__frame__": [["a"], [0, 1], ["int64"], [[1]]]}', '{"__dict__": [[[1], 2]]}']:
        with pytest.raises(answers.MalformedRecord):
            answers.loads(bad)


def test_only_the_workers_own_keys_are_taken_from_its_result_file(tmp_path):
    from mlkit.grade import sandbox

    forged = {"learner": "alice", "lesson": "01_data", "questions": [{"question": "q1", "status": "passed"}],
              "status": "ran", "seconds": 3, "kernel_died": "no", "cell_errors": ["x", {"cell": 1, "error": "E"}]}
    (tmp_path / "result.json").write_text(json.dumps(forged))
    kept = sandbox._worker_result(tmp_path)
    assert kept == {"seconds": 3, "cell_errors": [{"cell": 1, "error": "E"}]}, kept
