"""mlkit.data.versioning: real git and dvc in a temporary repository."""

from __future__ import annotations

import shutil

import pytest

from mlkit.data import versioning

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture
def repo(tmp_path):
    return versioning.init_repo(tmp_path / "repo", tmp_path / "remote", echo=False)


def test_sh_shows_the_command_and_its_output(tmp_path, capsys):
    out = versioning.sh("git --version", tmp_path)
    assert out.startswith("git version")
    assert capsys.readouterr().out.startswith("$ git --version\ngit version")
    out._ipython_display_()  # printed once already: a notebook does not echo it again


def test_sh_failures_are_clear(tmp_path):
    with pytest.raises(versioning.VersioningError, match=r"`git log` failed in .* \(exit"):
        versioning.sh("git log", tmp_path, echo=False)
    assert versioning.sh("git log", tmp_path, echo=False, check=False).startswith("fatal")
    with pytest.raises(versioning.VersioningError, match="is not installed"):
        versioning.sh("no-such-tool --x", tmp_path)


def test_tidy_removes_colour_codes_and_spinners():
    assert versioning._tidy("\x1b[?25l⠋ Checking graph\n\x1b[32mok\x1b[0m\n\n") == "ok"


def test_init_repo_makes_git_dvc_and_a_remote_and_resets(tmp_path, repo):
    assert (repo / ".git").is_dir() and (repo / ".dvc" / "config").exists()
    assert str(repo.resolve() / ".dvc" / "tmp" / "site") in (repo / ".dvc" / "config.local").read_text()
    assert str((tmp_path / "remote").resolve()) in versioning.sh("dvc remote list", repo, echo=False)
    (repo / "junk.txt").write_text("x")
    again = versioning.init_repo(tmp_path / "repo", tmp_path / "remote", echo=False)
    assert not (again / "junk.txt").exists()
    assert len(versioning.sh("git log --oneline", again, echo=False).splitlines()) == 1


def test_add_push_pull_and_restore_a_release(repo):
    sh = lambda cmd: versioning.sh(cmd, repo, echo=False)  # noqa: E731
    data = repo / "data.csv"
    data.write_text("a,b\n1,2\n")
    sh("dvc add data.csv")
    v1 = versioning.dvc_hash(repo / "data.csv.dvc")
    assert v1 == versioning.file_md5(data)
    sh("git add data.csv.dvc .gitignore")
    sh("git commit -q -m v1")
    sh("git tag v1")
    assert versioning.remote_status(repo) == {"data.csv": "new"}  # DVC says what the remote lacks
    sh("dvc push")
    assert versioning.remote_status(repo) == {}
    data.write_text("a,b\n1,2\n3,4\n")
    sh("dvc add data.csv")
    sh("git commit -q -am v2")
    sh("dvc push")
    assert versioning.dvc_hash(repo / "data.csv.dvc", rev="v1") == v1  # read at the tag, tree untouched
    assert versioning.dvc_hash(repo / "data.csv.dvc") == versioning.file_md5(data) != v1
    with pytest.raises(versioning.VersioningError):
        versioning.dvc_hash(repo / "data.csv.dvc", rev="v9")
    shutil.rmtree(repo / ".dvc" / "cache")
    data.unlink()
    sh("git checkout v1 -- data.csv.dvc")
    sh("dvc pull data.csv.dvc")
    assert versioning.file_md5(data) == v1 and versioning.cache_size(repo) > 0


def test_tree_digest_sees_names_and_contents(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("1")
    first = versioning.tree_digest(tmp_path / "d")
    assert versioning.tree_digest(tmp_path / "d") == first
    (tmp_path / "d" / "a.txt").write_text("2")
    assert versioning.tree_digest(tmp_path / "d") != first
    assert versioning.tree_digest(tmp_path / "d" / "a.txt") != first


def test_dvc_hash_of_a_file_without_outs_is_explained(tmp_path):
    (tmp_path / "x.dvc").write_text("outs: []\n")
    with pytest.raises(versioning.VersioningError, match="no output hash"):
        versioning.dvc_hash(tmp_path / "x.dvc")


def test_stages_ran_reads_repro_output():
    out = ("Running stage 'ingest':\n> python ...\nStage 'validate' didn't change, skipping\n"
           "Running stage 'featurize':")
    assert versioning.stages_ran(out) == ["ingest", "featurize"]
    assert versioning.stages_ran("Data and pipelines are up to date.") == []
