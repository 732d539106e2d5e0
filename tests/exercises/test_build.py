"""mlkit.exercises.build: solutions/ -> exercises/, deterministic, and --check catches drift."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from mlkit.course import runner
from mlkit.exercises import build

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("MLKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLKIT_STRICT", raising=False)


def test_solution_region_becomes_a_stub_at_its_indentation():
    src = ("def f(x):\n"
           "    y = 1\n"
           "    ### BEGIN SOLUTION\n"
           "    return x * y\n"
           "    ### END SOLUTION\n"
           "\n"
           "f(2)")
    assert build.convert_source(src) == ("def f(x):\n"
                                         "    y = 1\n"
                                         "    # YOUR CODE HERE\n"
                                         "    raise NotImplementedError()\n"
                                         "\n"
                                         "f(2)")


def test_hidden_tests_are_removed_and_markdown_answers_blanked():
    src = "check()\n### BEGIN HIDDEN TESTS\nassert secret == 42\n### END HIDDEN TESTS\nprint('ok')\n"
    assert build.convert_source(src) == "check()\nprint('ok')\n"
    md = "Why?\n\n### BEGIN SOLUTION\nBecause accuracy hides the rare class.\n### END SOLUTION\n"
    assert build.convert_source(md, "markdown") == "Why?\n\nYOUR ANSWER HERE\n"


@pytest.mark.parametrize("src, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without a matching BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n### END SOLUTION\n", "inside an open"),
])
def test_unbalanced_markers_are_refused_with_the_place(src, message):
    with pytest.raises(build.BuildError, match=message) as err:
        build.convert_source(src, where="demo.ipynb, cell 3")
    assert "demo.ipynb, cell 3" in str(err.value)


def _solution_nb() -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Fixture exercises"),
        nbformat.v4.new_code_cell("fast = False\nseed = 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "from mlkit.exercises import Mistake, Question, call\n\n"
            "def _judge(got, case):\n"
            "    if got.value != 9:\n"
            "        raise Mistake(f'square(3) gave {got.value}, not 9')\n\n"
            "q1 = Question('99_fixture', 'q1', 'Square a number', answer='square',\n"
            "              ask=lambda case, square: call(square, 3), judge=_judge)"),
        nbformat.v4.new_code_cell(
            "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
            metadata={"tags": ["exercise"], "collapsed": True}),
        nbformat.v4.new_code_cell("q1.check()"),
        nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nassert square(4) == 16\n### END HIDDEN TESTS"),
        nbformat.v4.new_code_cell("print('the end')"),
    ]
    nb.cells[4].outputs = [nbformat.v4.new_output("stream", text="old output")]
    nb.cells[4].execution_count = 7
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["widgets"] = {"state": "big"}
    return json.loads(nbformat.writes(nb))


def test_learner_copy_is_clean_and_deterministic():
    out = build.convert(_solution_nb(), "99_fixture.ipynb")
    code = [c for c in out["cells"] if c["cell_type"] == "code"]
    assert len(code) == 5, "the cell holding only hidden tests is dropped"
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert all("id" not in c for c in out["cells"])
    assert code[2]["metadata"] == {"tags": ["exercise"]}
    assert out["metadata"]["kernelspec"]["name"] == "python3" and "widgets" not in out["metadata"]
    text = build.dumps(out)
    assert "SOLUTION" not in text and "x * x" not in text and "HIDDEN" not in text and "square(4)" not in text
    assert text == build.dumps(build.convert(_solution_nb(), "99_fixture.ipynb"))


def test_generated_notebook_is_a_fixed_point_of_the_notebook_cleaner(tmp_path):
    spec = importlib.util.spec_from_file_location("clean_notebooks", ROOT / "scripts" / "clean_notebooks.py")
    cleaner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cleaner)
    text = build.dumps(build.convert(_solution_nb(), "99_fixture.ipynb"))
    assert cleaner.dumps(cleaner.clean(json.loads(text))) == text


def test_the_real_exercises_folder_is_up_to_date(capsys):
    assert build.build_all(check=True) == 0, capsys.readouterr().err


def _copy_tree(tmp_path: Path) -> Path:
    """A copy of solutions/ with its exercises/ generated (independent of work in progress)."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "solutions", root / "solutions")
    assert build.build_all(root=root, quiet=True) == 0
    return root


