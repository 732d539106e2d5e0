"""The learner's progress: exercises passed and quiz answers, per lesson.

Saved in ``$MLKIT_HOME/progress.json`` (default ``~/mlkit-workspace/progress.json``),
written atomically (a temporary file, then ``os.replace``). A missing file means a fresh
start; a corrupt one is kept aside as ``progress.json.corrupt-<time>`` and replaced, so
progress can never break a lesson. ``mlkit progress`` prints :func:`summary_text`;
``progress.show()`` is the notebook widget.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

FILE_NAME = "progress.json"
VERSION = 1


def progress_path() -> Path:
    """Where progress is kept: $MLKIT_HOME/progress.json."""
    from mlkit.course.workspace import default_home

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


def _known_lessons() -> dict[str, tuple[list[str], list[str]]]:
    """{lesson: (exercise names, quiz ids)} for every lesson module in mlkit.exercises."""
    import importlib
    import pkgutil

    from mlkit import exercises
    from mlkit.exercises.core import lesson_questions

    found = {}
    for info in sorted(pkgutil.iter_modules(exercises.__path__), key=lambda m: m.name):
        if not info.name.startswith("lesson"):
            continue
        try:
            module = importlib.import_module(f"mlkit.exercises.{info.name}")
        except Exception:  # noqa: BLE001 - one broken lesson module must not hide the rest
            continue
        qs = lesson_questions(module)
        lesson = getattr(module, "LESSON", qs[0].lesson if qs else None)
        if lesson:
            quiz = [q.id or f"quiz{i}" for i, q in enumerate(getattr(module, "QUIZ", []), 1)]
            found[lesson] = ([q.name for q in qs], quiz)
    return found


def summary() -> list[dict[str, Any]]:
    """One row per lesson: exercises passed / total, quiz right / answered / total."""
    data = load()
    known = _known_lessons()
    rows = []
    for lesson in sorted(set(known) | set(data["lessons"])):
        names, quiz_ids = known.get(lesson, ([], []))
        saved = data["lessons"].get(lesson, {})
        checks, quiz = saved.get("checks", {}), saved.get("quiz", {})
        rows.append({
            "lesson": lesson,
            "exercises_passed": sum(bool(v.get("passed")) for v in checks.values()),
            "exercises_total": len(names) or len(checks),
            "quiz_right": sum(bool(v.get("correct")) for v in quiz.values()),
            "quiz_answered": len(quiz),
            "quiz_total": len(quiz_ids) or len(quiz),
        })
    return rows


def summary_text() -> str:
    """Progress as a plain-text table (what ``mlkit progress`` prints)."""
    rows = summary()
    lines = [f"Progress saved in {progress_path()}", ""]
    header = ("lesson", "exercises passed", "quiz right")
    table = [header] + [
        (r["lesson"], f"{r['exercises_passed']}/{r['exercises_total']}", f"{r['quiz_right']}/{r['quiz_total']}")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for i, row in enumerate(table):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not rows:
        lines.append("(no lessons yet)")
    return "\n".join(lines)


def _html_table(rows: list[dict[str, Any]]) -> str:
    def bar(done: int, total: int) -> str:
        pct = 100 * done / total if total else 0
        return (f'<div style="background:#eee;width:120px;height:10px;display:inline-block">'
                f'<div style="background:#1a7f37;width:{pct:.0f}%;height:10px"></div></div> {done}/{total}')

    body = "".join(
        f"<tr><td>{html.escape(r['lesson'])}</td><td>{bar(r['exercises_passed'], r['exercises_total'])}</td>"
        f"<td>{bar(r['quiz_right'], r['quiz_total'])}</td></tr>" for r in rows
    ) or '<tr><td colspan="3">No progress yet.</td></tr>'
    return ("<table><tr><th>lesson</th><th>exercises passed</th><th>quiz right</th></tr>"
            f"{body}</table>")


def widget():
    """The progress widget (class ``mlkit-progress``): a table and a Refresh button."""
    import ipywidgets as w

    table = w.HTML(_html_table(summary()))
    button = w.Button(description="Refresh", icon="refresh")
    stamp = w.HTML("")

    def refresh(_b: Any = None) -> None:
        try:
            table.value = _html_table(summary())
            stamp.value = f"<small>updated {time.strftime('%H:%M:%S')}</small>"
        except Exception as exc:  # noqa: BLE001 - a callback must never raise
            stamp.value = f"Could not read progress: {html.escape(str(exc))}"

    button.on_click(refresh)
    box = w.VBox([w.HTML("<h3>Your progress</h3>"), table, w.HBox([button, stamp])])
    box.add_class("mlkit-progress")
    return box


def show() -> None:
    """Show the progress widget in a notebook."""
    from IPython.display import display

    display(widget())
