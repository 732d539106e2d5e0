"""mlkit.training.registry: the champion rule, and model@champion / model@challenger built from nothing by
ws.require, with their lineage, loaded without pickle."""

from __future__ import annotations

import os
import re
import shutil
from unittest import mock

import pytest

mlflow = pytest.importorskip("mlflow")

import mlkit  # noqa: E402
from mlkit import cli  # noqa: E402
from mlkit.course.errors import MlkitError  # noqa: E402
from mlkit.course.store import Store, StoreError  # noqa: E402
from mlkit.training import models, registry, tracking  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def test_the_champion_rule_ranks_by_validation_f1_then_by_loss(tmp_path):
    """Ties in F1 go to the lower loss; a lower loss never beats a higher F1; the test F1 never counts."""
    exp = Store(tmp_path).experiment("rule")
    # the lower-loss tie is logged first: MLflow's own order (newest first) would put it second
    runs = {"tie, lower loss": (0.90, 0.20, 0.50), "tie, higher loss": (0.90, 0.30, 0.99),
            "lowest loss, lower F1": (0.80, 0.10, 1.00)}
    ids = {}
    with mlflow.start_run() as parent:
        for name, (val_f1, val_loss, test_f1) in runs.items():
            with mlflow.start_run(run_name=name, nested=True) as run:
                mlflow.log_metrics({"val_f1": val_f1, "val_loss": val_loss, "test_f1": test_f1})
                ids[run.info.run_id] = name
    with mlflow.start_run():  # another sweep's run: not ranked
        mlflow.log_metrics({"val_f1": 1.0, "val_loss": 0.0})
    ranked = registry.ranked_runs(exp, parent.info.run_id)
    assert [ids[r] for r in ranked.run_id] == ["tie, lower loss", "tie, higher loss", "lowest loss, lower F1"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One fresh course store, with model@champion built by ws.require (and data@v1 with it)."""
    home = tmp_path_factory.mktemp("home")
    uri, reg = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    with mock.patch.dict(os.environ, {"MLKIT_HOME": str(home)}):  # and what setup() sets, undone afterwards
        ws = mlkit.setup("03_registry_test")
        champion = ws.require("model@champion")
        yield ws, ws.require("data@v1"), champion
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(reg)


def test_require_twice_builds_nothing(built, capsys):
    ws, release, champion = built
    capsys.readouterr()
    assert ws.require("model@champion") == champion and ws.require("data@v1") == release
    assert capsys.readouterr().out == ""
    assert [m["version"] for m in ws.store.models(tracking.SPAM_MODEL)] == [2, 1]  # one sweep: champion + challenger


def test_champion_and_challenger_are_the_first_two_by_the_rule_with_the_lineage_of_data_v1(built):
    ws, release, champion = built
    challenger = ws.require("model@challenger")
    assert isinstance(champion, registry.SpamModelRef)
    assert (champion.alias, champion.uri) == ("champion", f"models:/{tracking.SPAM_MODEL}@champion")
    client = mlflow.MlflowClient(ws.tracking_uri)
    run = client.get_run(champion.run_id)
    ranked = registry.ranked_runs(run.info.experiment_id, run.data.tags["mlflow.parentRunId"])
    assert list(ranked.run_id[:2]) == [champion.run_id, challenger.run_id]
    assert len(ranked) == len(registry.FAST_SWEEP)
    for ref in (champion, challenger):
        tags = client.get_run(ref.run_id).data.tags
        assert tags["data_version"] == ref.data_version == release.md5
        assert tags["code_version"] == ref.code_version  # HEAD may move while tests run: its form
        assert re.fullmatch(r"[0-9a-f]{12}(\+dirty)?", ref.code_version), ref.code_version
    artifacts = client.get_experiment(run.info.experiment_id).artifact_location
    assert artifacts == (ws.store.artifacts_root / registry.TRAIN_EXPERIMENT).as_uri()


def test_the_champion_loads_without_pickle_and_reproduces_its_metric(built):
    from sklearn.metrics import f1_score

    ws, release, champion = built
    clf = champion.load()
    assert isinstance(clf, models.SpamPipeline) and isinstance(clf.model, models.SpamMLP)
    test = release.test()
    y_true = test.label.eq("spam").astype(int)
    logged = mlflow.MlflowClient(ws.tracking_uri).get_run(champion.run_id).data.metrics["test_f1"]
    assert f1_score(y_true, clf.predict(test.text)) == pytest.approx(logged, abs=1e-12)
    proba = clf.predict_proba(["WIN a prize, call now", "see you at 6"])
    assert proba.shape == (2,) and proba[0] > 0.5 > proba[1]
    # the same messages as data v1 prepared in memory (what spam_data() uses without a store)
    assert models.spam_data(max_features=300).extra["text_test"].tolist() == test.text.tolist()


def test_unknown_models_are_clear_errors(built):
    ws, _, _ = built
    with pytest.raises(StoreError, match="cannot build model 'production'"):
        ws.require("model@production")
    with pytest.raises(MlkitError, match="Cannot load the model"):
        tracking.load_spam_model("models:/no-such-model@champion")


def test_mlkit_store_prints_the_lineage(built, capsys):
    ws, release, champion = built
    assert cli.main(["store", "--home", str(ws.root.parent)]) == 0
    out = capsys.readouterr().out
    assert f"v1              {release.md5}" in out
    line = next(row for row in out.splitlines() if row.startswith(f"{tracking.SPAM_MODEL} v{champion.version} "))
    assert "champion" in line and f"{release.md5} (v1)" in line
    assert champion.run_id in line and champion.code_version in line