def test_check_fails_after_a_solution_edit_and_passes_after_regenerating(tmp_path, capsys):
    root = _copy_tree(tmp_path)
    assert build.build_all(check=True, root=root) == 0
    solution = sorted((root / "solutions").glob("*.ipynb"))[0]
    nb = json.loads(solution.read_text())
    nb["cells"][0]["source"] = ["# An edited title\n"] + nb["cells"][0]["source"]
    solution.write_text(json.dumps(nb, indent=1))
    learner = root / "exercises" / solution.name
    before = learner.read_bytes()

    assert build.build_all(check=True, root=root) == 1
    err = capsys.readouterr().err
    assert f"exercises/{solution.name} is stale" in err and "mlkit exercises build" in err
    assert learner.read_bytes() == before, "--check writes nothing"

    assert build.build_all(check=False, root=root) == 0
    assert "An edited title" in learner.read_text()
    assert build.build_all(check=True, root=root) == 0


def test_check_names_missing_and_orphaned_learner_copies(tmp_path, capsys):
    root = _copy_tree(tmp_path)
    name = sorted((root / "exercises").glob("*.ipynb"))[0].name
    (root / "exercises" / name).unlink()
    (root / "exercises" / "77_gone.ipynb").write_text("{}")
    assert build.build_all(check=True, root=root) == 1
    err = capsys.readouterr().err
    assert f"exercises/{name} is missing" in err and "exercises/77_gone.ipynb has no solutions" in err


def test_cli_exercises_build_check_uses_the_same_code(capsys):
    from mlkit import cli

    assert cli.main(["exercises", "build", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.notebooks
def test_solution_passes_and_learner_copy_stops_at_its_stub(tmp_path, monkeypatch):
    monkeypatch.setenv("MLKIT_STRICT", "1")  # the runner sets it; monkeypatch restores it afterwards
    monkeypatch.setenv("MLKIT_FAST", "1")
    root = tmp_path / "repo"
    (root / "solutions").mkdir(parents=True)
    (root / "solutions" / "99_fixture.ipynb").write_text(json.dumps(_solution_nb()))
    assert build.build_all(root=root, quiet=True) == 0
    sol, exe = runner.run_notebooks(
        [str(root / "solutions" / "99_fixture.ipynb"), str(root / "exercises" / "99_fixture.ipynb")],
        fast=True, output_dir=tmp_path / "runs", progress=False)
    assert sol.passed, runner.format_summary([sol])
    assert not exe.passed and exe.error["ename"] == "NotStarted"
    assert "not started yet" in exe.error["evalue"] and "q1.check()" in exe.error["source"]


@pytest.mark.notebooks
def test_learner_copy_run_interactively_shows_no_traceback(tmp_path, monkeypatch):
    """Run All on the untouched learner copy, as a learner would (not strict): every check
    reads "not started yet" and no cell fails."""
    import papermill

    monkeypatch.setenv("MLKIT_STRICT", "0")
    out = tmp_path / "exercise-run.ipynb"
    papermill.execute_notebook(str(ROOT / "exercises" / "00_lifecycle_overview.ipynb"), str(out),
                               parameters={"fast": True}, kernel_name="python3", progress_bar=False,
                               cwd=str(ROOT / "exercises"))
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = json.dumps([o.get("data", {}).get("text/plain", "") for o in outputs])
    assert text.count("Not started yet") == 5


def test_build_and_solution_find_the_course_through_the_course_root(tmp_path, monkeypatch, capsys):
    """After a plain `pip install .` the package is not beside the course folder: both the
    builder and ex.qN.solution() find it through mlkit.course.config.course_root()."""
    from mlkit.exercises import lesson00

    root = _copy_tree(tmp_path)
    (root / "notebooks").mkdir()
    path = root / "solutions" / "00_lifecycle_overview.ipynb"
    path.write_text(path.read_text().replace("Size, spam share and repeated texts", "FROM THE COURSE ROOT"))
    monkeypatch.setenv("MLKIT_COURSE_ROOT", str(root))
    assert build.build_all(check=True) == 1
    assert "exercises/00_lifecycle_overview.ipynb is stale" in capsys.readouterr().err
    assert "FROM THE COURSE ROOT" in lesson00.q1.solution_source()
    monkeypatch.setenv("MLKIT_COURSE_ROOT", str(tmp_path / "nowhere"))
    assert lesson00.q1.solution() == ""
    assert "MLKIT_COURSE_ROOT" in capsys.readouterr().out
