"""mlkit.course.store, the ground floor: providers found through entry points, require builds once
under the lock, clear errors, and what ``mlkit store`` prints. The stages' providers themselves
are tested in tests/data/test_releases.py and tests/training/test_registry.py."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

import mlkit
from mlkit import cli
from mlkit.course import store as cstore


@pytest.fixture
def toy(tmp_path):
    """A provider of kind "toy" that builds "toy@one" as a file in the store, registered for the test."""
    built = []

    def find(store, ref):
        path = store.root / f"toy-{ref}.txt"
        return path.read_text() if path.exists() else None

    def build(store, ref, seed):
        built.append((ref, seed))
        (store.root / f"toy-{ref}.txt").write_text(f"{ref} built with seed {seed}")

    provider = cstore.register(cstore.Provider(kind="toy", lesson="lesson 99", buildable=("one",), find=find,
                                               build=build, summary=lambda store: "toys: a table"))
    yield provider, built
    cstore.unregister("toy")


def test_the_stages_register_their_providers_as_entry_points():
    eps = {ep.name: ep.value for ep in entry_points(group=cstore.ENTRY_POINTS)}
    assert eps == {"data": "mlkit.data.releases:PROVIDER", "model": "mlkit.training.registry:PROVIDER"}
    found = cstore.providers()
    assert found["data"].buildable == ("v1",) and found["model"].buildable == ("champion", "challenger")


def test_parse_spec():
    assert cstore.parse_spec("data@v1") == ("data", "v1")
    assert cstore.parse_spec(" model@champion ") == ("model", "champion")
    for bad in ("data", "v1", "weights@x", "model@", ""):
        with pytest.raises(cstore.StoreError, match="ask for 'data@v1', 'model@champion' or 'model@challenger'"):
            cstore.parse_spec(bad)


def test_require_builds_once_says_so_and_then_finds(toy, tmp_path, capsys):
    provider, built = toy
    store = cstore.Store(tmp_path)
    assert not store.has("toy@one")
    assert store.require("toy@one", seed=3) == "one built with seed 3"
    assert built == [("one", 3)]
    assert "toy@one not in the course store yet: built it as lesson 99 does" in capsys.readouterr().out
    assert store.has("toy@one") and store.require("toy@one") == "one built with seed 3"
    assert built == [("one", 3)] and capsys.readouterr().out == ""  # the second time: nothing built, nothing said


def test_what_a_provider_cannot_build_is_a_clear_error(toy, tmp_path):
    store = cstore.Store(tmp_path)
    with pytest.raises(cstore.StoreError, match="cannot build toy 'two' by itself .*builds toy@one"):
        store.require("toy@two")
    assert toy[1] == []


def test_a_build_that_leaves_nothing_is_an_error(tmp_path):
    cstore.register(cstore.Provider(kind="empty", lesson="lesson 98", buildable=("x",), find=lambda s, r: None,
                                    build=lambda s, r, seed: None, summary=lambda s: ""))
    try:
        with pytest.raises(cstore.StoreError, match="left nothing"):
            cstore.Store(tmp_path).require("empty@x")
    finally:
        cstore.unregister("empty")


def test_workspace_require_asks_the_store(toy, tmp_path, monkeypatch):
    monkeypatch.setenv("MLKIT_HOME", str(tmp_path))
    ws = mlkit.setup("99_store_test", seed=7)
    assert ws.store.root == tmp_path / "store"
    assert ws.require("toy@one") == "one built with seed 7"


def test_an_empty_store_says_what_to_run(tmp_path, capsys):
    assert cli.main(["store", "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "none yet (run lesson 01)" in out and "none registered yet (run lesson 02)" in out
    assert not (tmp_path / "store" / "mlflow.db").exists()  # looking changed nothing


def test_mlkit_store_lists_each_provider_every_registered_model_and_data_repository(toy, tmp_path, capsys):
    store = cstore.Store(tmp_path)  # the course home: the store is tmp_path/store
    client = store.client()
    run = client.create_run(client.create_experiment("bike"))
    client.create_registered_model("bike-demand")
    mv = client.create_model_version("bike-demand", source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id,
                                     tags={"data_version": "abc123", "code_version": "0.3.0"})
    client.set_registered_model_alias("bike-demand", "champion", mv.version)
    assert store.model("champion", "bike-demand").run_id == run.info.run_id
    with pytest.raises(cstore.StoreError, match="no model bike-demand@production"):
        store.model("production", "bike-demand")
    assert store.model_names() == ["bike-demand"]
    repo = store.root / "bike-data"
    repo.mkdir()
    for cmd in (["init", "-q"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "w1"],
                ["tag", "w1"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True)
    assert cstore.git_tags(repo) == ["w1"] and cstore.git_tags(tmp_path) == []
    assert cli.main(["store", "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("bike-demand v1 "))
    assert "champion" in line and "abc123" in line and run.info.run_id in line
    assert "data releases in bike-data/ (git + DVC): w1" in out
    assert "toys: a table" in out


def test_two_lessons_asking_at_once_build_data_v1_once(tmp_path):
    """Two fresh interpreters (as two lessons run alone): the data stage's provider is found
    through its entry point, and the store's lock lets only one of them build."""
    code = "import mlkit; print(mlkit.setup('x').require('data@v1').md5)"
    env = {**os.environ, "MLKIT_HOME": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    lines = [out.splitlines() for out, _ in outs]
    assert sum("built it as lesson 01 does" in " ".join(ls) for ls in lines) == 1
    assert lines[0][-1] == lines[1][-1]
    assert cstore.git_tags(tmp_path / "store" / "data") == ["v1"]
