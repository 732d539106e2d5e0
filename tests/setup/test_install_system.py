"""scripts/install_system.sh: installs what is missing, and says clearly what a learner loses when it cannot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install_system.sh"
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")


def run(*tools: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(SCRIPT), *tools], env={"PATH": str(path), "MLKIT_CHROMIUM": "/nonexistent"},
                          capture_output=True, text=True, timeout=60)


def test_without_apt_it_says_what_lesson_05_loses_and_how_to_install(tmp_path):
    res = run("prometheus", path=tmp_path)  # an empty PATH: no prometheus, no apt-get
    assert res.returncode == 0  # make all goes on and runs the lessons
    assert "NOT INSTALLED: prometheus prometheus-alertmanager" in res.stderr
    assert "lesson 05 computes its Prometheus numbers in Python" in res.stderr
    assert "sudo apt-get install -y prometheus prometheus-alertmanager" in res.stderr
    assert "browser" not in res.stderr  # only what was asked for


def test_what_is_there_is_left_alone(tmp_path):
    for tool in ("prometheus", "promtool"):
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    res = run("prometheus", path=tmp_path)
    assert res.returncode == 0 and "already installed; nothing to do" in res.stdout
    both = run("chromium", "prometheus", path=tmp_path)  # Chromium is missing: only it is named
    assert "NOT INSTALLED: chromium chromium-driver fonts-liberation." in both.stderr
    assert "the browser tests are skipped" in both.stderr and "lesson 05" not in both.stderr


def test_an_unknown_tool_is_refused(tmp_path):
    res = run("grafana", path=tmp_path)
    assert res.returncode == 2 and "unknown tool 'grafana'" in res.stderr
