"""mlkit.data.pipeline: lesson 01's dvc.yaml and its stages, in a real git + DVC repository, parameters via dvc.api."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("dvc")
gx = pytest.importorskip("great_expectations")
import great_expectations.expectations as gxe  # noqa: E402

from mlkit.course import datasets  # noqa: E402
from mlkit.data import ingest, pipeline, prep, validation  # noqa: E402


def _run(*cmd: str, cwd: Path) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git + DVC repository with lesson 01's dvc.yaml, two landed sources and a suite."""
    _run("git", "init", "-q", cwd=tmp_path)
    _run(str(Path(sys.executable).parent / "dvc"), "init", "-q", cwd=tmp_path)
    sms = datasets.load_sms_spam().reset_index(names="id")
    ingest.land({"file": sms.iloc[:300], "api": sms.iloc[300:600], "sqlite": sms.iloc[600:900]},
                tmp_path / "landing")
    suite = gx.ExpectationSuite(name="s", expectations=[
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=["ham", "spam"]),
        gxe.ExpectColumnValuesToNotBeNull(column="text")])
    validation.save_suite(suite, tmp_path / "expectations.json")
    (tmp_path / "dvc.yaml").write_text(pipeline.DVC_YAML)  # the lesson's file, as the lesson writes it
    (tmp_path / "params.yaml").write_text("ingest:\n  sources: [file, api]\n"
                                          "featurize:\n  dedup: true\n  min_chars: 20\n  unused: 1\n")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_each_stage_gets_only_the_parameters_dvc_yaml_declares_for_it(repo):
    assert pipeline._params("featurize") == {"featurize": {"dedup": True, "min_chars": 20}}
    assert pipeline._params("ingest") == {"ingest": {"sources": ["file", "api"]}}


def test_stages_turn_landing_into_features_with_the_params_from_dvc(repo):
    for stage in ("ingest", "validate", "featurize"):
        assert pipeline.main([stage]) == 0
    raw = pd.read_parquet("data/raw.parquet")
    feats = pd.read_parquet("data/features.parquet")
    assert len(raw) == 600 and set(raw.source) == {"file", "api"}    # sqlite left out by ingest.sources
    assert list(feats.columns) == ["id", *prep.FEATURES, "is_spam"]
    assert feats.id.is_unique and (feats.n_chars >= 20).all()
    assert (raw.text.str.len() < 20).any()                           # so min_chars really filtered
    assert '"success": true' in (repo / "reports" / "validation.json").read_text()


def test_validate_stage_is_a_gate(repo, capsys):
    sms = datasets.load_sms_spam().reset_index(names="id").iloc[:50]
    ingest.land({"file": sms.assign(label="promo")}, repo / "landing")
    assert pipeline.main(["ingest"]) == 0
    assert pipeline.main(["validate"]) == 1
    assert "Data validation failed" in capsys.readouterr().err
    assert not (repo / "data" / "validated.parquet").exists()
    assert '"success": false' in (repo / "reports" / "validation.json").read_text()


def test_outside_a_dvc_repository_a_stage_says_how_to_run_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert pipeline.main(["featurize"]) == 1
    assert "dvc repro" in capsys.readouterr().err


def test_unknown_stage_shows_usage(capsys):
    assert pipeline.main(["train"]) == 2 and "usage" in capsys.readouterr().err
