import os

import numpy as np
import pytest
import torch

import mlkit
from mlkit.course.errors import MlkitError


def test_setup_makes_workspace_and_points_mlflow_at_the_course_store(home):
    ws = mlkit.setup("00_test", seed=3)
    assert ws.root == home / "00_test" and ws.root.is_dir()
    assert ws.tracking_uri == f"sqlite:///{home / 'store' / 'mlflow.db'}" == ws.store.tracking_uri
    assert mlkit.setup("01_other").tracking_uri == ws.tracking_uri  # one store for every lesson
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


def test_torch_is_imported_only_when_used_and_then_seeded(home):
    """Set-up does not import torch (about 1.5 s of CPU); a later import is seeded all the same,
    with the latest set-up's seed, and asking for the device is what imports it."""
    import subprocess
    import sys

    script = (
        "import sys, mlkit\n"
        "mlkit.setup('00_test', seed=1)\n"
        "ws = mlkit.setup('00_test', seed=7)\n"
        "assert 'torch' not in sys.modules, 'set-up imported torch'\n"
        "import torch\n"
        "drawn = torch.rand(2).tolist()\n"
        "torch.manual_seed(7)\n"
        "assert drawn == torch.rand(2).tolist(), 'torch was not seeded with the set-up seed'\n"
        "assert ws.device in ('cpu', 'cuda', 'mps')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "MLKIT_HOME": str(home)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_an_accelerator_asked_for_by_name_is_checked_at_set_up(home, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(MlkitError, match="no CUDA GPU"):
        mlkit.setup("00_test", device="cuda")
    with pytest.raises(MlkitError, match="Unknown device 'tpu'"):
        mlkit.setup("00_test", device="tpu")


def test_fast_flag_from_parameter_or_environment(home, monkeypatch):
    monkeypatch.delenv("MLKIT_FAST", raising=False)
    assert mlkit.setup("00_test").fast is False
    assert mlkit.setup("00_test", fast=True).fast is True
    monkeypatch.setenv("MLKIT_FAST", "1")
    assert mlkit.setup("00_test").fast is True


def test_home_argument_overrides_environment(home, tmp_path):
    ws = mlkit.setup("00_test", home=tmp_path / "elsewhere")
    assert ws.root == tmp_path / "elsewhere" / "00_test"


@pytest.mark.parametrize("bad", ["", "../escape", "a b", "x/y", "store"])
def test_bad_lesson_id_is_a_clear_error(home, bad):
    with pytest.raises(MlkitError, match="Lesson id"):
        mlkit.setup(bad)


def test_unwritable_home_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MlkitError, match="MLKIT_HOME"):
        mlkit.setup("00_test", home=blocker)


def test_setup_sets_no_private_mlflow_variable(home, monkeypatch):
    monkeypatch.delenv("_MLFLOW_SERVER_ARTIFACT_ROOT", raising=False)
    before = {name for name in os.environ if name.startswith("_MLFLOW")}  # other tests' MLflow may set some
    mlkit.setup("00_test")
    assert {name for name in os.environ if name.startswith("_MLFLOW")} == before


def test_seed_everything_docstring_says_what_it_does_not_do():
    from mlkit.course.workspace import seed_everything

    assert "PYTHONHASHSEED" in seed_everything.__doc__ and "change nothing" in seed_everything.__doc__


def test_require_rejects_what_it_cannot_read(home):
    from mlkit.course.store import StoreError

    with pytest.raises(StoreError, match="ask for 'data@v1'"):
        mlkit.setup("00_test").require("v1")
