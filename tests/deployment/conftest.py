"""Fixtures for lesson 04's tests: small registered models in a temporary MLflow store (the spam
classifier, versions 1 and 2, and the bike-demand model), real model servers (blue = spam
champion, green = spam challenger, and one for the bike model) and a check that no server
process outlives the tests."""

from __future__ import annotations

import os
from unittest import mock

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("aiohttp")

SERVER_MARKS = ("mlkit.deployment.server.app", "mlkit.deployment.router")


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A temporary MLflow registry holding spam-classifier versions 1 (champion) and 2 (challenger),
    logged and registered exactly as the course store does (tracking.log_spam_model), and
    bike-demand version 1 (champion), logged as lesson 06 does (BikeModel.log)."""
    import mlflow
    import torch

    from mlkit.retraining import replay
    from mlkit.training import bike, loop, models, tracking

    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder}/mlflow.db"
    with mock.patch.dict(os.environ, {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}):
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
        year = replay.load_stream()
        with mlflow.start_run(experiment_id=exp) as run:
            bike.BikeModel.fit(year[year.week < 8]).log("model")
        client = mlflow.MlflowClient()
        client.create_registered_model(bike.BIKE_MODEL)
        mv = client.create_model_version(bike.BIKE_MODEL, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
        client.set_registered_model_alias(bike.BIKE_MODEL, "champion", mv.version)
        yield uri


@pytest.fixture(scope="session")
def servers(registry, tmp_path_factory):
    """Blue (spam champion) and green (spam challenger) model servers, real uvicorn processes."""
    from mlkit.deployment import launch
    from mlkit.training.tracking import SPAM_MODEL

    logs = tmp_path_factory.mktemp("servers")
    blue, green = launch.start_all([
        launch.start_server(f"models:/{SPAM_MODEL}@champion", name="blue", tracking_uri=registry,
                            inference_log=logs / "blue.jsonl", log_dir=logs, start=False),
        launch.start_server(f"models:/{SPAM_MODEL}@challenger", name="green", tracking_uri=registry,
                            inference_log=logs / "green.jsonl", log_dir=logs, start=False),
    ])
    yield {"blue": blue, "green": green, "log": logs / "blue.jsonl", "green_log": logs / "green.jsonl"}
    blue.stop()
    green.stop()


@pytest.fixture(scope="session")
def bike_server(registry, tmp_path_factory):
    """The same server for the bike-demand champion (its bike adapter), a real uvicorn process."""
    from mlkit.deployment import launch
    from mlkit.training.bike import BIKE_MODEL

    logs = tmp_path_factory.mktemp("bike-server")
    with launch.start_server(f"models:/{BIKE_MODEL}@champion", kind="bike", name="bike", tracking_uri=registry,
                             inference_log=logs / "bike.jsonl", log_dir=logs, start=False) as server:
        yield {"server": server, "log": logs / "bike.jsonl"}


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
