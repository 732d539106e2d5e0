"""Lesson 05 runs to the end on a machine without Prometheus: every alert is then decided by
the Python path, and the learner reads the one-line install hint."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import psutil
import pytest

from mlkit.course import runner

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = {"prometheus", "promtool", "prometheus-alertmanager", "alertmanager", "amtool"}


@pytest.fixture
def path_without_prometheus(tmp_path, monkeypatch):
    """PATH with every program of the current PATH except Prometheus' (links in one folder)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            target = bin_dir / entry.name
            if entry.name not in HIDDEN and not target.exists():
                target.symlink_to(entry.path)
    monkeypatch.setenv("PATH", str(bin_dir))
    # its own workspaces, and the test run's course store: data v1 and the models are built once
    # (under the store's lock) for every test that needs them, not again here
    shared_store = Path(os.environ["MLKIT_HOME"]) / "store"
    shared_store.mkdir(parents=True, exist_ok=True)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "store").symlink_to(shared_store, target_is_directory=True)
    monkeypatch.setenv("MLKIT_HOME", str(tmp_path / "home"))
    return bin_dir


@pytest.mark.notebooks
def test_lesson_runs_without_prometheus(path_without_prometheus, tmp_path):
    from mlkit.monitoring import prom

    assert not prom.available()
    before = {p.pid for p in psutil.Process().children(recursive=True)}  # other tests' session fixtures
    [res] = runner.run_notebooks([str(ROOT / "notebooks" / "05_monitoring.ipynb")], fast=True,
                                 output_dir=tmp_path / "runs", progress=False)
    assert res.passed, runner.format_summary([res])
    assert res.results["prometheus_used"] is False
    assert res.results["latency_alert_fired"] and res.results["error_alert_fired"]
    assert res.results["healthy_alerts_fired"] == 0
    text = nbformat.read(res.output, as_version=4)
    outputs = "".join(o.get("text", "") for c in text.cells for o in c.get("outputs", []))
    assert "sudo apt-get install -y prometheus prometheus-alertmanager" in outputs
    left = [p.cmdline() for p in psutil.Process().children(recursive=True) if p.is_running() and p.pid not in before]
    assert left == [], left
