"""Lesson 06: one retrain, through the real tools, that can fail without hurting production.

:meth:`RetrainingPipeline.retrain` runs, in order:

1. **validation** of the new training data with a Great Expectations suite (:func:`bike_suite`,
   built and run the way lesson 01 does, :mod:`mlkit.data.validation`);
2. a **data release**: a git tag in a git + DVC repository of the course store
   (``store/bike-data``, its DVC remote ``store/bike-dvc-remote``);
3. **training** of the bike model (:class:`mlkit.training.bike.BikeModel`) in an MLflow run
   (params, metrics, tags ``data_version`` and ``code_version``);
4. **registration** as a new version of :data:`~mlkit.training.bike.BIKE_MODEL` (tags: data
   release, code version, the version it would replace);
5. the **gate** (:func:`mlkit.retraining.gate.decide`) on the same recent labelled rows;
6. a **canary** check of the challenger's live predictions (lesson 06 passes one that serves the
   registered versions through lesson 04's server and router, :mod:`mlkit.retraining.canary`);
7. **promotion** (the ``champion`` alias moves) -- or not.

A failure at any step leaves the ``champion`` alias where it was, records an alert (kept in
``alerts`` and in ``alerts.jsonl``) and loses nothing: a rejected batch is quarantined, a
failed run stays in MLflow marked FAILED, a blocked version stays registered.

The bike data has other columns than the spam messages of ``Store.release``, so its releases
live in their own git + DVC repository beside the store's ``data/`` repository.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.course.errors import MlkitError
from mlkit.retraining import gate as gates
from mlkit.training.bike import BIKE_MODEL, INPUTS, TARGET, WEATHER, BikeModel

if TYPE_CHECKING:
    import pandas as pd

    from mlkit.course.store import Store

EXPERIMENT = "06_retraining"
DATA_FILE = "bike.parquet"
COLUMNS = ["datetime", "week", *INPUTS, TARGET]  # what a bike data release holds
FAILURES = ("validation", "training", "canary")
RUN_TAGS = ("airflow_run_id", "airflow_logical_date", "git_commit")  # what Airflow or CI adds to the lineage


class RetrainError(MlkitError, RuntimeError):
    """A retrain step failed (the champion keeps serving)."""


def bike_suite(name: str = "bike_batch") -> Any:
    """The Great Expectations suite a bike training batch must pass (lesson 06)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(name=name, expectations=[
        gxe.ExpectTableColumnsToMatchSet(column_set=COLUMNS, exact_match=False),
        gxe.ExpectTableRowCountToBeBetween(min_value=24),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in COLUMNS],
        gxe.ExpectColumnValuesToBeBetween(column="bikers", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="hr", min_value=0, max_value=23),
        *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1) for c in ("temp", "hum", "windspeed")],
        gxe.ExpectColumnValuesToBeInSet(column="weathersit", value_set=list(WEATHER)),
        gxe.ExpectColumnValuesToBeInSet(column="workingday", value_set=[0, 1]),
    ])


@dataclass(frozen=True)
class BikeRelease:
    """A release of bike data: its git tag, DVC md5 and file."""

    tag: str
    md5: str
    path: Path


@dataclass
class Outcome:
    """What one retrain did: ``status`` is "promoted", "blocked" or "failed"; ``stage`` where it stopped."""

    status: str
    stage: str
    champion: str | None
    version: str | None = None
    decision: gates.Decision | None = None
    alert: dict[str, Any] | None = None
    release: BikeRelease | None = None

    def __str__(self) -> str:
        extra = f" ({self.decision})" if self.decision else f" ({self.alert['error']})" if self.alert else ""
        return f"{self.status} at {self.stage}: champion is v{self.champion}{extra}"


