"""mlkit.retraining.steps: the CI commands of cicd.py's dvc.yaml run on real bike data, and say no by exit code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlkit.retraining import cicd, pipeline, replay, steps
from mlkit.training.bike import BikeModel


def _step(cwd, *args):
    return subprocess.run([sys.executable, "-m", "mlkit.retraining.steps", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder as dvc.yaml expects it: spring data to train on, the recent week, a winter champion."""
    root = tmp_path_factory.mktemp("ci")
    (root / "data").mkdir()
    (root / "models").mkdir()
    year = replay.load_stream()
    replay.labelled_at(year, 20, 7, 8)[pipeline.COLUMNS].to_parquet(root / "data" / "bike.parquet")
    replay.labelled_at(year, 20, 7, 2)[pipeline.COLUMNS].to_parquet(root / "data" / "recent.parquet")
    winter = BikeModel.fit(year[year.week < 8])
    (root / "models" / "champion.json").write_text(json.dumps(winter.to_dict()))
    return root


def test_the_commands_of_the_pipeline_exist():
    for stage in cicd.STAGES.values():
        argv = stage["cmd"].replace("${alpha}", "1").replace("${margin}", "0.02").split()[3:]
        assert steps.parser().parse_args(argv).step == argv[0]


def test_validate_passes_real_data_and_rejects_a_broken_export(project):
    ok = _step(project, "validate", "data/bike.parquet")
    assert ok.returncode == 0, ok.stderr
    assert json.loads((project / "reports" / "validation.json").read_text())["passed"]
    import pandas as pd

    broken = pd.read_parquet(project / "data" / "bike.parquet")
    broken.loc[broken.index[::10], "bikers"] = -1
    broken.to_parquet(project / "data" / "broken.parquet")
    bad = _step(project, "validate", "data/broken.parquet", "--report", "reports/broken.json")
    assert bad.returncode == 1 and "validation failed" in bad.stderr


def test_train_then_gate_promotes_a_better_model_and_blocks_a_worse_one(project):
    trained = _step(project, "train", "data/bike.parquet", "--alpha", "1.0")
    assert trained.returncode == 0, trained.stderr
    better = _step(project, "gate", "models/challenger.json", "--margin", "0.02")
    assert better.returncode == 0 and better.stdout.startswith("PROMOTE"), better.stdout + better.stderr
    # the other way round: the stale winter model challenges the spring one
    worse = _step(project, "gate", "models/champion.json", "--champion", "models/challenger.json",
                  "--report", "reports/worse.json")
    assert worse.returncode == 1 and worse.stdout.startswith("BLOCK"), worse.stdout + worse.stderr
    report = json.loads((project / "reports" / "worse.json").read_text())
    assert not report["promote"] and report["challenger_mae"] > report["champion_mae"]
    blocked = _step(project, "promote", "reports/worse.json")
    assert blocked.returncode == 1 and "gate blocked" in blocked.stderr
