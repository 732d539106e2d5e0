"""The progress file itself: load, save atomically, record one result (no widgets, no lessons).

The bottom layer of :mod:`mlkit.exercises`: it imports nothing else from the package, so
that :mod:`~mlkit.exercises.question` and :mod:`~mlkit.exercises.quiz` can record results and
:mod:`~mlkit.exercises.progress` can summarise them without an import cycle.

Saved in ``$MLKIT_HOME/progress.json`` (default ``~/mlkit-workspace/progress.json``),
written atomically (a temporary file, then ``os.replace``). A missing file means a fresh
start; a corrupt one is kept aside as ``progress.json.corrupt-<time>`` and replaced, so
progress can never break a lesson.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from mlkit.course.config import default_home

FILE_NAME = "progress.json"
VERSION = 1


def progress_path() -> Path:
    """Where progress is kept: $MLKIT_HOME/progress.json."""
    return default_home() / FILE_NAME


def _fresh() -> dict[str, Any]:
    return {"version": VERSION, "lessons": {}}


def _valid(data: Any) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("lessons"), dict)
            and all(isinstance(v, dict) for v in data["lessons"].values()))


def load(path: Path | None = None) -> dict[str, Any]:
    """The saved progress; a fresh record when the file is missing or corrupt (the corrupt
    file is kept as a backup beside it)."""
    path = path or progress_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _fresh()
    except OSError as exc:
        warnings.warn(f"Cannot read your progress file {path} ({exc}); starting fresh.", stacklevel=2)
        return _fresh()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if _valid(data):
        return data
    backup = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, backup)
        where = f"it was kept as {backup.name}"
    except OSError:
        where = "it could not be moved aside"
    warnings.warn(f"Your progress file {path} was unreadable; starting fresh ({where}).", stacklevel=2)
    return _fresh()


def save(data: dict[str, Any], path: Path | None = None) -> Path:
    """Write progress atomically: a temporary file in the same folder, then os.replace."""
    path = path or progress_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def _update(lesson: str, section: str, key: str, change) -> None:
    data = load()
    entry = data["lessons"].setdefault(lesson, {}).setdefault(section, {}).setdefault(key, {})
    change(entry)
    entry["last"] = _now()
    save(data)


def record_check(lesson: str, name: str, passed: bool) -> None:
    """Save the result of an exercise check (``Question.check`` calls it)."""

    def change(e: dict[str, Any]) -> None:
        e["attempts"] = e.get("attempts", 0) + 1
        e["passed"] = bool(passed) or e.get("passed", False)  # once passed, stays passed
        e["last_passed"] = bool(passed)

    _update(lesson, "checks", name, change)


def record_hint(lesson: str, name: str, hints_seen: int) -> None:
    """Save how many hints of an exercise the learner has seen."""
    _update(lesson, "checks", name, lambda e: e.update(hints=max(hints_seen, e.get("hints", 0))))


def record_quiz(lesson: str, qid: str, correct: bool, response: Any) -> None:
    """Save a quiz answer (the quiz widget calls it)."""

    def change(e: dict[str, Any]) -> None:
        e["attempts"] = e.get("attempts", 0) + 1
        e["correct"] = bool(correct)
        e["response"] = response

    _update(lesson, "quiz", qid, change)


def saved_lesson(lesson: str) -> dict[str, Any]:
    """What is saved for one lesson ({} if nothing, or if the file cannot be read)."""
    try:
        return dict(load()["lessons"].get(lesson, {}))
    except Exception:  # noqa: BLE001 - progress must never break a lesson
        return {}
