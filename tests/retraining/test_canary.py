"""The canary of lesson 06 through lesson 04's model server and router: real servers for registered
versions of the bike model, the real router, the server's own faults, nothing left running."""

import os
from unittest import mock

import psutil
import pytest

from mlkit.retraining import canary as C
from mlkit.retraining import pipeline as P
from mlkit.retraining import replay
from mlkit.training import bike


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """A temporary registry: bike-demand v1 (winter, champion) and v2 (spring); the recent rows of week 20."""
    import mlflow

    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder}/mlflow.db"
    s = replay.load_stream()
    with mock.patch.dict(os.environ, {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}):
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        exp = mlflow.create_experiment("tests-06", artifact_location=(folder / "artifacts").as_uri())
        client = mlflow.MlflowClient()
        client.create_registered_model(bike.BIKE_MODEL)
        for rows in (s[s.week < 8], replay.labelled_at(s, 20, 7, 8)):
            with mlflow.start_run(experiment_id=exp) as run:
                bike.BikeModel.fit(rows).log("model")
            client.create_model_version(bike.BIKE_MODEL, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
        client.set_registered_model_alias(bike.BIKE_MODEL, "champion", "1")
        yield {"tracking_uri": uri, "champion": f"models:/{bike.BIKE_MODEL}@champion",
               "challenger": f"models:/{bike.BIKE_MODEL}/2", "recent": replay.labelled_at(s, 20, 7, 2)}


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _canary(reg, rows=None, **kwargs):
    return C.router_canary(reg["champion"], reg["challenger"], reg["recent"] if rows is None else rows,
                           tracking_uri=reg["tracking_uri"], **kwargs)


def test_good_challenger_passes_through_the_router(registered):
    before = _children()
    summary = _canary(registered, weight=0.25)
    assert _children() - before == set()
    assert summary["challenger"]["requests"] >= 10 and summary["champion"]["requests"] > summary["challenger"]["requests"]
    assert summary["challenger"]["requests"] + summary["champion"]["requests"] == len(registered["recent"])
    assert summary["challenger"]["errors"] == 0 and summary["challenger"]["negative"] == 0
    assert summary["challenger"]["p99_ms"] is not None and summary["challenger"]["p99_ms"] < 250
    assert "challenger" in C.describe(summary)


@pytest.mark.parametrize("fault, message, rows", [
    ("errors", r"failed \d+ of \d+ requests", None),
    ("negative", r"answered \d+ negative counts", None),
    ("slow", r"p99 \d+ ms is over the SLO of 250 ms", 60),  # 300 ms a request: fewer rows
])
def test_faulty_challenger_raises_and_stops_everything(registered, fault, message, rows):
    before = _children()
    recent = registered["recent"] if rows is None else registered["recent"].head(rows)
    with pytest.raises(P.RetrainError, match=message) as info:
        _canary(registered, recent, fault=fault)
    assert _children() - before == set()
    others = {"errors": "failed", "negative": "negative", "slow": "SLO"}
    assert [w for f, w in others.items() if f != fault and w in str(info.value)] == []  # only the injected fault


def test_bad_arguments_say_what_to_do(registered):
    with pytest.raises(ValueError, match="fault"):
        _canary(registered, fault="meteor")
    with pytest.raises(ValueError, match="columns"):
        _canary(registered, registered["recent"].drop(columns="hr"))


def test_injected_canary_failure_goes_through_the_router(tmp_path):
    """pipeline.retrain(inject="canary") calls the canary with fault="errors": a real failure via the router."""
    from mlkit.course.store import Store

    s = replay.load_stream()
    pl = P.RetrainingPipeline(Store(tmp_path / "home"), tmp_path / "06")
    seen = []

    def check(version, fault=None):
        seen.append((version, fault))
        C.router_canary(pl.uri("champion"), pl.uri(version), replay.labelled_at(s, 24, 7, 2), fault=fault,
                        tracking_uri=pl.store.tracking_uri)

    assert pl.retrain(s[s.week < 8], None, "bike-w08").status == "promoted"
    out = pl.retrain(replay.labelled_at(s, 24, 7, 8), replay.labelled_at(s, 24, 7, 2), "bike-w24", canary=check,
                     inject="canary")
    assert seen == [("2", "errors")]
    assert out.status == "failed" and out.stage == "canary" and pl.champion() == "1"
    assert "through the router" in out.alert["error"] and "failed" in out.alert["error"]
