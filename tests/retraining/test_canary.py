"""The canary of lesson 06 through lesson 04's router: real servers, real router, nothing left running."""

import numpy as np
import psutil
import pytest

from mlkit.retraining import canary as C
from mlkit.retraining import pipeline as P
from mlkit.retraining import replay


@pytest.fixture(scope="module")
def models():
    s = replay.load_stream()
    recent = replay.labelled_at(s, 20, 7, 2)
    return P.BikeModel.fit(s[s.week < 8]), P.BikeModel.fit(replay.labelled_at(s, 20, 7, 8)), recent


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_served_prediction_matches_the_model(models):
    _, challenger, recent = models
    served = [C.predict_row(challenger.to_dict(), r) for r in recent[list(C.FEATURES)].to_dict("records")]
    np.testing.assert_allclose(served, challenger.predict(recent), rtol=1e-9, atol=1e-9)


def test_good_challenger_passes_through_the_router(models):
    champion, challenger, recent = models
    before = _children()
    summary = C.router_canary(champion, challenger, recent, weight=0.25)
    assert _children() - before == set()
    assert summary["challenger"]["requests"] >= 10 and summary["champion"]["requests"] > summary["challenger"]["requests"]
    assert summary["challenger"]["requests"] + summary["champion"]["requests"] == len(recent)
    assert summary["challenger"]["errors"] == 0 and summary["challenger"]["negative"] == 0
    assert summary["challenger"]["p99_ms"] is not None
    assert "challenger" in C.describe(summary)


@pytest.mark.parametrize("fault, message", [("errors", "failed"), ("negative", "negative counts")])
def test_faulty_challenger_raises_and_stops_everything(models, fault, message):
    champion, challenger, recent = models
    before = _children()
    with pytest.raises(P.RetrainError, match=message):
        C.router_canary(champion, challenger, recent, fault=fault)
    assert _children() - before == set()


def test_bad_arguments_say_what_to_do(models):
    champion, challenger, recent = models
    with pytest.raises(ValueError, match="fault"):
        C.router_canary(champion, challenger, recent, fault="meteor")
    with pytest.raises(ValueError, match="columns"):
        C.router_canary(champion, challenger, recent.drop(columns="hr"))


def test_injected_canary_failure_goes_through_the_router(tmp_path, models):
    """pipeline.retrain(inject="canary") calls the canary with fault="errors": a real failure via the router."""
    from mlkit.course.store import Store

    s = replay.load_stream()
    pl = P.RetrainingPipeline(Store(tmp_path / "home"), tmp_path / "06")
    seen = []

    def check(model, fault=None):
        seen.append(fault)
        C.router_canary(pl.load("champion"), model, replay.labelled_at(s, 24, 7, 2), fault=fault)

    assert pl.retrain(s[s.week < 8], None, "bike-w08").status == "promoted"
    out = pl.retrain(replay.labelled_at(s, 24, 7, 8), replay.labelled_at(s, 24, 7, 2), "bike-w24", canary=check,
                     inject="canary")
    assert seen == ["errors"]
    assert out.status == "failed" and out.stage == "canary" and pl.champion() == "1"
    assert "through the router" in out.alert["error"]
