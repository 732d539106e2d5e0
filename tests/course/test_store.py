"""mlkit.course.store: the course store built from nothing, asked twice, its lineage and its CLI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

mlflow = pytest.importorskip("mlflow")

import mlkit  # noqa: E402
from mlkit import cli  # noqa: E402
from mlkit.course import store as cstore  # noqa: E402
from mlkit.data import prep, versioning  # noqa: E402
from mlkit.training import models, tracking  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One fresh course store, with data@v1 and model@champion built by ws.require."""
    home = tmp_path_factory.mktemp("home")
    uri, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLKIT_HOME", str(home))
        ws = mlkit.setup("03_store_test")
        release = ws.require("data@v1")
        champion = ws.require("model@champion")
        yield ws, release, champion
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(registry)


def test_parse_spec():
    assert cstore.parse_spec("data@v1") == ("data", "v1")
    assert cstore.parse_spec(" model@champion ") == ("model", "champion")
    for bad in ("data", "v1", "weights@x", "model@", ""):
        with pytest.raises(cstore.StoreError, match="data@v1"):
            cstore.parse_spec(bad)


def test_a_fresh_store_holds_data_v1_released_with_dvc(built):
    ws, release, _ = built
    store = ws.store
    assert store.tags() == ["v1"] and release.tag == "v1"
    assert ws.tracking_uri == store.tracking_uri == f"sqlite:///{ws.root.parent / 'store' / 'mlflow.db'}"
    # the hash DVC recorded at tag v1 is the released file's md5, and the remote has it (DVC says so)
    assert release.md5 == versioning.dvc_hash(store.data_repo / "sms.parquet.dvc", rev="v1")
    assert release.md5 == versioning.file_md5(release.path)
    assert versioning.remote_status(store.data_repo) == {}
    df = release.frame()
    assert list(df.columns) == ["id", "text", "label", "split"] and df.attrs["data_version"] == release.md5
    train, test = release.train(), release.test()
    assert len(train) + len(test) == len(df) and prep.overlap(train, test) == 0
    assert abs(len(test) / len(df) - 0.25) < 0.005
    assert abs(train.label.eq("spam").mean() - test.label.eq("spam").mean()) < 0.01
    assert not prep.normalize_text(df.text).duplicated().any()
    # the same messages as data v1 prepared in memory (what spam_data() uses without a store)
    assert models.spam_data(max_features=300).extra["text_test"].tolist() == test.text.tolist()


def test_release_is_read_back_through_dvc_when_the_copy_is_gone(built):
    ws, release, _ = built
    release.path.unlink()
    again = ws.store.data("v1")
    assert again == release and versioning.file_md5(again.path) == release.md5


def test_require_twice_builds_nothing(built, capsys):
    ws, release, champion = built
    capsys.readouterr()
    assert ws.require("data@v1") == release
    assert ws.require("model@champion") == champion
    assert capsys.readouterr().out == ""
    assert ws.store.tags() == ["v1"]
    assert [m["version"] for m in ws.store.models()] == [2, 1]  # one sweep: champion + challenger


def test_releasing_the_same_data_again_changes_nothing_and_other_data_is_refused(built, capsys):
    ws, release, _ = built
    same = ws.store.release(release.frame(), "v1", echo=False)
    assert same == release and "already in the course store" in capsys.readouterr().out
    other = release.frame().iloc[:-1]
    with pytest.raises(cstore.StoreError, match="already holds other data as v1"):
        ws.store.release(other, "v1", echo=False)
    with pytest.raises(cstore.StoreError, match="release_frame"):
        ws.store.release(other.drop(columns="split"), "v9", echo=False)
    assert ws.store.tags() == ["v1"]