@dataclass
class RetrainingPipeline:
    """Retrains of the bike model through the course store (lesson 06)."""

    store: Store
    workdir: Path
    name: str = BIKE_MODEL
    experiment: str = EXPERIMENT
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def repo(self) -> Path:
        """The git + DVC repository of this model's data releases: ``bike-data`` for the bike model, one
        of its own for any other name (lesson 06's weekly DAG retrains ``bike-demand-weekly`` while the
        lesson commits to ``bike-data``: two working trees never share a checkout)."""
        return self.store.root / ("bike-data" if self.name == BIKE_MODEL else f"{self.name}-data")

    @property
    def remote(self) -> Path:
        return self.store.root / "bike-dvc-remote"  # content-addressed: every repository can share it

    # ------------------------------------------------------------ data
    def release(self, frame: pd.DataFrame, tag: str, echo: bool = False) -> BikeRelease:
        """Release ``frame`` under git tag ``tag`` with DVC, lesson 01's one data release
        (:func:`mlkit.data.versioning.release`: ``dvc add``, commit, tag, ``dvc push``); the same
        data under an existing tag is reused, other data under it refused."""
        from mlkit.data import versioning

        with self.store.lock():
            try:
                md5, _ = versioning.release(self.repo, self.remote, frame[COLUMNS], tag, data_file=DATA_FILE,
                                            message=f"Bike data release {tag}", echo=echo)
            except versioning.ReleaseConflict as exc:
                raise RetrainError(f"The bike data repository: {exc}") from None
        return BikeRelease(tag, md5, self.repo / DATA_FILE)

    def validate(self, frame: pd.DataFrame, tag: str) -> pd.DataFrame:
        """Lesson 01's gate with :func:`bike_suite`: a DataValidationError lists what failed; on
        success, Great Expectations' verdict per expectation (one row each)."""
        from mlkit.data import validation

        result = validation.validate(frame, bike_suite())
        if not result.success:
            validation.gate(frame, bike_suite(), name=f"bike batch {tag}")  # raises, naming what failed
        return validation.results_table(result)

    # ------------------------------------------------------------ models
    def _client(self) -> Any:
        import mlflow

        self.store.experiment(self.experiment)
        return mlflow.MlflowClient()

    def train(self, frame: pd.DataFrame, release: BikeRelease, *, alpha: float = 1.0,
              tags: dict[str, str] | None = None, model: BikeModel | None = None) -> tuple[str, BikeModel]:
        """Fit in an MLflow run: params, metrics, lineage tags (and ``tags``, e.g. the Airflow run
        that asked for it), the model as JSON; returns (run id, model). ``model``: log this one,
        already fitted on ``frame`` (CI's challenger, made by the pushed training code), instead."""
        import mlflow

        from mlkit.training import tracking

        self._client()
        with mlflow.start_run(run_name=f"retrain on {release.tag}") as run:
            mlflow.set_tags({"data_version": release.md5, "data_tag": release.tag,
                             "code_version": tracking.code_version(), **(tags or {})})
            mlflow.log_params({"alpha": model.alpha if model else alpha, "train_rows": len(frame),
                               "model": "ridge, hour of day one-hot",
                               "first_day": str(frame["datetime"].min().date()),
                               "last_day": str(frame["datetime"].max().date())})
            model = model or BikeModel.fit(frame, alpha=alpha)
            mlflow.log_metric("train_mae", gates.mae(frame[TARGET], model.predict(frame)))
            model.log("model")
        return run.info.run_id, model

    def register(self, run_id: str, release: BikeRelease, replaces: str | None,
                 tags: dict[str, str] | None = None) -> str:
        """A new registered version from the run's ``model/`` artifacts, tagged with its lineage (and ``tags``)."""
        import mlflow

        from mlkit.training import tracking

        client = self._client()
        try:
            client.get_registered_model(self.name)
        except mlflow.exceptions.MlflowException:
            client.create_registered_model(self.name, description="Hourly bike rentals (lesson 06)")
        source = client.get_run(run_id).info.artifact_uri + "/model"
        mv = client.create_model_version(self.name, source, run_id=run_id)
        for key, value in {"data_version": release.md5, "data_tag": release.tag,
                           "code_version": tracking.code_version(), "replaces": replaces or "-",
                           **(tags or {})}.items():
            client.set_model_version_tag(self.name, mv.version, key, value)
        return str(mv.version)

    def evaluate(self, version: str, model: BikeModel, recent: pd.DataFrame, *, margin: float = 0.02
                 ) -> gates.Decision:
        """The gate: ``model`` (registered as ``version``) against the champion on the same ``recent``
        labelled rows (:func:`mlkit.retraining.gate.decide`); the verdict and both errors become tags
        of the version, and a blocked one is marked "blocked by gate"."""
        champion = self.load("champion")
        decision = gates.decide(recent[TARGET], champion.predict(recent), model.predict(recent), margin=margin)
        client = self._client()
        for key, value in {"gate": "promote" if decision.promote else "block",
                           "gate_champion_mae": f"{decision.champion_mae:.2f}",
                           "gate_challenger_mae": f"{decision.challenger_mae:.2f}",
                           "gate_rows": str(len(recent))}.items():
            client.set_model_version_tag(self.name, version, key, value)
        if not decision.promote:
            client.set_model_version_tag(self.name, version, "status", "blocked by gate")
        return decision

    def champion(self) -> str | None:
        """The version behind ``champion``, or None before the first promotion."""
        import mlflow

        try:
            return str(self._client().get_model_version_by_alias(self.name, "champion").version)
        except mlflow.exceptions.MlflowException:
            return None

    def uri(self, ref: str = "champion") -> str:
        """The registry URI of a version: an alias ("champion") or a version number ("3")."""
        return f"models:/{self.name}/{ref}" if str(ref).isdigit() else f"models:/{self.name}@{ref}"

    def load(self, ref: str = "champion") -> BikeModel:
        """A registered model: an alias ("champion") or a version number."""
        self._client()
        return BikeModel.load(self.uri(ref))

    def promote(self, version: str) -> None:
        """Move ``champion`` to ``version`` (the registry tag ``status`` records it)."""
        client, before = self._client(), self.champion()
        client.set_registered_model_alias(self.name, "champion", version)
        client.set_model_version_tag(self.name, version, "status", "champion")
        if before is not None and before != version:
            client.set_model_version_tag(self.name, before, "status", "replaced")

    def rollback(self) -> str:
        """Point ``champion`` back at the version the current champion replaced; return it."""
        current = self.champion()
        if current is None:
            raise RetrainError("There is no champion to roll back.")
        previous = self._client().get_model_version(self.name, current).tags.get("replaces", "-")
        if previous in ("", "-"):
            raise RetrainError(f"Version {current} replaced nothing: there is no previous champion.")
        self._client().set_model_version_tag(self.name, current, "status", "rolled back")
        self._client().set_registered_model_alias(self.name, "champion", previous)
        self._client().set_model_version_tag(self.name, previous, "status", "champion")
        return previous

    def retire(self) -> str | None:
        """Take the ``champion`` alias away (every version stays registered; the last champion is tagged
        "retired"), so that the next retrain starts without one; returns the version that was champion."""
        current = self.champion()
        if current is not None:
            self._client().delete_registered_model_alias(self.name, "champion")
            self._client().set_model_version_tag(self.name, current, "status", "retired")
        return current

    # ------------------------------------------------------------ one retrain
    def alert(self, stage: str, tag: str, error: BaseException | str) -> dict[str, Any]:
        """Record an alert (in ``alerts`` and ``workdir/alerts.jsonl``)."""
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "stage": stage, "tag": tag,
                  "error": str(error).splitlines()[0][:300], "champion": self.champion()}
        self.alerts.append(record)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.workdir / "alerts.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        return record

    def retrain(self, frame: pd.DataFrame, recent: pd.DataFrame | None, tag: str, *, alpha: float = 1.0,
                margin: float = 0.02, canary: Callable[..., None] | None = None,
                inject: str | None = None, tags: dict[str, str] | None = None) -> Outcome:
        """One retrain on ``frame``, gated on ``recent`` labelled rows (None: promote the first model).

        ``inject`` ("validation", "training" or "canary") breaks that step on purpose, to show
        that the champion survives it. ``canary(version)`` gets the challenger's registered version
        and raises when it misbehaves; with ``inject="canary"`` it is called as
        ``canary(version, fault="errors")`` (lesson 06 passes one that runs
        :func:`mlkit.retraining.canary.router_canary`, where the server really fails).
        """
        import mlflow

        from mlkit.course.store import quiet

        if inject is not None and inject not in FAILURES:
            raise ValueError(f"inject must be one of {FAILURES} or None, not {inject!r}.")
        before = self.champion()
        stage, release, version = "validation", None, None
        try:
            with quiet():
                if inject == "validation":
                    frame = frame.copy()
                    frame.loc[frame.index[::10], "bikers"] = -1  # a broken upstream export
                try:
                    self.validate(frame, tag)
                except MlkitError:
                    quarantine = self.workdir / "quarantine" / f"{tag}.parquet"
                    quarantine.parent.mkdir(parents=True, exist_ok=True)
                    frame[COLUMNS].to_parquet(quarantine, index=False)
                    raise
                stage = "release"
                release = self.release(frame, tag)
                stage = "training"
                run_id, model = self.train(frame, release, alpha=-1.0 if inject == "training" else alpha, tags=tags)
                stage = "registration"
                version = self.register(run_id, release, before, tags=tags)
                decision = None
                if before is not None and recent is not None:
                    stage = "gate"
                    decision = self.evaluate(version, model, recent, margin=margin)
                    if not decision.promote:
                        return Outcome("blocked", stage, before, version, decision, release=release)
                stage = "canary"
                if inject == "canary" and canary is None:
                    raise RetrainError("canary: 12% of requests to the challenger failed (injected)")
                if canary is not None:  # injected: the challenger's server fails (canary.router_canary's fault)
                    canary(version, **({"fault": "errors"} if inject == "canary" else {}))
                self.promote(version)
                return Outcome("promoted", "promotion", version, version, decision, release=release)
        except Exception as exc:  # noqa: BLE001 - any failure: the champion keeps serving, an alert is raised
            if mlflow.active_run() is not None:
                mlflow.end_run(status="FAILED")
            if version is not None:
                self._client().set_model_version_tag(self.name, version, "status", f"failed {stage}")
            if self.champion() != before:  # never leave a half-moved alias
                self._client().set_registered_model_alias(self.name, "champion", before)
            return Outcome("failed", stage, before, version, alert=self.alert(stage, tag, exc), release=release)

    # ------------------------------------------------------------ lineage
    def lineage(self) -> pd.DataFrame:
        """Every version: aliases, status, data release and md5, code version, params, metrics, what it replaced."""
        import pandas as pd

        client = self._client()
        try:
            aliases = client.get_registered_model(self.name).aliases
        except Exception:  # noqa: BLE001 - no model registered yet
            return pd.DataFrame(columns=["version"])
        by_version: dict[str, list[str]] = {}
        for alias, v in aliases.items():
            by_version.setdefault(str(v), []).append(alias)
        rows = []
        for mv in sorted(client.search_model_versions(f"name = '{self.name}'"), key=lambda m: int(m.version)):
            run = client.get_run(mv.run_id)
            rows.append({"version": str(mv.version), "aliases": ", ".join(sorted(by_version.get(str(mv.version), []))),
                         "status": mv.tags.get("status", "registered"), "data_tag": mv.tags.get("data_tag", ""),
                         "data_version": mv.tags.get("data_version", ""),
                         "code_version": mv.tags.get("code_version", ""),
                         "alpha": run.data.params.get("alpha"), "train_rows": run.data.params.get("train_rows"),
                         "train_mae": run.data.metrics.get("train_mae"), "replaces": mv.tags.get("replaces", ""),
                         **{k: mv.tags.get(k, "") for k in RUN_TAGS}})
        return pd.DataFrame(rows)


def lineage_complete(table: pd.DataFrame) -> bool:
    """True when every version that served (status "champion", "replaced" or "rolled back") names its data release,
    data md5, code version, params, metrics and what it replaced."""
    served = table[table["status"].isin(["champion", "replaced", "rolled back"])] if len(table) else table
    needed = ["data_tag", "data_version", "code_version", "alpha", "train_rows", "train_mae", "replaces"]
    return bool(len(served)) and bool(served[needed].notna().all().all()) and bool((served[needed] != "").all().all())
