"""The progress file: atomic writes, a corrupt or missing file never breaks a lesson, summaries."""

from __future__ import annotations

import json

import pytest
from exercise_checks import front_end_classes

from mlkit.exercises import lesson00, progress, quiz, records


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MLKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLKIT_STRICT", raising=False)
    return tmp_path / "home"


def test_missing_file_is_a_fresh_start(home):
    assert progress.progress_path() == home / "progress.json"
    assert progress.load() == {"version": 1, "lessons": {}}


def test_records_round_trip_and_leave_no_temporary_files(home):
    progress.record_check("00_lifecycle_overview", "q1", False)
    progress.record_check("00_lifecycle_overview", "q1", True)
    progress.record_quiz("00_lifecycle_overview", "stages", True, [0, 1, 3, 4, 6, 7])
    data = json.loads((home / "progress.json").read_text())
    lesson = data["lessons"]["00_lifecycle_overview"]
    assert lesson["checks"]["q1"]["attempts"] == 2 and lesson["checks"]["q1"]["passed"] is True
    assert lesson["quiz"]["stages"]["response"] == [0, 1, 3, 4, 6, 7]
    assert [p.name for p in home.iterdir()] == ["progress.json"]


def test_a_failed_write_keeps_the_old_file(home, monkeypatch):
    progress.record_check("00_lifecycle_overview", "q1", True)
    before = (home / "progress.json").read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(records.os, "replace", boom)
    with pytest.raises(OSError):
        progress.record_check("00_lifecycle_overview", "q2", True)
    assert (home / "progress.json").read_text() == before
    assert [p.name for p in home.iterdir()] == ["progress.json"], "the temporary file is removed"


@pytest.mark.parametrize("content", ["{not json", "", "[1, 2]", '{"lessons": []}', '{"lessons": {"00": 3}}'])
def test_a_corrupt_file_starts_fresh_and_is_kept_as_a_backup(home, content):
    home.mkdir(parents=True)
    (home / "progress.json").write_text(content)
    with pytest.warns(UserWarning, match="unreadable; starting fresh"):
        assert progress.load()["lessons"] == {}
    backups = list(home.glob("progress.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == content
    progress.record_quiz("00_lifecycle_overview", "versioning", True, 1)  # and recording works again
    assert progress.load()["lessons"]["00_lifecycle_overview"]["quiz"]["versioning"]["correct"] is True


def test_a_check_and_the_quiz_still_work_with_a_corrupt_file(home):
    from mlkit.exercises import quiz

    home.mkdir(parents=True)
    (home / "progress.json").write_text("\x00\x01 garbage")
    with pytest.warns(UserWarning):
        assert lesson00.q4.check(lambda days, baseline, tol: [abs(d.count("spam") / len(d) - baseline) > tol
                                                              for d in days]) is True
    qz = quiz.Quiz("00_lifecycle_overview")
    assert "Right" in qz.answer(1, 1)
    assert progress.load()["lessons"]["00_lifecycle_overview"]["checks"]["q4"]["passed"] is True


def test_summary_text_lists_each_lesson_with_totals(home):
    progress.record_check("00_lifecycle_overview", "q1", True)
    progress.record_quiz("00_lifecycle_overview", "stages", True, [0])
    progress.record_quiz("00_lifecycle_overview", "versioning", False, 0)
    text = progress.summary_text()
    assert str(home / "progress.json") in text
    line = next(ln for ln in text.splitlines() if ln.startswith("00_lifecycle_overview"))
    assert "1/5" in line and f"1/{len(quiz.questions('00_lifecycle_overview'))}" in line


def test_summary_lists_known_lessons_before_any_progress():
    rows = {r["lesson"]: r for r in progress.summary()}
    assert rows["00_lifecycle_overview"]["exercises_total"] == 5
    assert rows["00_lifecycle_overview"]["exercises_passed"] == 0


def test_cli_prints_progress(capsys):
    from mlkit import cli

    progress.record_check("00_lifecycle_overview", "q2", True)
    assert cli.main(["progress"]) == 0
    assert "00_lifecycle_overview" in capsys.readouterr().out


def test_progress_widget_refreshes():
    box = progress.widget()
    assert "mlkit-progress" in front_end_classes(box)
    table = box.children[1]
    assert "0/5" in table.value
    progress.record_check("00_lifecycle_overview", "q1", True)
    box.children[2].children[0].click()  # Refresh
    assert "1/5" in table.value


def test_the_exercise_package_has_no_import_cycle():
    """records <- answers <- question <- lessons <- quiz <- progress (and fixtures, lessons on
    top): no module imports one that imports it back, at the top or inside a function."""
    import ast
    from pathlib import Path

    folder = Path(progress.__file__).parent
    graph = {}
    for path in folder.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "mlkit.exercises":
                    names |= {a.name for a in node.names}
                elif node.module.startswith("mlkit.exercises."):
                    names.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                names |= {a.name.split(".")[2] for a in node.names if a.name.startswith("mlkit.exercises.")}
        graph[path.stem] = {n for n in names if (folder / f"{n}.py").exists()} - {path.stem}

    def reaches(start, target, seen=()):
        return any(n == target or (n not in seen and reaches(n, target, (*seen, n))) for n in graph[start])

    cycles = sorted(m for m in graph if reaches(m, m))
    assert not cycles, {m: graph[m] for m in cycles}
    assert graph["records"] == set() and "progress" not in graph["question"]
    assert not {"question", "lessons", "quiz", "progress"} & graph["answers"], graph["answers"]
