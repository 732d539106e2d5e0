"""mlkit.data.releases: data@v1 built from nothing by ws.require, released with DVC, read back, and refused
when other data claims a tag."""

from __future__ import annotations

import os
import shutil
from unittest import mock

import pytest

pytest.importorskip("dvc")

import mlkit
from mlkit import cli
from mlkit.course.store import StoreError
from mlkit.data import prep, releases, versioning

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One fresh course store with data@v1 built by ws.require, as lesson 02 run alone gets it."""
    home = tmp_path_factory.mktemp("home")
    with mock.patch.dict(os.environ, {"MLKIT_HOME": str(home)}):  # and what setup() sets, undone afterwards
        ws = mlkit.setup("02_release_test")
        yield ws, ws.require("data@v1")


def test_a_fresh_store_holds_data_v1_released_with_dvc(built):
    ws, release = built
    store = ws.store
    assert isinstance(release, releases.DataRelease) and releases.tags(store) == ["v1"] and release.tag == "v1"
    # the hash DVC recorded at tag v1 is the released file's md5, and the remote has it (DVC says so)
    assert release.md5 == versioning.dvc_hash(releases.repo(store) / "sms.parquet.dvc", rev="v1")
    assert release.md5 == versioning.file_md5(release.path)
    assert versioning.remote_status(releases.repo(store)) == {}
    assert releases.versions(store) == {release.md5: "v1"}
    df = release.frame()
    assert list(df.columns) == ["id", "text", "label", "split"] and df.attrs["data_version"] == release.md5
    train, test = release.train(), release.test()
    assert len(train) + len(test) == len(df) and prep.overlap(train, test) == 0
    assert abs(len(test) / len(df) - 0.25) < 0.005
    assert abs(train.label.eq("spam").mean() - test.label.eq("spam").mean()) < 0.01
    assert not prep.normalize_text(df.text).duplicated().any()
    # the suite it passed is committed beside it: lesson 01's suite, the one definition
    suite = versioning.sh(["git", "show", "v1:expectations.json"], releases.repo(store), echo=False)
    assert '"name": "sms_raw"' in suite and "expect_column_mean_to_be_between" in suite


def test_release_is_read_back_through_dvc_when_the_copy_is_gone(built):
    ws, release = built
    release.path.unlink()
    again = releases.read(ws.store, "v1")
    assert again == release and versioning.file_md5(again.path) == release.md5


def test_releasing_the_same_data_again_changes_nothing_and_other_data_is_refused(built, capsys):
    ws, release = built
    same = releases.publish(ws.store, release.frame(), "v1", echo=False)
    assert same == release and "already in the course store" in capsys.readouterr().out
    other = release.frame().iloc[:-1]
    with pytest.raises(StoreError, match="already holds other data as v1"):
        releases.publish(ws.store, other, "v1", echo=False)
    with pytest.raises(StoreError, match="release_frame"):
        releases.publish(ws.store, other.drop(columns="split"), "v9", echo=False)
    assert releases.tags(ws.store) == ["v1"]


def test_a_second_release_gets_its_own_tag_and_md5(built, capsys):
    ws, release = built
    smaller = release.frame().iloc[:500]
    v2 = releases.publish(ws.store, smaller, "test-v2", message="a smaller release", echo=True)
    shown = capsys.readouterr().out
    assert "$ dvc add sms.parquet" in shown and "$ git tag test-v2" in shown and "$ dvc push" in shown
    assert v2.md5 != release.md5 and len(v2.frame()) == 500
    assert releases.tags(ws.store) == ["v1", "test-v2"] and releases.read(ws.store, "v1") == release
    assert versioning.remote_status(releases.repo(ws.store)) == {}


def test_mlkit_store_prints_the_releases(built, capsys):
    ws, release = built
    assert cli.main(["store", "--home", str(ws.root.parent)]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("v1 "))
    assert release.md5 in line and str(len(release.frame())) in line


def test_no_release_says_what_to_run(tmp_path):
    from mlkit.course.store import Store

    with pytest.raises(StoreError, match="Run lesson 01"):
        releases.read(Store(tmp_path), "v1")
    with pytest.raises(StoreError, match="cannot build data 'v7'"):
        Store(tmp_path).require("data@v7")
