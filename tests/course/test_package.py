"""Package-level promises: a cheap, side-effect-free import, and clean committed notebooks."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["torch", "mlflow", "great_expectations", "evidently", "shap", "sklearn", "pandas", "papermill", "dvc",
         "IPython", "ipywidgets", "psutil",
         "mlkit.course.processes"]  # the launcher registers an atexit hook: only when a lesson starts a process


def test_import_mlkit_loads_no_heavy_library_and_writes_nothing(tmp_path):
    code = (f"import sys, threading, mlkit; print(','.join(m for m in {HEAVY!r} if m in sys.modules));"
            "print(threading.active_count())")
    env = {**os.environ, "MLKIT_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.splitlines() == ["", "1"]  # nothing heavy imported, no thread started
    assert not (tmp_path / "home").exists()


def test_committed_notebooks_carry_no_outputs_or_execution_counts():
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    paths = [ROOT / p for p in tracked] or list(ROOT.glob("*/*.ipynb"))
    dirty = []
    for path in paths:
        try:
            cells = json.loads(path.read_text())["cells"]
        except (ValueError, KeyError):  # a deliberately broken file (tests/fixtures of the grader)
            continue
        for cell in cells:
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(str(path.relative_to(ROOT)))
                break
    assert not dirty, f"run `make clean-notebooks`: {dirty}"


def test_every_lesson_has_a_parameters_cell_with_fast_and_seed():
    from mlkit.course import runner

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert {"fast", "seed"} <= set(runner.notebook_parameters(path)), path.name


def test_every_data_file_of_the_package_is_in_the_wheel():
    """A plain ``pip install .`` ships only the files pyproject's package-data names: every
    non-Python file tracked under mlkit/ must match one of its patterns."""
    import fnmatch
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["mlkit"]
    tracked = subprocess.run(["git", "ls-files", "mlkit"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    data = [p.removeprefix("mlkit/") for p in tracked if not p.endswith(".py")]
    missing = [p for p in data if not any(fnmatch.fnmatch(p, pat) for pat in patterns)]
    assert data and not missing, f"add to [tool.setuptools.package-data] mlkit in pyproject.toml: {missing}"
