"""The course store: what one lesson produces and the next one consumes, with its lineage.

Everything lives under ``$MLKIT_HOME/store`` (one store for all lessons):

- ``mlflow.db``: ONE MLflow tracking and model-registry store (``ws.tracking_uri``); each
  experiment keeps its artifacts in ``mlartifacts/<experiment>`` (:meth:`Store.experiment`).
- git + DVC repositories of data releases, each with its local DVC remote (lesson 01's SMS
  releases in ``data/``; lesson 06's bike data in ``bike-data/``).

The store is the ground floor: it knows no stage. Lessons ask for what they need with
``ws.require("data@v1")`` or ``ws.require("model@champion")``; the store hands the request to
the :class:`Provider` that the stage owning that kind registered, as an entry point of the
group ``mlkit.store`` in ``pyproject.toml`` (read when first asked, so a lesson that runs
alone in a fresh kernel finds every provider, and ``import mlkit`` imports none)::

    [project.entry-points."mlkit.store"]
    data = "mlkit.data.releases:PROVIDER"       # lesson 01 builds "data@v1"
    model = "mlkit.training.registry:PROVIDER"  # lesson 02 builds "model@champion", "model@challenger"

A provider finds what the store holds and builds what it lacks with the code of the lesson
that makes it; building happens under the store's file lock (two lessons started at once
never build twice), with one line saying so. ``mlkit store`` prints what the store holds
(:meth:`Store.summary`: each provider's part, then every other registered model and data
repository).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlkit.course import config
from mlkit.course.errors import MlkitError
from mlkit.course.quiet import quiet

ENTRY_POINTS = "mlkit.store"  # the entry-point group of the providers


class StoreError(MlkitError, RuntimeError):
    """The course store lacks something, or holds something else under the same name."""


@dataclass(frozen=True)
class ModelRef:
    """A registered model version behind an alias, with its lineage (tags of the version)."""

    name: str
    alias: str
    version: str
    run_id: str
    uri: str
    data_version: str
    code_version: str


@dataclass(frozen=True)
class Provider:
    """How a stage serves one kind of artifact (``kind@ref``) from the course store.

    Attributes:
        kind: the part before ``@`` ("data", "model").
        lesson: the lesson whose code builds it, for the line that says so ("lesson 01").
        buildable: the refs :attr:`build` can make when the store lacks them (("v1",)).
        find: ``find(store, ref)``: the artifact, or None when the store does not hold it.
        build: ``build(store, ref, seed)``: make it (called under the store's lock).
        summary: ``summary(store)``: the provider's part of :meth:`Store.summary`.
        models: the registered model names its summary shows (left out of the generic list).
    """

    kind: str
    lesson: str
    buildable: tuple[str, ...]
    find: Callable[[Store, str], Any]
    build: Callable[[Store, str, int], Any]
    summary: Callable[[Store], str]
    models: tuple[str, ...] = ()

    def examples(self) -> list[str]:
        return [f"{self.kind}@{ref}" for ref in self.buildable]


_REGISTERED: dict[str, Provider] = {}
_LOCKS: dict[str, Any] = {}


def register(provider: Provider) -> Provider:
    """Register ``provider`` in this process (over an entry point of the same kind); returns it.
    The stages register through entry points; this is for code that brings a kind of its own."""
    _REGISTERED[provider.kind] = provider
    return provider


def unregister(kind: str) -> None:
    """Forget a provider registered with :func:`register` (the entry point, if any, serves again)."""
    _REGISTERED.pop(kind, None)


def providers() -> dict[str, Provider]:
    """Every provider: the entry points of group ``mlkit.store``, then those registered here."""
    return _installed() | _REGISTERED


@functools.cache
def _installed() -> dict[str, Provider]:
    """The providers installed as entry points (read once per process: reading them scans every
    installed distribution, about 0.1 s)."""
    from importlib.metadata import entry_points

    found: dict[str, Provider] = {}
    for ep in entry_points(group=ENTRY_POINTS):
        provider = ep.load()
        if not isinstance(provider, Provider) or provider.kind != ep.name:
            raise StoreError(f"The entry point {ep.name} = {ep.value} (group {ENTRY_POINTS}) is not a "
                             f"store.Provider of kind {ep.name!r}.")
        found[ep.name] = provider
    return found


def parse_spec(spec: str) -> tuple[str, str]:
    """``"data@v1"`` -> ("data", "v1"); ``"model@champion"`` -> ("model", "champion")."""
    m = re.fullmatch(r"\s*([a-z]+)@([A-Za-z0-9_.\-]+)\s*", spec or "")
    known = providers()
    if not m or m.group(1) not in known:
        examples = [f"'{e}'" for kind in sorted(known) for e in known[kind].examples()]
        if not examples:
            raise StoreError(f"Cannot read {spec!r}: no stage registered what it provides (entry points "
                             f"'{ENTRY_POINTS}'). Reinstall the course: make setup.")
        listed = " or ".join([", ".join(examples[:-1]), examples[-1]] if len(examples) > 1 else examples)
        raise StoreError(f"Cannot read {spec!r}: ask for {listed}.")
    return m.group(1), m.group(2)


def git_tags(repo: str | os.PathLike) -> list[str]:
    """The tags of a git repository, oldest first ([] when it is no repository)."""
    if not (Path(repo) / ".git").is_dir():
        return []
    out = subprocess.run(["git", "tag", "--list", "--sort=creatordate"], cwd=repo, capture_output=True, text=True,
                         timeout=60)
    return out.stdout.split()


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

    def lock(self, timeout: float = 900) -> Any:
        """The store's file lock (re-entrant in one process): hold it while changing the store."""
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        key = str(self.root.resolve() / ".lock")
        if key not in _LOCKS:
            _LOCKS[key] = FileLock(key, timeout=timeout)
        return _LOCKS[key]

    # MLflow
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

    def client(self) -> Any:
        """An ``MlflowClient`` of the store's tracking and registry database."""
        import mlflow

        return mlflow.MlflowClient(tracking_uri=self.ensure_tracking(), registry_uri=self.tracking_uri)

    def model(self, alias: str, name: str) -> ModelRef:
        """The model version behind ``name@alias``; :class:`StoreError` when there is none."""
        import mlflow

        try:
            mv = self.client().get_model_version_by_alias(name, alias)
        except mlflow.exceptions.MlflowException:
            raise StoreError(f"The course store has no model {name}@{alias}.") from None
        return ModelRef(name=name, alias=alias, version=str(mv.version), run_id=mv.run_id or "",
                        uri=f"models:/{name}@{alias}", data_version=mv.tags.get("data_version", ""),
                        code_version=mv.tags.get("code_version", ""))

    def models(self, name: str) -> list[dict[str, Any]]:
        """Every registered version of ``name``: version, aliases, lineage and test F1, newest first."""
        if not self.db_path.exists():
            return []
        import mlflow

        client = self.client()
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

    def model_names(self) -> list[str]:
        """Every model name in the registry, sorted."""
        if not self.db_path.exists():
            return []
        return sorted(m.name for m in self.client().search_registered_models())

    # asking for a prerequisite
    def has(self, spec: str) -> bool:
        """True when the store holds ``spec`` ("data@v1", "model@champion", ...)."""
        kind, ref = parse_spec(spec)
        return providers()[kind].find(self, ref) is not None

    def require(self, spec: str, *, seed: int = 0) -> Any:
        """What ``spec`` names, built first (one line says so) when the store lacks it."""
        kind, ref = parse_spec(spec)
        provider = providers()[kind]
        found = provider.find(self, ref)
        if found is not None:
            return found
        if ref not in provider.buildable:
            raise StoreError(f"The course store has no {spec} and cannot build {kind} {ref!r} by itself "
                             f"(it builds {', '.join(provider.examples())}): run the lesson that makes it.")
        with self.lock():
            found = provider.find(self, ref)  # another lesson may have built it while we waited
            if found is None:
                start = time.perf_counter()
                provider.build(self, ref, seed)
                print(f"{spec} not in the course store yet: built it as {provider.lesson} does "
                      f"({time.perf_counter() - start:.0f} s).")
                found = provider.find(self, ref)
        if found is None:
            raise StoreError(f"Building {spec} left nothing in the course store at {self.root}.")
        return found

    def summary(self) -> str:
        """What the store holds, as text tables: each provider's part (data releases, lesson 02's
        models), then every other registered model and every other data repository."""
        from tabulate import tabulate

        lines = [f"course store: {self.root}"]
        shown: set[str] = set()
        for provider in providers().values():
            lines += ["", provider.summary(self)]
            shown |= set(provider.models)
        for name in self.model_names():  # what later lessons register (lesson 06's bike model, the capstone)
            if name in shown:
                continue
            table = [[f"{name} v{m['version']}", ", ".join(m["aliases"]) or "-", m["data_version"] or "-",
                      m["code_version"] or "-", m["run_id"]] for m in self.models(name)]
            lines += ["", tabulate(table, headers=["model version", "aliases", "data (DVC md5)", "code version",
                                                   "MLflow run"])]
        for repo in sorted(p for p in self.root.glob("*-data") if (p / ".git").is_dir()):
            lines += ["", f"data releases in {repo.name}/ (git + DVC): {', '.join(git_tags(repo)) or 'none yet'}"]
        return "\n".join(lines)
