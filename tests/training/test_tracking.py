"""Unit tests for mlkit.training.tracking (lesson 02): experiment location, the MLflow UI server,
code version and the logged figures."""

import json
import urllib.request

import pytest

mlflow = pytest.importorskip("mlflow")

import mlkit  # noqa: E402
from mlkit.training import tracking  # noqa: E402


@pytest.fixture()
def ws(tmp_path):
    return mlkit.setup("02_tracking_test", home=tmp_path)


def test_experiment_keeps_artifacts_in_the_workspace(ws, tmp_path):
    exp_id = tracking.experiment(ws)
    assert tracking.experiment(ws) == exp_id  # safe to call again
    exp = mlflow.get_experiment(exp_id)
    assert exp.name == "02_tracking_test"
    assert exp.artifact_location.startswith((ws.root / "mlartifacts").as_uri())
    with mlflow.start_run() as run:
        mlflow.log_text("hello", "note.txt")
    assert (ws.root / "mlartifacts").exists()
    assert mlflow.get_run(run.info.run_id).info.experiment_id == exp_id


def test_ui_command_is_local_and_uses_the_lesson_db(ws):
    cmd = tracking.ui_command(ws)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--backend-store-uri") + 1] == ws.tracking_uri
    assert "{port}" in cmd


def test_ui_starts_answers_and_stops(ws, capsys):
    tracking.experiment(ws)  # creates the tables before the server reads them
    ui = tracking.start_ui(ws, wait=False)
    try:
        tracking.wait_ui(ui)
        assert "MLflow UI: http://127.0.0.1:" in capsys.readouterr().out
        with urllib.request.urlopen(f"{ui.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=02_tracking_test",
                                    timeout=10) as r:
            assert json.load(r)["experiment"]["name"] == "02_tracking_test"
    finally:
        ui.stop()
    assert not ui.running


def test_code_version():
    v = tracking.code_version()
    assert v == "unknown" or len(v.split("+")[0]) == 12


def test_code_version_outside_git(tmp_path):
    assert tracking.code_version(tmp_path) == "unknown"


def test_figures():
    records = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "val_accuracy": 0.5},
               {"epoch": 2, "train_loss": 0.5, "val_loss": 0.7, "val_accuracy": 0.8}]
    fig = tracking.curves_figure(records)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    cm = tracking.confusion_figure([0, 1, 1, 0], [0, 1, 0, 0], ["ham", "spam"])
    assert cm.axes[0].get_title() == "confusion matrix"
