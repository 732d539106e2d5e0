"""Shared fixtures for the unit tests."""

from __future__ import annotations

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
