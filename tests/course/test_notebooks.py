"""Every lesson runs to the end in fast mode and reports its key results; every learner copy
stops at its first stub with NotImplementedError and no other error. Executed by the batch
runner, two notebooks at a time, exactly as `mlkit run --fast` does.

Each notebook is executed once per pass: the solutions under nbval (strict, see the root
conftest.py), and a lesson that the browser tests run in JupyterLab is left out here
(tests/conftest.py deselects it; without Chromium every lesson runs here)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from mlkit.course import runner

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("notebooks", "exercises")


@pytest.fixture(scope="module")
def executed(request, tmp_path_factory):
    """The selected notebooks of this module, run in one batch (lessons that the browser tests
    run in JupyterLab are deselected: see tests/conftest.py)."""
    chosen = {(item.callspec.params["folder"], item.callspec.params["name"])
              for item in request.session.items if getattr(item, "module", None) is request.module}  # fmt: skip
    paths = [str(ROOT / folder / name) for folder, name in sorted(chosen)]
    out = tmp_path_factory.mktemp("runs")
    results = runner.run_notebooks(paths, fast=True, output_dir=out, workers=2, progress=False)
    print("\n" + runner.format_summary(results))
    return {(Path(r.path).parent.name, Path(r.path).name): r for r in results}


def _ids(folder: str) -> list[str]:
    return [p.name for p in sorted((ROOT / folder).glob("*.ipynb"))]


@pytest.mark.notebooks
@pytest.mark.parametrize("folder", ["notebooks"])
@pytest.mark.parametrize("name", _ids("notebooks"))
def test_lesson_runs_and_reports(executed, folder, name):
    res = executed[(folder, name)]
    assert res.passed, runner.format_summary([res])
    assert res.results, f"{name} reported no key results (call mlkit.report)"


@pytest.mark.notebooks
@pytest.mark.parametrize("folder", ["exercises"])
@pytest.mark.parametrize("name", _ids("exercises"))
def test_learner_copy_stops_at_its_first_stub(executed, folder, name):
    res = executed[(folder, name)]
    assert not res.passed and res.error["ename"] in {"NotImplementedError", "NotStarted"}, runner.format_summary([res])
    nb = nbformat.read(res.output, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.outputs)]
    first_stub = next(i for i, c in enumerate(code) if "raise NotImplementedError()" in c.source)
    assert len(errors) == 1 and errors[0] >= first_stub, "an error came before the first stub"
    assert all(o.get("ename") in {"NotImplementedError", "NotStarted"}
               for o in code[errors[0]].outputs if o.get("output_type") == "error")
