"""mlkit release-class: what an instructor hands out holds the learner copies, never an answer."""

from __future__ import annotations

import pytest

from mlkit.course import config
from mlkit.course.errors import MlkitError
from mlkit.exercises import lesson00
from mlkit.grade.release import release_class


def test_a_class_release_has_no_solutions_tests_or_fixtures(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "class"
    written = release_class(dest)
    names = {str(p.relative_to(dest)) for p in written}
    assert "exercises/00_lifecycle_overview.ipynb" in names and "mlkit/exercises/lesson00.py" in names
    assert "solutions/CLASS_RELEASE.md" in names and not any(n.startswith("solutions/") and n.endswith(".ipynb")
                                                              for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names), "no solved fixtures, no tests"
    assert not (dest / ".git").exists()
    assert not any("BEGIN SOLUTION" in p.read_text(errors="replace") for p in dest.rglob("*.ipynb"))
    monkeypatch.setenv(config.ROOT_ENV, str(dest))
    assert lesson00.q1.solution() == ""
    assert "class release" in capsys.readouterr().out


def test_a_release_refuses_a_folder_that_is_not_empty_or_inside_the_course(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(MlkitError, match="not empty"):
        release_class(tmp_path)
    with pytest.raises(MlkitError, match="inside the course folder"):
        release_class(config.course_root() / "class-release")
