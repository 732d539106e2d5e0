import os

import numpy as np
import pytest
import torch

import mlkit
from mlkit.course.errors import MlkitError


def test_setup_makes_workspace_and_points_mlflow_at_it(home):
    ws = mlkit.setup("00_test", seed=3)
    assert ws.root == home / "00_test" and ws.root.is_dir()
    assert ws.tracking_uri == f"sqlite:///{ws.root / 'mlflow.db'}"
    assert os.environ["MLFLOW_TRACKING_URI"] == ws.tracking_uri
    assert os.environ["MLFLOW_REGISTRY_URI"] == ws.tracking_uri
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true" and os.environ["DVC_NO_ANALYTICS"] == "1"
    assert ws.device == "cpu" or ws.device.startswith(("cuda", "mps"))


def test_setup_is_idempotent_and_keeps_files(home):
    ws = mlkit.setup("00_test")
    ws.path("data", "kept.txt").write_text("keep me")
    again = mlkit.setup("00_test")
    assert again == ws and (again.data_dir / "kept.txt").read_text() == "keep me"


def test_setup_seeds_python_numpy_and_torch(home):
    mlkit.setup("00_test", seed=7)
    first = (np.random.rand(), torch.rand(1).item())
    mlkit.setup("00_test", seed=7)
    assert (np.random.rand(), torch.rand(1).item()) == first


def test_fast_flag_from_parameter_or_environment(home, monkeypatch):
    monkeypatch.delenv("MLKIT_FAST", raising=False)
    assert mlkit.setup("00_test").fast is False
    assert mlkit.setup("00_test", fast=True).fast is True
    monkeypatch.setenv("MLKIT_FAST", "1")
    assert mlkit.setup("00_test").fast is True


def test_home_argument_overrides_environment(home, tmp_path):
    ws = mlkit.setup("00_test", home=tmp_path / "elsewhere")
    assert ws.root == tmp_path / "elsewhere" / "00_test"


@pytest.mark.parametrize("bad", ["", "../escape", "a b", "x/y"])
def test_bad_lesson_id_is_a_clear_error(home, bad):
    with pytest.raises(MlkitError, match="Lesson id"):
        mlkit.setup(bad)


def test_unwritable_home_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MlkitError, match="MLKIT_HOME"):
        mlkit.setup("00_test", home=blocker)


def test_mlflow_artifacts_of_any_experiment_stay_in_the_workspace(home, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    ws = mlkit.setup("00_test")
    mlflow.set_tracking_uri(ws.tracking_uri)
    mlflow.set_experiment("anything")
    with mlflow.start_run() as run:
        mlflow.log_text("hello", "note.txt")
    assert mlflow.get_run(run.info.run_id).info.artifact_uri.startswith(ws.artifacts_dir.as_uri())
    assert (ws.artifacts_dir).is_dir() and not (tmp_path / "mlruns").exists()
