import numpy as np
import pytest

from mlkit.course.store import Store, git_tags
from mlkit.retraining import pipeline as P
from mlkit.retraining import replay
from mlkit.training.bike import BIKE_MODEL, BikeModel


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One store, a year's retrains: first model, a better one, a worse one, three injected failures."""
    home = tmp_path_factory.mktemp("home")
    pl = P.RetrainingPipeline(Store(home), home / "06_retraining")
    s = replay.load_stream()
    recent = replay.labelled_at(s, 20, 7, 2)
    out = {"first": pl.retrain(s[s.week < 8], None, "bike-w08"),
           "better": pl.retrain(replay.labelled_at(s, 20, 7, 8), recent, "bike-w20"),
           "worse": pl.retrain(s[s.week < 4], recent, "bike-w04")}
    out["champion_before_failures"] = pl.champion()
    for fault in P.FAILURES:
        out[fault] = pl.retrain(replay.labelled_at(s, 24, 7, 8), replay.labelled_at(s, 24, 7, 2),
                                f"bike-w24-{fault}", inject=fault)
    out["champion_after_failures"] = pl.champion()
    out["stream"] = s
    return pl, out


def test_gate_promotes_better_and_blocks_worse(run):
    pl, out = run
    assert out["first"].status == "promoted" and out["first"].champion == "1"
    assert out["better"].status == "promoted" and out["better"].decision.promote
    assert out["worse"].status == "blocked" and out["worse"].stage == "gate"
    assert out["champion_before_failures"] == out["better"].version


def test_failures_leave_the_champion_and_raise_alerts(run):
    pl, out = run
    assert out["champion_after_failures"] == out["champion_before_failures"]
    assert [out[f].stage for f in P.FAILURES] == ["validation", "training", "canary"]
    assert all(out[f].status == "failed" for f in P.FAILURES)
    assert [a["stage"] for a in pl.alerts] == ["validation", "training", "canary"]
    assert (pl.workdir / "alerts.jsonl").read_text().count("\n") == 3
    assert (pl.workdir / "quarantine" / "bike-w24-validation.parquet").exists()  # nothing lost
    assert out["training"].release is not None  # the data release stays


def test_lineage_and_rollback(run):
    pl, out = run
    table = pl.lineage()
    assert P.lineage_complete(table)
    row = table.set_index("version").loc[out["better"].version]
    assert row["replaces"] == "1" and row["data_tag"] == "bike-w20" and len(row["data_version"]) == 32
    assert pl.rollback() == "1" and pl.champion() == "1"
    s = out["stream"]
    served, winter = pl.load(), BikeModel.fit(s[s.week < 8])  # v1: the first model, trained on weeks 0-7
    assert served.alpha == 1.0
    np.testing.assert_allclose(served.predict(s), winter.predict(s), rtol=1e-9)
    assert pl.uri("champion") == f"models:/{BIKE_MODEL}@champion" and pl.uri("3") == f"models:/{BIKE_MODEL}/3"
    with pytest.raises(P.RetrainError, match="previous champion"):
        pl.rollback()


def test_bad_injection_name(run):
    pl, _ = run
    with pytest.raises(ValueError, match="inject"):
        pl.retrain(replay.load_stream().head(48), None, "x", inject="meteor")


def test_another_model_gets_its_own_data_repository_and_starts_over_when_retired(run):
    """Lesson 06's weekly DAG retrains `bike-demand-weekly` in the same store while the lesson works on
    `bike-demand`: its releases go to a repository of its own, and `retire` gives a rerun a fresh start."""
    pl, out = run
    weekly = P.RetrainingPipeline(pl.store, pl.workdir / "weekly", name="bike-demand-weekly")
    assert pl.repo.name == "bike-data" and weekly.repo.name == "bike-demand-weekly-data"
    s = out["stream"]
    first = weekly.retrain(replay.labelled_at(s, 20, 7, 8), None, "bike-w20")
    assert first.status == "promoted" and weekly.champion() == "1" and weekly.retire() == "1"
    assert weekly.champion() is None and weekly.lineage().set_index("version").loc["1", "status"] == "retired"
    assert weekly.retire() is None  # nothing left to retire
    assert pl.champion() not in (None, "")  # the bike model kept its champion
    assert "bike-w20" in git_tags(weekly.repo) and (weekly.repo / ".git").is_dir()