def test_champion_and_challenger_carry_the_lineage_of_data_v1(built):
    ws, release, champion = built
    challenger = ws.require("model@challenger")
    assert (champion.alias, champion.uri) == ("champion", "models:/spam-classifier@champion")
    assert champion.version != challenger.version
    client = mlflow.MlflowClient(ws.tracking_uri)
    rank = {}
    for ref in (champion, challenger):
        run = client.get_run(ref.run_id)
        assert run.data.tags["data_version"] == ref.data_version == release.md5
        assert run.data.tags["code_version"] == ref.code_version  # HEAD may move while tests run: its form
        assert re.fullmatch(r"[0-9a-f]{12}(\+dirty)?", ref.code_version), ref.code_version
        assert {"val_f1", "test_f1", "val_loss"} <= set(run.data.metrics)
        rank[ref.alias] = (-run.data.metrics["val_f1"], run.data.metrics["val_loss"])
    # the champion is the better of the two as lesson 02 ranks them: validation F1, ties by validation loss
    assert rank["champion"] <= rank["challenger"], rank
    artifacts = client.get_experiment(client.get_run(champion.run_id).info.experiment_id).artifact_location
    assert artifacts == (ws.store.artifacts_root / "02_training").as_uri()


def test_the_champion_loads_without_pickle_and_reproduces_its_metric(built):
    from sklearn.metrics import f1_score

    ws, release, champion = built
    clf = tracking.load_spam_model(champion.uri)
    assert isinstance(clf, models.SpamPipeline) and isinstance(clf.model, models.SpamMLP)
    test = release.test()
    y_true = test.label.eq("spam").astype(int)
    logged = mlflow.MlflowClient(ws.tracking_uri).get_run(champion.run_id).data.metrics["test_f1"]
    assert f1_score(y_true, clf.predict(test.text)) == pytest.approx(logged, abs=1e-12)
    proba = clf.predict_proba(["WIN a prize, call now", "see you at 6"])
    assert proba.shape == (2,) and proba[0] > 0.5 > proba[1]


def test_unknown_things_are_clear_errors(built):
    ws, _, _ = built
    with pytest.raises(cstore.StoreError, match="cannot build"):
        ws.require("data@v7")
    with pytest.raises(cstore.StoreError, match="cannot build"):
        ws.require("model@production")
    with pytest.raises(mlkit.course.errors.MlkitError, match="Cannot load the model"):
        tracking.load_spam_model("models:/no-such-model@champion")


def test_mlkit_store_prints_the_lineage(built, capsys):
    ws, release, champion = built
    assert cli.main(["store", "--home", str(ws.root.parent)]) == 0
    out = capsys.readouterr().out
    assert f"v1              {release.md5}" in out
    line = next(row for row in out.splitlines() if row.startswith(f"spam-classifier v{champion.version} "))
    assert "champion" in line and f"{release.md5} (v1)" in line
    assert champion.run_id in line and champion.code_version in line


def test_an_empty_store_says_what_to_run(tmp_path, capsys):
    assert cli.main(["store", "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "none yet (run lesson 01)" in out and "none registered yet (run lesson 02)" in out
    with pytest.raises(cstore.StoreError, match="Run lesson 01"):
        cstore.Store(tmp_path).data("v1")


def test_two_lessons_asking_at_once_build_data_v1_once(tmp_path):
    code = "import mlkit; print(mlkit.setup('x').require('data@v1').md5)"
    env = {**os.environ, "MLKIT_HOME": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    lines = [out.splitlines() for out, _ in outs]
    assert sum("building" in " ".join(ls) or "built it" in " ".join(ls) for ls in lines) == 1
    assert lines[0][-1] == lines[1][-1]
    assert cstore.Store(tmp_path).tags() == ["v1"]


def test_mlkit_store_lists_every_registered_model_and_data_repository(tmp_path, capsys):
    store = cstore.Store(tmp_path)  # the course home: the store is tmp_path/store
    client = store._client()
    run = client.create_run(client.create_experiment("bike"))
    client.create_registered_model("bike-demand")
    mv = client.create_model_version("bike-demand", source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id,
                                     tags={"data_version": "abc123", "code_version": "0.3.0"})
    client.set_registered_model_alias("bike-demand", "champion", mv.version)
    repo = store.root / "bike-data"
    repo.mkdir()
    for cmd in (["init", "-q"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "w1"],
                ["tag", "w1"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True)
    assert cli.main(["store", "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("bike-demand v1 "))
    assert "champion" in line and "abc123" in line and run.info.run_id in line
    assert "data releases in bike-data/ (git + DVC): w1" in out
