"""benchmarks/run_all.py (`make benchmarks`): a smoke run, and RESULTS.md rendered from results.

Timings are never asserted here; only that the benchmark code runs and reports budgets."""

from __future__ import annotations

from script_loader import load


def _load():
    return load("benchmarks/run_all.py")


def test_smoke_run_writes_results_md(tmp_path):
    run_all = _load()
    assert run_all.main(["--smoke", "--only", "setup", "--results", str(tmp_path), "--out", str(tmp_path / "R.md")]) == 0
    text = (tmp_path / "R.md").read_text()
    assert "## Setup" in text and "cores" in text
    # uv gets pip's configured sources (find-links, extra indexes) passed on
    assert "--index-strategy" in (tmp_path / "setup.json").read_text() or "uv_args" in (tmp_path / "setup.json").read_text()


def test_render_marks_budgets_met_and_not_met():
    run_all = _load()
    s = lambda x: {"median": x, "min": x, "max": x, "n": 3}  # noqa: E731
    results = {
        "setup": {"uv": s(12.0), "pip": s(150.0)},
        "course": {"notebooks": {"01_data": {"fast": s(45.0), "full": s(400.0)},
                                 "07_capstone_spam": {"fast": s(80.0)}}},
        "import": {"import": s(0.02), "setup_cell": {"01_data": s(1.5)}},
        "training": {"results": [{"workload": "w", "plain_samples_per_s": 100.0, "trainer_samples_per_s": 90.0,
                                  "ratio": 0.9}], "device": "cpu", "repeats": 3},
        "tests": {"make_test": s(1100.0), "passed": True, "cpu_s": 1320.0, "load_before": 0.1, "load_after": 1.9,
                  "parts": {"unit": {"seconds": 300.0, "tests": 400}, "browser": {"seconds": 700.0, "tests": 15}},
                  "test_fast": {"wall": s(90.0), "passed": True, "parts": {"unit": {"seconds": 150.0, "tests": 540}}}},
        "serving": {"bare": {"req_per_s": 600.0, "p50_ms": 20.0, "p99_ms": 50.0, "failed": 0},
                    "server": {"req_per_s": 540.0, "p50_ms": 22.0, "p99_ms": 55.0, "failed": 0},
                    "router": {"req_per_s": 270.0, "p50_ms": 40.0, "p99_ms": 90.0, "failed": 0},
                    "ratios": {"server_over_bare": 0.9, "router_over_server": 0.5,
                               "goals": {"server_over_bare": 0.8, "router_over_server": 0.6}}},
        "liveness": {m: {"probe_p50_ms": p50, "probe_p99_ms": p99, "probe_max_ms": p99, "batches_per_s": 3.0}
                     for m, p50, p99 in (("idle", 0.5, 2.0), ("loop", 900.0, 1500.0), ("thread", 5.0, 12.0))}
        | {"settings": {"concurrency": 8, "seconds": 5, "rounds": 3, "body_bytes": 1_038_104}},
        "monitoring": {"repeats": 5, "import_evidently_s": 6.0,
                       "results": [{"rows": n, "columns": 9, "evidently_s_median": t, "evidently_s_all": [t],
                                    "quick_scipy_s": 0.01, "drift_share": 0.5, "quick_share": 0.5}
                                   for n, t in ((1000, 1.0), (100_000, 4.0))]},
        "grading": {"submissions": 6, "j1": {**s(60.0), "per_minute": 6.0}, "j2": {**s(40.0), "per_minute": 9.0}},
    }
    text = run_all.render(results)
    assert "| uv (scripts/install.py) | 12.0 s" in text and "12.5 times faster" in text
    assert "| 01_data | 45.0 s" in text and "**not met**" in text  # full 400 s > 300 s
    assert "| 07_capstone_spam | 80.0 s (80.0-80.0, n=3) | 90 s | met |" in text  # the capstone's own budget
    assert "0.900 | >= 0.95 | **not met**" in text
    assert "| **total** | 125 s | | | 400 s" in text  # the course time, fast and full
    assert "`make test` took **18.3 min** (1100 s; budget 10 min: **not met**), all passed. It used 1320 CPU-seconds" in text
    assert "`make test-fast` took **1.5 min** (90 s; budget 3 min: met), 540 tests, all passed." in text
    assert "| browser | 15 | 700 s |" in text
    assert "| server over bare | 0.90 | >= 0.8 | met |" in text and "| router over server | 0.50 | >= 0.6 | **not met** |" in text
    assert "| model on the event loop (the old server) | 900.0 ms | 1500.0 ms |" in text
    assert "| model in a worker thread (the server now) | 5.0 ms | 12.0 ms | 12.0 ms | 3.00 | < 20 ms | met |" in text
    assert "| 100,000 | 9 | 4.00 s" in text and "100x the rows cost 4.0x" in text
    assert "| -j 2 | 40.0 s (40.0-40.0, n=3) | 9.0 |" in text


def test_test_time_by_part_from_junit_xml(tmp_path):
    run_all = _load()
    xml = tmp_path / "junit.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase file="tests/browser/test_lessons.py" name="a" time="80.5"/>'
        '<testcase file="solutions/03_evaluation.ipynb" name="Cell 7" time="9"/>'
        '<testcase file="tests/data/test_prep.py" name="b" time="1.5"/>'
        '<testcase file="tests/data/test_prep.py" name="c" time="2"/>'
        '</testsuite></testsuites>')
    parts = run_all.test_parts(xml)
    assert parts["browser (lessons in JupyterLab)"] == {"seconds": 80.5, "tests": 1}
    assert parts["nbval (solutions)"]["seconds"] == 9 and parts["unit"] == {"seconds": 3.5, "tests": 2}
