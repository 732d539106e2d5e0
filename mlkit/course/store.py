"""The course store: what one lesson produces and the next one consumes, with its lineage.

Everything lives under ``$MLKIT_HOME/store`` (one store for all lessons):

- ``mlflow.db``: ONE MLflow tracking and model-registry store (``ws.tracking_uri``); each
  experiment keeps its artifacts in ``mlartifacts/<experiment>`` (:meth:`Store.experiment`).
- ``data/``: ONE git + DVC repository; a data release is a git tag (``v1``) whose commit
  tracks ``sms.parquet`` with DVC; ``dvc-remote/`` is its local-folder DVC remote.
- ``releases/<tag>/``: each release read back through DVC (``dvc.api``), for reading.

Lessons ask for what they need with ``ws.require("data@v1")`` or
``ws.require("model@champion")`` (also ``"model@challenger"``). A missing prerequisite is
built by the code the earlier lesson teaches (:func:`build_data_v1`: lesson 01's
ingest, validate and release; :func:`build_models`: lesson 02's training, MLflow runs
and registration), with one line saying so. Building happens under a file lock, so two
lessons started at once never build twice or corrupt the store. ``mlkit store`` prints
what the store holds (:meth:`Store.summary`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.course import config
from mlkit.course.errors import MlkitError
from mlkit.course.quiet import quiet

if TYPE_CHECKING:
    import pandas as pd

    from mlkit.training.models import SpamPipeline

MODEL_NAME = "spam-classifier"  # the registered model of lesson 02, evaluated/served/watched/retrained later
DATA_FILE = "sms.parquet"  # the file a data release tracks with DVC
SUITE_FILE = "expectations.json"  # the GX suite the release passed, kept in git beside it
ALIASES = ("champion", "challenger")
TRAIN_EXPERIMENT = "02_training"
# lesson 02's fast sweep: (learning rate, hidden units); the best by validation F1 (ties: loss) is the champion
SWEEP = [(1e-3, 64), (3e-3, 32)]
SPAM_EPOCHS = 8


class StoreError(MlkitError, RuntimeError):
    """The course store lacks something, or holds something else under the same name."""


# ---------------------------------------------------------------- what the store hands out
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


@dataclass(frozen=True)
class ModelRef:
    """A registered model version behind an alias, with its lineage."""

    name: str
    alias: str
    version: str
    run_id: str
    uri: str
    data_version: str
    code_version: str

    def load(self) -> SpamPipeline:
        """The model itself (:func:`mlkit.training.tracking.load_spam_model`)."""
        from mlkit.training import tracking

        return tracking.load_spam_model(self.uri)


def parse_spec(spec: str) -> tuple[str, str]:
    """``"data@v1"`` -> ("data", "v1"); ``"model@champion"`` -> ("model", "champion")."""
    m = re.fullmatch(r"\s*(data|model)@([A-Za-z0-9_.\-]+)\s*", spec or "")
    if not m:
        raise StoreError(f"Cannot read {spec!r}: ask for 'data@v1', 'model@champion' or 'model@challenger'.")
    return m.group(1), m.group(2)


_LOCKS: dict[str, Any] = {}


# ---------------------------------------------------------------- the store
class Store:
    """The course store under ``home/store`` (default home: $MLKIT_HOME or ~/mlkit-workspace)."""

    def __init__(self, home: str | os.PathLike | None = None) -> None:
        self.home = Path(home).expanduser() if home else config.default_home()
        self.root = self.home / "store"

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # paths
    @property
    def db_path(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def tracking_uri(self) -> str:
        """The shared MLflow tracking and registry store (sqlite)."""
        return f"sqlite:///{self.db_path}"

    @property
    def artifacts_root(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def data_repo(self) -> Path:
        return self.root / "data"

    @property
    def remote(self) -> Path:
        return self.root / "dvc-remote"

    def lock(self, timeout: float = 900) -> Any:
        """The store's file lock (re-entrant in one process): hold it while changing the store."""
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        key = str(self.root.resolve() / ".lock")
        if key not in _LOCKS:
            _LOCKS[key] = FileLock(key, timeout=timeout)
        return _LOCKS[key]

    # set-up
    def ensure_data_repo(self) -> Path:
        """The git + DVC data repository with its local remote, made on first use."""
        from mlkit.data import versioning

        if (self.data_repo / ".dvc").is_dir() and (self.data_repo / ".git").is_dir():
            return self.data_repo
        with self.lock():
            if not (self.data_repo / ".dvc").is_dir():
                shutil.rmtree(self.data_repo, ignore_errors=True)  # a half-made one from a crash
                versioning.init_repo(self.data_repo, self.remote, reset=False, echo=False)
        return self.data_repo

    def ensure_tracking(self) -> str:
        """Create the MLflow tables once, under the lock (two lessons at once must not both migrate)."""
        if self.db_path.exists() and self.db_path.stat().st_size > 0:
            return self.tracking_uri
        with self.lock(), quiet():
            from mlflow.tracking import MlflowClient

            MlflowClient(self.tracking_uri).search_experiments(max_results=1)
        return self.tracking_uri

    def experiment(self, name: str) -> str:
        """Make ``name`` the active MLflow experiment, its artifacts in ``mlartifacts/<name>``; return its id."""
        import mlflow

        self.ensure_tracking()
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        client = mlflow.MlflowClient()
        found = client.get_experiment_by_name(name)
        if found is None:
            try:
                exp_id = client.create_experiment(name, artifact_location=(self.artifacts_root / name).as_uri())
            except mlflow.exceptions.MlflowException:  # another lesson created it a moment ago
                found = client.get_experiment_by_name(name)
                if found is None:
                    raise
                exp_id = found.experiment_id
        else:
            exp_id = found.experiment_id
            if found.lifecycle_stage == "deleted":
                client.restore_experiment(exp_id)
        mlflow.set_experiment(experiment_id=exp_id)
        return exp_id

    # data releases
    def tags(self) -> list[str]:
        """The data releases (git tags of the data repository), oldest first."""
        from mlkit.data import versioning

        if not (self.data_repo / ".git").is_dir():
            return []
        out = versioning.sh(["git", "tag", "--list", "--sort=creatordate"], self.data_repo, echo=False)
        return [t for t in out.splitlines() if t.strip()]

    def release(self, frame: pd.DataFrame, tag: str, *, suite: Any = None, message: str | None = None,
                echo: bool = True) -> DataRelease:
        """Release ``frame`` (id, text, label, split) under git tag ``tag``, with DVC (lesson 01).

        Writes ``sms.parquet``, then ``dvc add``, ``git commit``, ``git tag`` and ``dvc push``
        in the store's data repository (shown like a terminal when ``echo``). The GX suite it
        passed (``suite``) is committed beside it. Releasing the same data under the same tag
        again changes nothing; other data under an existing tag is refused.
        """
        from mlkit.data import prep, versioning

        missing = set(prep.RELEASE_COLUMNS) - set(frame.columns)
        if missing:
            raise StoreError(f"A release needs the columns {prep.RELEASE_COLUMNS}; missing {sorted(missing)}. "
                             "Make it with mlkit.data.prep.release_frame(df).")
        repo = self.ensure_data_repo()
        with self.lock():
            scratch = Path(tempfile.mkdtemp(dir=self.root, prefix=".release-"))
            try:
                candidate = scratch / DATA_FILE
                data = frame[prep.RELEASE_COLUMNS].reset_index(drop=True)
                data.attrs = {}  # pandas writes attrs into the file: same messages, same bytes, same md5
                data.to_parquet(candidate, index=False)
                md5 = versioning.file_md5(candidate)
                if tag in self.tags():
                    have = versioning.dvc_hash(repo / f"{DATA_FILE}.dvc", rev=tag)
                    if have != md5:
                        raise StoreError(
                            f"The course store already holds other data as {tag} (md5 {have}, this is {md5}). "
                            f"Release it under a new tag, or start a fresh store by deleting {self.root}.")
                    print(f"{tag} is already in the course store with the same data (md5 {md5}).")
                    return self.data(tag)
                sh = lambda cmd: versioning.sh(cmd, repo, echo=echo)  # noqa: E731
                os.replace(candidate, repo / DATA_FILE)
                if suite is not None:
                    from mlkit.data import validation

                    validation.save_suite(suite, repo / SUITE_FILE)
                sh(["dvc", "add", DATA_FILE])
                sh(["git", "add", f"{DATA_FILE}.dvc", ".gitignore", *([SUITE_FILE] if suite is not None else [])])
                sh(["git", "commit", "-q", "-m", message or f"Data release {tag}"])
                sh(["git", "tag", tag])
                sh(["dvc", "push"])
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return self.data(tag)

    def data(self, tag: str = "v1") -> DataRelease:
        """A data release read by its tag through DVC; :class:`StoreError` when there is none."""
        from mlkit.data import versioning

        if tag not in self.tags():
            raise StoreError(f"The course store has no data release {tag!r} (it has: {self.tags() or 'none'}). "
                             f"Run lesson 01, or ws.require('data@{tag}').")
        md5 = versioning.dvc_hash(self.data_repo / f"{DATA_FILE}.dvc", rev=tag)
        path = self.root / "releases" / tag / DATA_FILE
        if path.exists() and versioning.file_md5(path) == md5:
            return DataRelease(tag, md5, path)
        with self.lock():
            import dvc.api

            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with dvc.api.open(DATA_FILE, repo=str(self.data_repo), rev=tag, mode="rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            if versioning.file_md5(tmp) != md5:
                raise StoreError(f"DVC returned data for {tag} that does not match its md5 {md5}: "
                                 f"the store in {self.root} is damaged; delete it and run again.")
            os.replace(tmp, path)
        return DataRelease(tag, md5, path)

    def releases(self) -> list[DataRelease]:
        """Every data release, oldest first."""
        return [self.data(tag) for tag in self.tags()]

    # models
    def _client(self) -> Any:
        import mlflow

        return mlflow.MlflowClient(tracking_uri=self.ensure_tracking(), registry_uri=self.tracking_uri)

    def model(self, alias: str = "champion", name: str = MODEL_NAME) -> ModelRef:
        """The model version behind ``name@alias``; :class:`StoreError` when there is none."""
        import mlflow

        try:
            mv = self._client().get_model_version_by_alias(name, alias)
        except mlflow.exceptions.MlflowException:
            raise StoreError(f"The course store has no model {name}@{alias}. Run lesson 02, "
                             f"or ws.require('model@{alias}').") from None
        return ModelRef(name=name, alias=alias, version=str(mv.version), run_id=mv.run_id or "",
                        uri=f"models:/{name}@{alias}", data_version=mv.tags.get("data_version", ""),
                        code_version=mv.tags.get("code_version", ""))

    def models(self, name: str = MODEL_NAME) -> list[dict[str, Any]]:
        """Every registered version of ``name``: version, aliases, lineage and test F1, newest first."""
        import mlflow

        if not self.db_path.exists():
            return []
        client = self._client()
        try:
            versions = client.search_model_versions(f"name = '{name}'")
        except mlflow.exceptions.MlflowException:
            return []
        aliases: dict[str, list[str]] = {}
        if versions:
            for alias, version in client.get_registered_model(name).aliases.items():
                aliases.setdefault(str(version), []).append(alias)
        rows = []
        for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
            run = client.get_run(mv.run_id) if mv.run_id else None
            rows.append({"version": int(mv.version), "aliases": sorted(aliases.get(str(mv.version), [])),
                         "data_version": mv.tags.get("data_version", ""), "code_version": mv.tags.get("code_version", ""),
                         "run_id": mv.run_id or "", "test_f1": run.data.metrics.get("test_f1") if run else None})
        return rows

    # asking for a prerequisite
    def has(self, spec: str) -> bool:
        """True when the store holds ``spec`` ("data@v1", "model@champion", ...)."""
        kind, ref = parse_spec(spec)
        if kind == "data":
            return ref in self.tags()
        try:
            self.model(ref)
            return True
        except StoreError:
            return False

    def require(self, spec: str, *, seed: int = 0) -> DataRelease | ModelRef:
        """What ``spec`` names, built first (one line says so) when the store lacks it."""
        kind, ref = parse_spec(spec)
        builders = {("data", "v1"): (build_data_v1, "lesson 01"),
                    **{("model", a): (build_models, "lesson 02") for a in ALIASES}}
        if not self.has(spec):
            if (kind, ref) not in builders:
                what = "a data release" if kind == "data" else "a model alias"
                raise StoreError(f"The course store has no {spec} and cannot build {what} {ref!r} "
                                 "by itself: run the lesson that makes it.")
            with self.lock():
                if not self.has(spec):  # another lesson may have built it while we waited
                    build, lesson = builders[(kind, ref)]
                    start = time.perf_counter()
                    build(self, seed=seed)
                    print(f"{spec} not in the course store yet: built it as {lesson} does "
                          f"({time.perf_counter() - start:.0f} s).")
        return self.data(ref) if kind == "data" else self.model(ref)

    def summary(self) -> str:
        """What the store holds, as text tables: data releases, model versions with aliases and lineage."""
        from tabulate import tabulate

        lines = [f"course store: {self.root}", ""]
        releases = self.releases() if self.root.exists() else []
        if releases:
            table = []
            for r in releases:
                df = r.frame()
                table.append([r.tag, r.md5, len(df), int((df.split == "train").sum()), int((df.split == "test").sum())])
            lines.append(tabulate(table, headers=["data release", "DVC md5", "messages", "train", "test"]))
        else:
            lines.append("SMS data releases: none yet (run lesson 01)")
        lines.append("")
        tag_of = {r.md5: r.tag for r in releases}
        models = self.models()
        if models:
            table = [[f"{MODEL_NAME} v{m['version']}", ", ".join(m["aliases"]) or "-",
                      f"{m['data_version']} ({tag_of.get(m['data_version'], '?')})", m["code_version"], m["run_id"],
                      "-" if m["test_f1"] is None else f"{m['test_f1']:.3f}"] for m in models]
            lines.append(tabulate(table, headers=["model version", "aliases", "data (DVC md5, release)",
                                                  "code version", "MLflow run", "test F1"]))
        else:
            lines.append("spam-classifier: none registered yet (run lesson 02)")
        for name in self.model_names():  # what later lessons register (lesson 06's bike model, the capstone)
            if name == MODEL_NAME:
                continue
            table = [[f"{name} v{m['version']}", ", ".join(m["aliases"]) or "-", m["data_version"] or "-",
                      m["code_version"] or "-", m["run_id"]] for m in self.models(name)]
            lines += ["", tabulate(table, headers=["model version", "aliases", "data (DVC md5)", "code version",
                                                   "MLflow run"])]
        from mlkit.data import versioning

        for repo in sorted(p for p in self.root.glob("*-data") if (p / ".git").is_dir()):
            tags = versioning.sh(["git", "tag", "--list", "--sort=creatordate"], repo, echo=False).split()
            lines += ["", f"data releases in {repo.name}/ (git + DVC): {', '.join(tags) or 'none yet'}"]
        return "\n".join(lines)

    def model_names(self) -> list[str]:
        """Every model name in the registry (lesson 02's first)."""
        if not self.db_path.exists():
            return []
        names = sorted(m.name for m in self._client().search_registered_models())
        return sorted(names, key=lambda n: n != MODEL_NAME)


# ---------------------------------------------------------------- builders (what lessons 01/02 do)
def lesson01_suite(raw: pd.DataFrame) -> Any:
    """Lesson 01's expectation suite for a raw delivery (the notebook writes the same one cell by cell)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    from mlkit.data import ingest

    mean_chars = float(raw["n_chars"].mean())
    return gx.ExpectationSuite(name="sms_raw", expectations=[
        gxe.ExpectTableColumnsToMatchSet(column_set=ingest.RAW_COLUMNS, exact_match=True),
        gxe.ExpectTableRowCountToBeBetween(min_value=100),
        gxe.ExpectColumnValuesToBeUnique(column="id"),
        gxe.ExpectColumnValuesToNotBeNull(column="text"),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=["ham", "spam"]),
        gxe.ExpectColumnValuesToBeInSet(column="source", value_set=["file", "sqlite", "api"]),
        gxe.ExpectColumnValuesToBeBetween(column="n_chars", min_value=1, max_value=1000),
        gxe.ExpectColumnMeanToBeBetween(column="n_chars", min_value=0.85 * mean_chars, max_value=1.15 * mean_chars),
    ])


def build_data_v1(store: Store, seed: int = 0) -> DataRelease:
    """Lesson 01 in brief: fill the three upstream systems with release 1, read them, merge,
    validate with lesson 01's suite (the gate), then release the cleaned, de-duplicated,
    split messages as ``v1``. The API's store file is read directly (no server)."""
    import pandas as pd

    from mlkit.course import datasets
    from mlkit.data import ingest, prep, validation

    with tempfile.TemporaryDirectory(dir=store.root, prefix=".build-") as tmp:
        systems = ingest.build_systems(datasets.load_sms_spam(), Path(tmp) / "systems", release=1)
        with open(systems["api_store"], encoding="utf-8") as fh:  # the records the API serves, page by page
            api_df = ingest.api_to_common(pd.DataFrame([json.loads(line) for line in fh if line.strip()]))
        raw = ingest.merge_sources({"file": ingest.read_file(systems["csv"]),
                                    "sqlite": ingest.read_sqlite(systems["sqlite"], ingest.SQL_QUERY),
                                    "api": api_df})
    suite = lesson01_suite(raw)
    validation.gate(raw, suite, name="release 1")
    with quiet():
        return store.release(prep.release_frame(raw), "v1", suite=suite, echo=False,
                             message="Data release v1 (built by ws.require as lesson 01 does)")


def build_models(store: Store, seed: int = 0) -> ModelRef:
    """Lesson 02 in brief: train the spam MLP for each setting of the fast sweep on data v1,
    log each as an MLflow run (params, data and code version, metrics, the model), register
    the best by validation F1 (ties: validation loss) as ``champion`` and the runner-up as
    ``challenger``, as lesson 02 chooses."""
    import mlflow

    from mlkit.training import models, tracking

    release = store.require("data@v1", seed=seed)
    spam = models.spam_data(release)
    fit_data, val_data = spam.holdout(0.15, seed=seed)
    versions = {"data_version": release.md5, "code_version": tracking.code_version()}
    with quiet():
        exp_id = store.experiment(TRAIN_EXPERIMENT)
        with mlflow.start_run(run_name="sweep (built by ws.require)") as parent:
            mlflow.set_tags({**versions, "built_by": "ws.require"})
            for lr, hidden in SWEEP:
                with mlflow.start_run(run_name=f"mlp lr={lr:g} hidden={hidden}", nested=True):
                    mlflow.set_tags(versions)
                    tracking.train_spam_run(spam, fit_data, val_data, lr=lr, hidden=hidden, epochs=SPAM_EPOCHS,
                                            seed=seed)
        runs = mlflow.search_runs(experiment_ids=[exp_id], order_by=["metrics.val_f1 DESC", "metrics.val_loss ASC"],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
        for alias, (_, best) in zip(ALIASES, runs.iterrows()):
            tracking.register_spam_model(best["tags.model_uri"], alias, versions)
    return store.model("champion")


