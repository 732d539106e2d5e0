"""The batch runner on small notebooks written by the tests (and through the CLI)."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from mlkit.course import config, runner
from mlkit.course.errors import MlkitError

ROOT = Path(__file__).resolve().parents[2]

def make_notebook(path, body: str, params: str = "x = 1\nfast = False"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebooks(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    make_notebook(folder / "ok.ipynb", "import mlkit\nmlkit.report(double=x * 2, fast=fast)")
    make_notebook(folder / "boom.ipynb", "raise ValueError('the model exploded')")
    return folder


def test_passing_notebook_reports_its_results(notebooks, tmp_path):
    [res] = runner.run_notebooks([str(notebooks / "ok.ipynb")], params={"x": 21}, fast=True,
                                 output_dir=tmp_path / "out", progress=False)
    assert res.passed and res.results == {"double": 42, "fast": True}
    assert (tmp_path / "out" / "nbs" / "ok.ipynb").exists()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary[0]["status"] == "passed"


def test_failing_notebook_shows_cell_and_error(notebooks, tmp_path):
    results = runner.run_notebooks([str(notebooks)], output_dir=tmp_path / "out", workers=2, progress=False)
    by_name = {r.name: r for r in results}
    assert by_name["nbs/ok"].passed and not by_name["nbs/boom"].passed
    assert by_name["nbs/boom"].error["ename"] == "ValueError"
    tb = by_name["nbs/boom"].error["traceback"]
    assert "ValueError: the model exploded" in tb and "\x1b[" not in tb  # colours stripped
    text = runner.format_summary(results)
    assert "1 passed, 1 failed" in text
    assert "FAILED nbs/boom" in text and "the model exploded" in text and "raise ValueError" in text


def test_unknown_parameter_is_refused_before_running(notebooks, tmp_path):
    with pytest.raises(MlkitError, match=r"Unknown parameter\(s\) nope .*declares: x, fast"):
        runner.run_notebooks([str(notebooks / "ok.ipynb")], params={"nope": 1}, output_dir=tmp_path)


def test_unknown_notebook_name_lists_the_lessons():
    with pytest.raises(MlkitError, match="'99_nothing' is not a notebook. Known lessons: 00_lifecycle_overview"):
        runner.find_notebooks(["99_nothing"])


def test_lessons_found_by_prefix_and_by_default():
    assert runner.find_notebooks(["00"])[0].name == "00_lifecycle_overview.ipynb"
    assert runner.LESSON_DIR == runner.lesson_dir() == ROOT / "notebooks"
    assert [p.name for p in runner.find_notebooks()] == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


def test_lessons_come_from_the_course_root_resolved_when_needed(notebooks, tmp_path, monkeypatch):
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    (course / "notebooks").mkdir()
    make_notebook(course / "notebooks" / "07_capstone.ipynb", "pass")
    monkeypatch.setenv(config.ROOT_ENV, str(course))
    assert runner.find_notebooks(["07"]) == [(course / "notebooks" / "07_capstone.ipynb").resolve()]
    monkeypatch.setenv(config.ROOT_ENV, str(tmp_path / "nowhere"))
    assert runner.find_notebooks([str(notebooks / "ok.ipynb")])  # a path needs no course root
    with pytest.raises(MlkitError, match="has no notebooks/ and solutions/"):
        runner.find_notebooks(["00"])


def test_importing_the_runner_does_not_look_for_the_course(tmp_path):
    code = "import mlkit.course.runner as r; print('imported'); r.LESSON_DIR"
    env = {**os.environ, config.ROOT_ENV: str(tmp_path / "nowhere")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert res.stdout.strip() == "imported" and "MlkitError" in res.stderr


def test_notebook_without_parameters_cell_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nbformat.write(nb, tmp_path / "bare.ipynb")
    with pytest.raises(MlkitError, match="no cell tagged 'parameters'"):
        runner.check_parameters([tmp_path / "bare.ipynb"], {})


@pytest.mark.parametrize("text, value", [("3", 3), ("0.5", 0.5), ("True", True), ("cpu", "cpu"), ("[1, 2]", [1, 2])])
def test_parameter_values_are_parsed(text, value):
    assert runner.parse_value(text) == value


def cli(*args):
    return subprocess.run([sys.executable, "-m", "mlkit", *args], capture_output=True, text=True, timeout=300)


def test_cli_exit_codes_and_messages(notebooks, tmp_path):
    ok = cli("run", str(notebooks / "ok.ipynb"), "-p", "x", "5", "-o", str(tmp_path / "a"))
    assert ok.returncode == 0 and "double=10" in ok.stdout and "1 passed, 0 failed" in ok.stdout
    assert "without encryption" not in ok.stderr and "[IPKernelApp]" not in ok.stderr  # no kernel noise
    bad = cli("run", str(notebooks / "boom.ipynb"), "-o", str(tmp_path / "b"))
    assert bad.returncode == 1 and "the model exploded" in bad.stdout
    unknown = cli("run", "nonexistent_lesson")
    assert unknown.returncode == 2 and "error: 'nonexistent_lesson' is not a notebook" in unknown.stderr
    param = cli("run", str(notebooks / "ok.ipynb"), "-p", "nope", "1")
    assert param.returncode == 2 and "Unknown parameter(s) nope" in param.stderr
    assert "Traceback" not in unknown.stderr + param.stderr


def test_the_summary_gives_the_wall_clock_time_and_names_the_sum():
    results = [runner.NotebookResult(name, f"{name}.ipynb", "", seconds=s) for name, s in (("a", 20.5), ("b", 13.7))]
    text = runner.format_summary(results, elapsed=25.0)
    assert "2 passed, 0 failed in 25.0 s of wall-clock time (the notebooks' own times add up to 34.2 s)" in text
    assert "2 passed, 0 failed (the notebooks' own times add up to 34.2 s)" in runner.format_summary(results)


def test_the_cli_measures_a_parallel_run_by_the_clock(tmp_path):
    folder = tmp_path / "slow"
    folder.mkdir()
    for name in ("a", "b"):
        make_notebook(folder / f"{name}.ipynb", "import time\ntime.sleep(0.5)")
    start = time.perf_counter()
    res = cli("run", str(folder), "-j", "2", "-o", str(tmp_path / "out"))
    measured = time.perf_counter() - start
    assert res.returncode == 0, res.stdout + res.stderr
    line = next(row for row in res.stdout.splitlines() if row.startswith("2 passed, 0 failed"))
    wall, summed = (float(x) for x in re.fullmatch(
        r"2 passed, 0 failed in ([\d.]+) s of wall-clock time \(the notebooks' own times add up to ([\d.]+) s\)",
        line).groups())
    per_notebook = [float(row.split()[2]) for row in res.stdout.splitlines() if row.startswith("slow/")]
    assert len(per_notebook) == 2 and summed == pytest.approx(sum(per_notebook), abs=0.11)
    assert max(per_notebook) <= wall <= measured


def test_cli_unknown_device_is_a_clear_error(tmp_path):
    nb = make_notebook(tmp_path / "dev.ipynb", "import mlkit\nmlkit.setup('t', device=device)", params="device = None")
    res = cli("run", str(nb), "-p", "device", "tpu", "-o", str(tmp_path / "out"))
    assert res.returncode == 1 and "DeviceError: Unknown device 'tpu'. Valid devices: auto, cuda, mps, cpu" in res.stdout


def test_the_kernel_runs_strict_and_fast_and_quiet(tmp_path, monkeypatch):
    monkeypatch.delenv("MLKIT_FAST", raising=False)
    nb = make_notebook(tmp_path / "env.ipynb", "import os, mlkit\nmlkit.report(**{k: os.environ.get(k, '-') for k in "
                       "['MLKIT_STRICT', 'MLKIT_FAST', 'MLFLOW_DISABLE_TELEMETRY']})")
    [res] = runner.run_notebooks([str(nb)], fast=True, output_dir=tmp_path / "out", progress=False)
    assert res.results == {"MLKIT_STRICT": "1", "MLKIT_FAST": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    [slow] = runner.run_notebooks([str(nb)], output_dir=tmp_path / "out", progress=False)
    assert slow.results["MLKIT_FAST"] == "-"


def test_runner_leaves_the_callers_environment_alone(notebooks, tmp_path, monkeypatch):
    monkeypatch.delenv("MLKIT_STRICT", raising=False)
    monkeypatch.delenv("MLKIT_FAST", raising=False)
    runner.run_notebooks([str(notebooks / "ok.ipynb")], fast=True, output_dir=tmp_path, progress=False)
    assert "MLKIT_STRICT" not in os.environ and "MLKIT_FAST" not in os.environ
