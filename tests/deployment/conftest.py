"""Fixtures for lesson 04's tests: a small registered spam model in a temporary MLflow store,
two real model servers (blue = champion, green = challenger) and a check that no server
process outlives the tests."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("aiohttp")

SERVER_MARKS = ("mlkit.deployment.server:app", "mlkit.deployment.router")


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A temporary MLflow registry holding spam-classifier versions 1 (champion) and 2 (challenger),
    logged and registered exactly as the course store does (tracking.log_spam_model)."""
    import mlflow
    import torch

    from mlkit.training import loop, models, tracking

    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder}/mlflow.db"
    old = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    os.environ["MLFLOW_TRACKING_URI"] = os.environ["MLFLOW_REGISTRY_URI"] = uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    exp = mlflow.create_experiment("tests-04", artifact_location=(folder / "artifacts").as_uri())
    spam = models.spam_data(max_features=500)
    for alias, hidden in (("champion", 16), ("challenger", 8)):
        torch.manual_seed(0)
        model = models.SpamMLP(spam.n_features, hidden=hidden)
        loop.Trainer(model, epochs=3, progress=False).fit((spam.X_train, spam.y_train))
        with mlflow.start_run(experiment_id=exp):
            info = tracking.log_spam_model(models.SpamPipeline(spam.extra["vectorizer"], model), spam.X_test[:2])
        tracking.register_spam_model(info.model_uri, alias, {"data_version": spam.extra["data_version"],
                                                             "code_version": "tests"})
    yield uri
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def servers(registry, tmp_path_factory):
    """Blue (champion) and green (challenger) model servers, real uvicorn processes."""
    from mlkit.deployment import serving

    logs = tmp_path_factory.mktemp("servers")
    blue, green = serving.start_all([
        serving.start_server("models:/spam-classifier@champion", name="blue", tracking_uri=registry,
                             inference_log=logs / "blue.jsonl", log_dir=logs, start=False),
        serving.start_server("models:/spam-classifier@challenger", name="green", tracking_uri=registry,
                             inference_log=logs / "green.jsonl", log_dir=logs, start=False),
    ])
    yield {"blue": blue, "green": green, "log": logs / "blue.jsonl"}
    blue.stop()
    green.stop()


@pytest.fixture(scope="session")
def messages():
    from mlkit.course import datasets

    return datasets.load_sms_spam().text.tolist()[:300]


def _server_children() -> list[str]:
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if any(mark in cmd for mark in SERVER_MARKS):
            found.append(f"{child.pid}: {cmd}")
    return found


@pytest.fixture(scope="session", autouse=True)
def no_server_left():
    """After the last test of the session: no model server or router process is left."""
    yield
    left = _server_children()
    if left:
        from mlkit.course import processes

        processes.stop_all()  # clean up anyway, then fail
    assert not left, f"server processes left after the tests: {left}"
