"""Lesson 01's data releases in the course store: publish one, read it back through DVC, build v1.

The course store (:mod:`mlkit.course.store`) keeps the SMS messages in ONE git + DVC
repository, ``store/data``, with its local DVC remote ``store/dvc-remote``. A release is a git
tag whose commit tracks ``sms.parquet`` with DVC and keeps the Great Expectations suite it
passed (``expectations.json``) beside it.

* :func:`publish`: lesson 01's last step (and the capstone's releases): the frame of
  :func:`mlkit.data.prep.release_frame` under a tag, with :func:`mlkit.data.versioning.release`;
* :func:`read`: a release by its tag, read through DVC (``dvc.api``); :func:`tags`;
* :func:`build_v1`: lesson 01 in brief, what ``ws.require("data@v1")`` runs when the store
  lacks it: fill the three upstream systems, read and merge them, validate with lesson 01's
  suite (:func:`mlkit.data.validation.raw_suite`, the gate), release as ``v1``;
* :data:`PROVIDER`: how the store asks for ``data@...`` (an entry point of group
  ``mlkit.store`` in ``pyproject.toml``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.course.quiet import quiet
from mlkit.course.store import Provider, Store, StoreError, git_tags

if TYPE_CHECKING:
    import pandas as pd

DATA_FILE = "sms.parquet"  # the file a data release tracks with DVC
SUITE_FILE = "expectations.json"  # the GX suite the release passed, kept in git beside it


@dataclass(frozen=True)
class DataRelease:
    """A data release of the course store: its git tag, its DVC md5 and a local copy."""

    tag: str
    md5: str
    path: Path

    def frame(self) -> pd.DataFrame:
        """The released messages: ``id, text, label, split`` (``attrs`` hold ``data_version``, ``data_tag``)."""
        import pandas as pd

        df = pd.read_parquet(self.path)
        df.attrs.update(data_version=self.md5, data_tag=self.tag)
        return df

    def train(self) -> pd.DataFrame:
        """The training part of the one split every lesson uses."""
        return self._part("train")

    def test(self) -> pd.DataFrame:
        """The test part of the one split every lesson uses."""
        return self._part("test")

    def _part(self, name: str) -> pd.DataFrame:
        df = self.frame()
        part = df[df["split"] == name].reset_index(drop=True)
        part.attrs.update(df.attrs)
        return part


def repo(store: Store) -> Path:
    """The git + DVC repository of the SMS releases."""
    return store.root / "data"


def remote(store: Store) -> Path:
    """Its local DVC remote (a folder standing in for S3 or GCS)."""
    return store.root / "dvc-remote"


def tags(store: Store) -> list[str]:
    """The SMS data releases (git tags), oldest first."""
    return git_tags(repo(store))


def versions(store: Store) -> dict[str, str]:
    """{DVC md5: tag} of every release (read from git, without fetching the data)."""
    from mlkit.data import versioning

    return {versioning.dvc_hash(repo(store) / f"{DATA_FILE}.dvc", rev=tag): tag for tag in tags(store)}


def publish(store: Store, frame: pd.DataFrame, tag: str, *, suite: Any = None, message: str | None = None,
            echo: bool = True) -> DataRelease:
    """Release ``frame`` (id, text, label, split) in the course store under git tag ``tag`` (lesson 01).

    Runs :func:`mlkit.data.versioning.release` in the store's SMS repository, under the store's
    lock: ``sms.parquet``, ``dvc add``, ``git commit`` (with ``suite``, the GX suite it passed,
    as ``expectations.json``), ``git tag``, ``dvc push``, shown like a terminal when ``echo``.
    Releasing the same data under the same tag again changes nothing; other data under an
    existing tag is refused.
    """
    from mlkit.data import prep, validation, versioning

    missing = set(prep.RELEASE_COLUMNS) - set(frame.columns)
    if missing:
        raise StoreError(f"A release needs the columns {prep.RELEASE_COLUMNS}; missing {sorted(missing)}. "
                         "Make it with mlkit.data.prep.release_frame(df).")
    files = {SUITE_FILE: lambda path: validation.save_suite(suite, path)} if suite is not None else {}
    with store.lock():
        try:
            md5, new = versioning.release(repo(store), remote(store), frame[prep.RELEASE_COLUMNS], tag,
                                          data_file=DATA_FILE, files=files, message=message, echo=echo)
        except versioning.ReleaseConflict as exc:
            raise StoreError(f"The course store: {exc} Or start a fresh store by deleting {store.root}.") from None
    if not new:
        print(f"{tag} is already in the course store with the same data (md5 {md5}).")
    return read(store, tag)


def read(store: Store, tag: str = "v1") -> DataRelease:
    """A data release read by its tag through DVC; :class:`StoreError` when there is none."""
    from mlkit.data import versioning

    if tag not in tags(store):
        raise StoreError(f"The course store has no data release {tag!r} (it has: {tags(store) or 'none'}). "
                         f"Run lesson 01, or ws.require('data@{tag}').")
    md5 = versioning.dvc_hash(repo(store) / f"{DATA_FILE}.dvc", rev=tag)
    path = store.root / "releases" / tag / DATA_FILE
    if path.exists() and versioning.file_md5(path) == md5:
        return DataRelease(tag, md5, path)
    with store.lock():
        import dvc.api

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with dvc.api.open(DATA_FILE, repo=str(repo(store)), rev=tag, mode="rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        if versioning.file_md5(tmp) != md5:
            raise StoreError(f"DVC returned data for {tag} that does not match its md5 {md5}: "
                             f"the store in {store.root} is damaged; delete it and run again.")
        os.replace(tmp, path)
    return DataRelease(tag, md5, path)


def build_v1(store: Store, ref: str = "v1", seed: int = 0) -> DataRelease:
    """Lesson 01 in brief: fill the three upstream systems with release 1, read them, merge,
    validate with lesson 01's suite (the gate), then release the cleaned, de-duplicated,
    split messages as ``v1``. The API's store file is read directly (no server)."""
    import pandas as pd

    from mlkit.course import datasets
    from mlkit.data import ingest, prep, validation

    if ref != "v1":
        raise StoreError(f"Only data@v1 is built by ws.require; {ref!r} comes from the lesson that releases it.")
    store.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=store.root, prefix=".build-") as tmp:
        systems = ingest.build_systems(datasets.load_sms_spam(), Path(tmp) / "systems", release=1)
        with open(systems["api_store"], encoding="utf-8") as fh:  # the records the API serves, page by page
            api_df = ingest.api_to_common(pd.DataFrame([json.loads(line) for line in fh if line.strip()]))
        raw = ingest.merge_sources({"file": ingest.read_file(systems["csv"]),
                                    "sqlite": ingest.read_sqlite(systems["sqlite"], ingest.SQL_QUERY),
                                    "api": api_df})
    suite = validation.raw_suite(raw)
    validation.gate(raw, suite, name="release 1")
    with quiet():
        return publish(store, prep.release_frame(raw), "v1", suite=suite, echo=False,
                       message="Data release v1 (built by ws.require as lesson 01 does)")


def _find(store: Store, ref: str) -> DataRelease | None:
    return read(store, ref) if ref in tags(store) else None


def summary(store: Store) -> str:
    """The SMS releases as a table (``mlkit store``)."""
    from tabulate import tabulate

    releases = [read(store, tag) for tag in tags(store)]
    if not releases:
        return "SMS data releases: none yet (run lesson 01)"
    table = []
    for r in releases:
        df = r.frame()
        table.append([r.tag, r.md5, len(df), int((df.split == "train").sum()), int((df.split == "test").sum())])
    return tabulate(table, headers=["data release", "DVC md5", "messages", "train", "test"])


PROVIDER = Provider(kind="data", lesson="lesson 01", buildable=("v1",), find=_find, build=build_v1,
                    summary=summary)
