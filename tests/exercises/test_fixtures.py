"""mlkit.exercises.fixtures: the shared SMS data and split, and context managers that leave
nothing behind (environment, MLflow settings, folders, processes)."""

from __future__ import annotations

import logging
import os
import urllib.request

import pytest

from mlkit.data import prep
from mlkit.exercises import fixtures


def test_sms_data_and_split_are_the_course_definitions():
    raw, deduped = fixtures.sms(), fixtures.sms_deduped()
    assert len(raw) - len(deduped) == prep.dedupe(raw)[1] > 0
    train, test = fixtures.sms_split(seed=0)
    want_train, want_test = prep.split(raw, test_size=0.25, seed=0)
    assert list(train.index) == list(want_train.index) and list(test.index) == list(want_test.index)
    assert prep.overlap(train, test) == 0
    assert len(train) + len(test) == len(deduped)
    assert abs(len(test) / len(deduped) - 0.25) < 0.01
    assert fixtures.sms_split(seed=1)[1].index.tolist() != test.index.tolist()


def test_scratch_folder_is_removed_even_after_an_error():
    with pytest.raises(RuntimeError), fixtures.scratch("mlkit-test-") as folder:
        (folder / "x.txt").write_text("x")
        kept = folder
        raise RuntimeError("boom")
    assert not kept.exists()


# --- the temporary MLflow store -------------------------------------------------------------
mlflow = pytest.importorskip("mlflow")


@pytest.fixture
def clean_mlflow_env(monkeypatch):
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLKIT_TEST_KEEP", "as before")
    monkeypatch.setenv("MLKIT_TEST_DROP", "removed inside, back after")


def _touch_everything(store):
    """What a check (or the learner's code inside it) may do to the environment and MLflow."""
    with mlflow.start_run() as run:
        mlflow.log_metric("x", 1.0)
    assert run.info.experiment_id == store.experiment_id
    assert run.info.artifact_uri.startswith(store.folder.as_uri())
    os.environ["MLKIT_TEST_KEEP"] = "changed inside"
    os.environ["MLKIT_TEST_NEW"] = "added inside"
    del os.environ["MLKIT_TEST_DROP"]
    os.environ["MLFLOW_TEST_SETTING"] = "left over"
    mlflow.start_run()  # left active: the fixture ends it


def test_temp_mlflow_restores_every_variable_when_the_learner_set_nothing(tmp_path, clean_mlflow_env):
    before = dict(os.environ)
    level = logging.getLogger("mlflow").level
    with fixtures.temp_mlflow("t1") as store:
        assert mlflow.get_tracking_uri() == mlflow.get_registry_uri() == store.uri
        _touch_everything(store)
        folder = store.folder
    assert dict(os.environ) == before
    assert mlflow.active_run() is None
    assert logging.getLogger("mlflow").level == level
    assert not folder.exists()
    assert mlflow.get_tracking_uri() != store.uri and mlflow.get_registry_uri() != store.uri


def test_temp_mlflow_restores_what_the_learner_set_in_code_even_after_an_error(tmp_path, clean_mlflow_env):
    mine = f"sqlite:///{tmp_path}/mine.db"
    mlflow.set_tracking_uri(mine)
    mlflow.set_registry_uri(mine)
    exp = mlflow.set_experiment("learner-experiment")
    mlflow.MlflowClient().create_experiment("spacer")  # so the store's ids differ from the temporary one's
    mlflow.set_experiment(experiment_id=exp.experiment_id)
    before = dict(os.environ)
    with pytest.raises(ZeroDivisionError), fixtures.temp_mlflow("t2") as store:
        assert mlflow.get_tracking_uri() == mlflow.get_registry_uri() == store.uri
        other = store.experiment("second")
        with mlflow.start_run() as run:
            pass
        assert run.info.experiment_id == other
        _touch_everything(store)
        raise ZeroDivisionError("an error inside the block")
    assert dict(os.environ) == before
    assert mlflow.get_tracking_uri() == mlflow.get_registry_uri() == mine
    with mlflow.start_run() as run:  # the learner's own experiment is active again
        pass
    assert run.info.experiment_id == exp.experiment_id
    assert not store.folder.exists()


# --- the server sandbox ------------------------------------------------------------------------------
def test_server_answers_inside_and_is_stopped_after_even_on_error():
    command = ("-m", "http.server", "{port}", "--bind", "127.0.0.1")
    with pytest.raises(KeyError), fixtures.server(*command, name="static files") as srv:
        with urllib.request.urlopen(srv.url + "/", timeout=10) as response:
            assert response.status == 200
        process, folder = srv.process, srv.cwd
        raise KeyError("boom")
    assert process.poll() is not None, "the server process is stopped"
    assert not srv.running
    assert not os.path.exists(folder)
