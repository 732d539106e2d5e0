"""Unit tests for mlkit.training.tracking (lesson 02): experiment location, the MLflow UI server,
code version and the logged figures."""

import pytest

mlflow = pytest.importorskip("mlflow")

import mlkit  # noqa: E402
from mlkit.course import http  # noqa: E402
from mlkit.training import tracking  # noqa: E402


@pytest.fixture()
def ws(tmp_path):
    return mlkit.setup("02_tracking_test", home=tmp_path)


def test_experiment_keeps_artifacts_in_the_course_store(ws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exp_id = tracking.experiment(ws)
    assert tracking.experiment(ws) == exp_id  # safe to call again
    exp = mlflow.get_experiment(exp_id)
    assert exp.name == "02_tracking_test"
    assert exp.artifact_location == (tmp_path / "store" / "mlartifacts" / "02_tracking_test").as_uri()
    with mlflow.start_run() as run:
        mlflow.log_text("hello", "note.txt")
    assert (tmp_path / "store" / "mlartifacts" / "02_tracking_test" / run.info.run_id / "artifacts" / "note.txt").exists()
    assert mlflow.get_run(run.info.run_id).info.experiment_id == exp_id
    assert not (tmp_path / "mlruns").exists()


def test_a_deleted_experiment_is_restored(ws):
    exp_id = tracking.experiment(ws, "to_delete")
    mlflow.MlflowClient().delete_experiment(exp_id)
    assert tracking.experiment(ws, "to_delete") == exp_id
    assert mlflow.get_experiment(exp_id).lifecycle_stage == "active"


def test_spam_model_logged_registered_and_loaded_without_pickle(ws):
    import numpy as np
    import torch

    from mlkit.training import models

    spam = models.spam_data(max_features=300)
    torch.manual_seed(0)
    pipe = models.SpamPipeline(spam.extra["vectorizer"], models.SpamMLP(spam.n_features, hidden=8))
    tracking.experiment(ws)
    with mlflow.start_run() as run:
        info = tracking.log_spam_model(pipe, spam.X_test[:3])
    version = tracking.register_spam_model(info.model_uri, "champion", {"data_version": "abc", "code_version": "x"})
    client = mlflow.MlflowClient()
    mv = client.get_model_version_by_alias("spam-classifier", "champion")
    assert mv.version == version.version and mv.tags == {"data_version": "abc", "code_version": "x"}
    assert mv.run_id == run.info.run_id
    loaded = tracking.load_spam_model("models:/spam-classifier@champion")
    texts = list(spam.extra["text_test"][:40])
    assert np.array_equal(loaded.predict_proba(texts), pipe.predict_proba(texts))
    # the MLflow pyfunc flavour (TF-IDF features in) still works beside it
    pyfunc = mlflow.pyfunc.load_model("models:/spam-classifier@champion", model_config={"device": "cpu"})
    logits = pyfunc.predict(spam.X_test[:40].numpy())
    assert np.allclose(torch.softmax(torch.as_tensor(logits), 1)[:, 1].numpy(), pipe.predict_proba(texts), atol=1e-6)


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
        got = http.call(ui.url, "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "02_tracking_test"})
        assert got["experiment"]["name"] == "02_tracking_test"
    finally:
        ui.stop()
    assert not ui.running


def test_code_version_is_the_commit_of_the_course_folder():
    import subprocess

    from mlkit.course.config import course_root

    head = subprocess.run(["git", "-C", str(course_root()), "rev-parse", "--short=12", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert tracking.code_version().split("+")[0] == head


def test_code_version_outside_git_is_the_package_version(tmp_path):
    assert tracking.code_version(tmp_path) == f"mlkit {mlkit.__version__}"


def test_code_version_without_a_course_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MLKIT_COURSE_ROOT", str(tmp_path))  # not a course folder: course_root() raises
    assert tracking.code_version() == f"mlkit {mlkit.__version__}"


def test_figures():
    records = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "val_accuracy": 0.5},
               {"epoch": 2, "train_loss": 0.5, "val_loss": 0.7, "val_accuracy": 0.8}]
    fig = tracking.curves_figure(records)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    cm = tracking.confusion_figure([0, 1, 1, 0], [0, 1, 0, 0], ["ham", "spam"])
    assert cm.axes[0].get_title() == "confusion matrix"
