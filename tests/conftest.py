"""Shared fixtures for the unit tests, and the rule that runs each lesson once per pass."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Fixture notebooks are inputs of tests, not tests themselves (nbval would collect them).
collect_ignore_glob = ["fixtures/*", "browser/fixtures/*", "*/fixtures/*"]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty MLKIT_HOME for one test."""
    monkeypatch.setenv("MLKIT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _chromium_available() -> bool:
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    try:
        import labdriver
    finally:
        sys.path.pop(0)
    return labdriver.find_chromium()[0] is not None


def _first_is_slowest(item: pytest.Item) -> int:
    """The browser tests (one long file), then whatever executes notebooks, then the rest."""
    if item.get_closest_marker("browser"):
        return 0
    return 1 if item.get_closest_marker("notebooks") or type(item).__module__.startswith("nbval") else 2


def pytest_collection_modifyitems(config, items):
    """Each lesson runs once per pass. Where the browser tests run a lesson in JupyterLab
    (Chromium present and ``test_lesson_in_jupyterlab[lesson]`` selected), that test also
    checks its key results, and the batch runner's copy of the lesson is deselected
    (tests/course/test_notebooks.py). Without Chromium the runner runs every lesson.

    The slow files go first: `make test` hands whole files to two workers in this order
    (``--dist loadfile --no-loadscope-reorder``), so the workers end with short files and
    finish together, instead of one waiting while the other runs a long file picked up last."""
    items.sort(key=_first_is_slowest)  # stable: files keep their order within each group
    def by_param(test, key):
        return {item.callspec.params[key]: item for item in items if getattr(item, "originalname", "") == test}

    in_browser = by_param("test_lesson_in_jupyterlab", "lesson")
    in_runner = by_param("test_lesson_runs_and_reports", "name")
    drop = [item for lesson, item in in_runner.items() if lesson in in_browser]
    if drop and _chromium_available():
        config.hook.pytest_deselected(items=drop)
        items[:] = [item for item in items if item not in drop]
