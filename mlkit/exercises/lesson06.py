"""Lesson 06 exercises: a promotion gate, a retraining trigger and a rollback, each checked by running it.

* q1 ``should_promote``: the gate. A challenger replaces the champion only when it beats it on
  the same recent labelled hours by at least a margin, and the bootstrap interval agrees;
* q2 ``drift_policy``: retrain when lesson 05's drift detector finds last week's weather drifted
  from the served model's training data; replayed over the 2011 bike year;
* q3 ``rollback``: move the registry's ``champion`` alias back to the version it replaced
  (checked in a temporary MLflow store, never the learner's).

Used by ``solutions/06_retraining.ipynb`` and its learner copy ``exercises/06_retraining.ipynb``.
The quiz is ``mlkit/exercises/quizzes/06_retraining.toml``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from mlkit.exercises.core import Mistake, Question

LESSON = "06_retraining"
WEEK = 20  # the week the gate is asked about: spring's models meet early summer


@lru_cache(maxsize=1)
def _year() -> Any:
    """The replayed 2011 bike year (:func:`mlkit.retraining.replay.load_stream`), loaded once; read-only."""
    from mlkit.retraining import replay

    return replay.load_stream()


def _is_bool(x: Any) -> bool:
    import numpy as np

    return isinstance(x, (bool, np.bool_))


# --- q1: the promotion gate ---------------------------------------------------------------------
class _Scaled:
    """A challenger whose error on each row of ``recent`` is the base model's times ``factor``
    (a fixture: it knows the labels of ``recent``, so it only answers about those rows)."""

    def __init__(self, base: Any, factor: Any, labels: Any) -> None:
        self.base, self.factor, self.labels = base, factor, labels

    def predict(self, frame: Any) -> Any:
        if len(frame) != len(self.labels) or not frame.index.equals(self.labels.index):
            raise Mistake(f"A model was asked about {len(frame)} rows that are not the {len(self.labels)} rows of "
                          "`recent`: score both models on the same recent labelled rows.")
        y = self.labels.to_numpy(float)
        return y + (self.base.predict(frame) - y) * self.factor


@lru_cache(maxsize=1)
def _gate_cases() -> tuple[Any, dict[str, Any]]:
    """``recent`` (the labelled rows at the start of week 20) and the models to gate."""
    import numpy as np

    from mlkit.retraining import pipeline, replay

    year = _year()
    recent = replay.labelled_at(year, WEEK, 7, 2)
    winter = pipeline.BikeModel.fit(year[year.week < 8])
    spring = pipeline.BikeModel.fit(replay.labelled_at(year, WEEK, 7, 8))
    err = np.abs(spring.predict(recent) - recent["bikers"].to_numpy(float))
    g = np.random.default_rng(6).uniform(-0.85, 0.85, len(recent))
    k = (-0.05 * err.mean() - (err * g).mean()) / err.mean()  # noisy: 5 % better on average, by luck
    labels = recent["bikers"].copy()
    return recent, {"winter": winter, "spring": spring, "tiny": _Scaled(spring, np.full(len(recent), 0.99), labels),
                    "noisy": _Scaled(spring, 1 + g + k, labels)}


def _verdict(should_promote, champion, challenger, recent, margin: float) -> bool:
    got = should_promote(champion, challenger, recent.copy(), margin=margin)
    if not _is_bool(got):
        raise Mistake(f"should_promote returned {got!r} ({type(got).__name__}); return True or False.")
    return bool(got)


def _check_q1(should_promote) -> str:
    from mlkit.retraining import gate

    recent, m = _gate_cases()
    y = recent["bikers"]
    maes = {k: gate.mae(y, v.predict(recent)) for k, v in m.items()}
    if not _verdict(should_promote, m["winter"], m["spring"], recent, 0.02):
        raise Mistake(f"should_promote blocks a challenger trained on the last 8 labelled weeks (MAE "
                      f"{maes['spring']:.1f}) against the winter champion (MAE {maes['winter']:.1f}). Promote "
                      "when diff.estimate <= -margin x champion MAE and diff.high < 0, where diff is "
                      "MAE(challenger) - MAE(champion).")
    if _verdict(should_promote, m["spring"], m["winter"], recent, 0.02):
        raise Mistake(f"should_promote promotes the winter model (MAE {maes['winter']:.1f}) over the spring "
                      f"champion (MAE {maes['spring']:.1f}): a worse challenger. Check the sign: the difference is "
                      "MAE(challenger) - MAE(champion), negative when the challenger errs less.")
    if _verdict(should_promote, m["spring"], m["tiny"], recent, 0.02):
        raise Mistake(f"should_promote promotes a challenger only 1 % better (MAE {maes['tiny']:.1f} vs "
                      f"{maes['spring']:.1f}) with a 2 % margin. Its interval is below zero, but the hours of a "
                      "week are not independent, so such a gain is within noise: require diff.estimate <= "
                      "-margin x champion MAE (the margin is a share of the champion's MAE, not bikers).")
    if _verdict(should_promote, m["spring"], m["noisy"], recent, 0.02):
        raise Mistake(f"should_promote promotes a challenger whose MAE is 5 % lower on this week (MAE "
                      f"{maes['noisy']:.1f} vs {maes['spring']:.1f}) but whose errors vary so much that the 95 % "
                      "interval of the difference reaches above zero: it may well be worse. Require diff.high < 0 "
                      "(stats.paired_difference).")
    if not _verdict(should_promote, m["spring"], m["tiny"], recent, 0.0):
        raise Mistake("With margin=0.0 should_promote still blocks the challenger that is 1 % better on every "
                      "hour (its interval is below zero): use the margin argument, not a fixed number.")
    return (f"Promotes spring over winter (MAE {maes['spring']:.1f} vs {maes['winter']:.1f}); blocks the reverse, "
            f"a 1 % gain inside the margin, and a 5 % gain whose interval reaches above zero.")


q1 = Question(
    LESSON, "q1", "The promotion gate: a margin and an interval", answer="should_promote", check=_check_q1,
    hints=[
        "Score both models on the same rows: a = champion.predict(recent), b = challenger.predict(recent), "
        "y = recent['bikers']. Lesson 03's paired bootstrap gives the interval of MAE(b) - MAE(a).",
        "diff = stats.paired_difference(gate.mae, y, a, b) has .estimate, .low and .high. Negative means "
        "the challenger errs less.",
        "Promote when diff.estimate <= -margin * gate.mae(y, a) (a share of the champion's error) "
        "and diff.high < 0.",
    ],
)


# --- q2: a drift-triggered retraining policy ----------------------------------------------------
@lru_cache(maxsize=1)
def _baselines() -> tuple[Any, float, Any]:
    """The encoded stream, the MAE of never retraining, and the year retrained every 4 weeks."""
    from mlkit.retraining import policies

    data = policies.Encoded(_year())
    return data, policies.simulate(policies.Never(), data).mae, policies.simulate(policies.Scheduled(4), data)


def _check_q2(drift_policy) -> str:
    from dataclasses import replace

    from mlkit.retraining import policies

    class Learner(policies.Policy):
        name = "learner"

        def should_retrain(self, ctx: policies.Context) -> bool:
            unlabelled = replace(ctx, last_week=ctx.last_week.drop(columns=["bikers"]))
            try:
                got = drift_policy(unlabelled)
            except (KeyError, ValueError) as exc:  # pandas or the detector: the column is missing
                if "bikers" in str(exc):
                    raise Mistake("drift_policy reads last week's 'bikers': those labels arrive a week later, "
                                  "so production does not have them yet. Compare features (temp, hum).") from None
                raise
            if not _is_bool(got):
                raise Mistake(f"drift_policy returned {got!r} ({type(got).__name__}); return True or False "
                              "(a drift result's .drifted).")
            return bool(got)

    data, never, every4 = _baselines()
    monthly = every4.mae
    run = policies.simulate(Learner(), data)
    weeks = len(run.weekly)
    if run.retrains > 0.75 * weeks:
        raise Mistake(f"Your policy retrained in {run.retrains} of {weeks} weeks: nearly a weekly schedule, at a "
                      "weekly cost. Compare last week with ctx.reference (the served model's training rows, "
                      "which a retrain replaces), not a fixed sample, and use a threshold that ordinary weekly "
                      "weather stays under (Wasserstein distance of about 1 standard deviation).")
    if run.mae >= never:
        raise Mistake(f"With {run.retrains} retrains the year ends at MAE {run.mae:.1f}, no better than never "
                      f"retraining ({never:.1f}). Does drift_policy ever return True? Try "
                      "DriftDetector(ctx.reference, ['temp', 'hum'], method='wasserstein', threshold=1.0).")
    if run.mae > 1.05 * monthly:
        raise Mistake(f"Only {run.retrains} retrains: the year ends at MAE {run.mae:.1f}, worse than retraining "
                      f"blindly every 4 weeks ({monthly:.1f}, {every4.retrains} retrains). The threshold is too high "
                      "to notice the spring and autumn: lower it.")
    return (f"{run.retrains} retrains in {weeks} weeks, MAE {run.mae:.1f}; never retraining: {never:.1f}, "
            f"every 4 weeks: {monthly:.1f} with {every4.retrains} retrains.")


q2 = Question(
    LESSON, "q2", "A drift-triggered retraining policy", answer="drift_policy", check=_check_q2,
    hints=[
        "ctx.reference holds the served model's training rows, ctx.last_week last week's rows (features "
        "only: the labels are a week late). Lesson 05's drift.DriftDetector compares the two.",
        "drift.DriftDetector(ctx.reference, ['temp', 'hum'], method='wasserstein', threshold=...).quick(ctx.last_week) "
        "returns a result whose .drifted is True or False.",
        "A Wasserstein threshold of about 1 (in reference standard deviations) fires on the seasons, "
        "not on ordinary weeks; Evidently's default 0.1 fires every week.",
    ],
)


# --- q3: a rollback through the registry --------------------------------------------------------
_HISTORY = [  # (status, replaces): v1 served, v2 was blocked, v3 replaced v1, v4 failed its canary
    ("replaced", "-"), ("blocked by gate", "1"), ("champion", "1"), ("failed canary", "3")]


def _registry(client: Any, name: str) -> None:
    """Four versions of ``name``, each from a real MLflow run of a bike model; v3 is the champion."""
    import mlflow

    from mlkit.retraining import pipeline

    year = _year()
    client.create_registered_model(name)
    for i, (status, replaces) in enumerate(_HISTORY):
        with mlflow.start_run(run_name=f"v{i + 1}") as run:
            model = pipeline.BikeModel.fit(year[year.week < 4 + 4 * i])
            mlflow.log_dict(model.to_dict(), "model/model.json")
        mv = client.create_model_version(name, run.info.artifact_uri + "/model", run_id=run.info.run_id)
        client.set_model_version_tag(name, mv.version, "status", status)
        client.set_model_version_tag(name, mv.version, "replaces", replaces)
    client.set_registered_model_alias(name, "champion", "3")


def _check_q3(rollback) -> str:
    import mlflow

    from mlkit.exercises import fixtures

    name = "bike-demand-q3"
    with fixtures.temp_mlflow("q3"):
        client = mlflow.MlflowClient()
        _registry(client, name)
        got = rollback(client, name)
        versions = sorted(int(mv.version) for mv in client.search_model_versions(f"name = '{name}'"))
        if versions != [1, 2, 3, 4]:
            gone = sorted({1, 2, 3, 4} - set(versions))
            raise Mistake(f"Version(s) {gone} are gone from the registry: a rollback deletes nothing (the "
                          "audit trail and a later fix need them). Only move the 'champion' alias.")
        aliases = client.get_registered_model(name).aliases
        now = aliases.get("champion")
        if now is None:
            raise Mistake("No version has the 'champion' alias after the rollback: nothing serves. "
                          "client.set_registered_model_alias(name, 'champion', previous).")
        now = str(now)
        if now == "3":
            raise Mistake("The 'champion' alias still points at version 3. Move it with "
                          "client.set_registered_model_alias(name, 'champion', previous) on the client you were given.")
        if now != "1":
            why = {"2": "version 2 never served: the gate blocked it", "4": "version 4 is the newest, but it failed "
                   "its canary and never served"}.get(now, f"version {now} is not the one version 3 replaced")
            raise Mistake(f"The alias now points at version {now}; {why}. The previous champion is the version the "
                          "current one replaced: its tag 'replaces' (not the version number minus one).")
        if str(getattr(got, "version", got)) != "1":
            raise Mistake(f"rollback returned {got!r}; return the version that serves now ('1').")
        # a second rollback: v1 replaced nothing, so there is nothing to go back to
        try:
            rollback(client, name)
        except Exception:  # noqa: BLE001 - any clear error is right here
            pass
        after = client.get_registered_model(name).aliases.get("champion")
        if str(after) != "1":
            raise Mistake(f"Rolling back from version 1, which replaced nothing ('replaces' is '-'), moved the alias "
                          f"to {after!r}. Raise an error instead, and leave the champion serving.")
    return "The champion went back from version 3 to version 1, the version it replaced; every version is kept."


q3 = Question(
    LESSON, "q3", "Roll back to the previous champion through the registry", answer="rollback", check=_check_q3,
    hints=[
        "client.get_model_version_by_alias(name, 'champion') is the version serving now; its .tags hold "
        "'replaces', the version it replaced when it was promoted.",
        "Version numbers are not a history: a blocked or failed version may sit between two champions. "
        "Follow the 'replaces' tag.",
        "client.set_registered_model_alias(name, 'champion', previous) moves the alias. Delete nothing; raise "
        "a clear error when 'replaces' is '-'.",
    ],
)

QUESTIONS = [q1, q2, q3]
