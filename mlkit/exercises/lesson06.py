"""Lesson 06 exercises: a promotion gate, a retraining trigger and a rollback, each checked by running it.

* q1 ``should_promote``: the gate. A challenger replaces the champion only when it beats it on
  the same recent labelled hours by at least a margin, and the bootstrap interval agrees;
* q2 ``drift_policy``: retrain when lesson 05's drift detector finds last week's weather drifted
  from the served model's training data; replayed over the 2011 bike year;
* q3 ``rollback``: move the registry's ``champion`` alias back to the version it replaced
  (checked in a temporary MLflow store, never the learner's);
* q4 ``backfill_dates``: the logical dates the weekly Airflow DAG (``schedule="0 0 * * 6"``) runs
  for in a backfill between two dates; judged against the DAG's cron (Saturdays, 00:00 UTC).

Each check is an ``ask`` (runs the learner's function, records what it returned: for q2 the
policy's decision week by week, which the judge replays itself; for q3 what the registry then
holds) and a ``judge`` (decides from that record); ``hidden`` draws the inputs a grader adds.
Used by ``solutions/06_retraining.ipynb`` and its learner copy ``exercises/06_retraining.ipynb``.
The quiz is ``mlkit/exercises/quizzes/06_retraining.toml``.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from mlkit.exercises import fixtures
from mlkit.exercises.answers import Returned, call, kind, short_repr
from mlkit.exercises.question import Mistake, Question

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


class _Misused(Exception):
    """A fixture model was asked about other rows than ``recent``: the judge names the mistake."""


def _reraise_misuse(outcome: Any) -> None:
    if not outcome.ok and outcome.is_a("_Misused"):
        raise Mistake(outcome.text.splitlines()[0].removeprefix("_Misused: "))


# --- q1: the promotion gate ---------------------------------------------------------------------
class _Scaled:
    """A challenger whose error on each row of ``recent`` is the base model's times ``factor``
    (a fixture: it knows the labels of ``recent``, so it only answers about those rows)."""

    def __init__(self, base: Any, factor: Any, labels: Any) -> None:
        self.base, self.factor, self.labels = base, factor, labels

    def predict(self, frame: Any) -> Any:
        if len(frame) != len(self.labels) or not frame.index.equals(self.labels.index):
            raise _Misused(f"A model was asked about {len(frame)} rows that are not the {len(self.labels)} rows of "
                           "`recent`: score both models on the same recent labelled rows.")
        y = self.labels.to_numpy(float)
        return y + (self.base.predict(frame) - y) * self.factor


@lru_cache(maxsize=1)
def _gate_cases() -> tuple[Any, dict[str, Any]]:
    """``recent`` (the labelled rows at the start of week 20) and the models to gate."""
    import numpy as np

    from mlkit.retraining import replay
    from mlkit.training.bike import BikeModel

    year = _year()
    recent = replay.labelled_at(year, WEEK, 7, 2)
    winter = BikeModel.fit(year[year.week < 8])
    spring = BikeModel.fit(replay.labelled_at(year, WEEK, 7, 8))
    err = np.abs(spring.predict(recent) - recent["bikers"].to_numpy(float))
    g = np.random.default_rng(6).uniform(-0.85, 0.85, len(recent))
    k = (-0.05 * err.mean() - (err * g).mean()) / err.mean()  # noisy: 5 % better on average, by luck
    labels = recent["bikers"].copy()
    return recent, {"winter": winter, "spring": spring, "noisy": _Scaled(spring, 1 + g + k, labels)}


def _model(name: str) -> Any:
    """A model of the gate's cases: "winter", "spring", "noisy", or "scaled F" (spring's errors times F)."""
    import numpy as np

    recent, models = _gate_cases()
    if name.startswith("scaled "):
        return _Scaled(models["spring"], np.full(len(recent), float(name.split()[1])), recent["bikers"].copy())
    return models[name]


# (role, champion, challenger, margin, promote?)
_Q1_EXAMPLE = {"gates": [["better", "winter", "spring", 0.02, True], ["worse", "spring", "winter", 0.02, False],
                         ["tiny", "spring", "scaled 0.99", 0.02, False], ["noisy", "spring", "noisy", 0.02, False],
                         ["no margin", "spring", "scaled 0.99", 0.0, True]]}


def _ask_q1(case: dict, should_promote) -> dict:
    recent, _ = _gate_cases()
    return {"verdicts": [call(should_promote, _model(a), _model(b), recent.copy(), margin=m)
                         for _, a, b, m, _ in case["gates"]]}


def _judge_q1(got: dict, case: dict) -> str:
    from mlkit.retraining import gate

    recent, _ = _gate_cases()
    y = recent["bikers"]
    maes = {}
    for (role, a, b, margin, want), outcome in zip(case["gates"], got["verdicts"]):
        _reraise_misuse(outcome)
        mine = outcome.value
        if not _is_bool(mine):
            raise Mistake(f"should_promote returned {mine!r} ({kind(mine)}); return True or False.")
        if bool(mine) == want:
            continue
        for name in (a, b):
            maes.setdefault(name, gate.mae(y, _model(name).predict(recent)))
        champ, chall = maes[a], maes[b]
        if role == "better":
            raise Mistake(f"should_promote blocks a challenger trained on the last 8 labelled weeks (MAE "
                          f"{chall:.1f}) against the winter champion (MAE {champ:.1f}). Promote "
                          "when diff.estimate <= -margin x champion MAE and diff.high < 0, where diff is "
                          "MAE(challenger) - MAE(champion).")
        if role == "worse":
            raise Mistake(f"should_promote promotes the winter model (MAE {chall:.1f}) over the spring "
                          f"champion (MAE {champ:.1f}): a worse challenger. Check the sign: the difference is "
                          "MAE(challenger) - MAE(champion), negative when the challenger errs less.")
        if role == "tiny":
            raise Mistake(f"should_promote promotes a challenger only {100 * (1 - chall / champ):.2g} % better (MAE "
                          f"{chall:.1f} vs {champ:.1f}) with a {100 * margin:g} % margin. Its interval is below zero, but the hours of "
                          "a week are not independent, so such a gain is within noise: require diff.estimate <= "
                          "-margin x champion MAE (the margin is a share of the champion's MAE, not bikers).")
        if role == "noisy":
            raise Mistake(f"should_promote promotes a challenger whose MAE is 5 % lower on this week (MAE "
                          f"{chall:.1f} vs {champ:.1f}) but whose errors vary so much that the 95 % "
                          "interval of the difference reaches above zero: it may well be worse. Require diff.high < 0 "
                          "(stats.paired_difference).")
        raise Mistake(f"With margin={margin} should_promote still blocks the challenger that is "
                      f"{100 * (1 - chall / champ):.2g} % better on every hour (its interval is below zero): use the margin "
                      "argument, not a fixed number.")
    spring, winter = gate.mae(y, _model("spring").predict(recent)), gate.mae(y, _model("winter").predict(recent))
    return (f"Promotes spring over winter (MAE {spring:.1f} vs {winter:.1f}); blocks the reverse, "
            f"a 1 % gain inside the margin, and a 5 % gain whose interval reaches above zero.")


def _hidden_q1(rng: random.Random) -> dict:
    """Another margin: a gain just inside it (blocked) and one well past it (promoted)."""
    m = rng.choice([0.035, 0.04, 0.045])
    gates = [["better", "winter", "spring", m, True], ["worse", "spring", "winter", m, False],
             ["tiny", "spring", f"scaled {1 - 0.7 * m:.4f}", m, False], ["noisy", "spring", "noisy", m, False],
             ["no margin", "spring", f"scaled {1 - 1.5 * m:.4f}", m, True]]
    rng.shuffle(gates)
    return {"gates": gates}


q1 = Question(
    LESSON, "q1", "The promotion gate: a margin and an interval", answer="should_promote",
    ask=_ask_q1, judge=_judge_q1, examples=[_Q1_EXAMPLE], hidden=_hidden_q1,
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
_Q2_EXAMPLE = {"initial_weeks": 8, "window_weeks": 8}


@lru_cache(maxsize=1)
def _encoded() -> Any:
    from mlkit.retraining import policies

    return policies.Encoded(_year())


@fixtures.by_case
def _baselines(case: dict) -> tuple[float, Any]:
    """The MAE of never retraining, and the year retrained every 4 weeks."""
    from mlkit.retraining import policies

    kw = {"initial_weeks": case["initial_weeks"], "window_weeks": case["window_weeks"]}
    return policies.simulate(policies.Never(), _encoded(), **kw).mae, policies.simulate(policies.Scheduled(4), _encoded(), **kw)


class _Stop(Exception):
    """The learner's policy raised or returned something else than a bool: the replay stops there."""


def _ask_q2(case: dict, drift_policy) -> dict:
    """Replay the year with the learner's policy; record its decision week by week."""
    from dataclasses import replace

    from mlkit.retraining import policies

    decisions: list[bool] = []
    out: dict[str, Any] = {"decisions": decisions}

    class Learner(policies.Policy):
        name = "learner"

        def should_retrain(self, ctx: policies.Context) -> bool:
            unlabelled = replace(ctx, last_week=ctx.last_week.drop(columns=["bikers"]))
            got = call(drift_policy, unlabelled)
            if not got.ok:
                out["raised"] = got
                raise _Stop
            if not _is_bool(got.value):
                out["odd"] = [repr(got.value)[:120], kind(got.value)]
                raise _Stop
            decisions.append(bool(got.value))
            return bool(got.value)

    try:
        policies.simulate(Learner(), _encoded(), initial_weeks=case["initial_weeks"], window_weeks=case["window_weeks"])
    except _Stop:
        pass
    return out


def _judge_q2(got: dict, case: dict) -> str:
    from mlkit.retraining import policies

    if "raised" in got:
        raised = got["raised"]
        if raised.is_a("KeyError", "ValueError") and "bikers" in raised.text:
            raise Mistake("drift_policy reads last week's 'bikers': those labels arrive a week later, "
                          "so production does not have them yet. Compare features (temp, hum).")
        raised.value  # noqa: B018 - any other error is the answer
    if "odd" in got:
        raise Mistake(f"drift_policy returned {got['odd'][0]} ({got['odd'][1]}); return True or False "
                      "(a drift result's .drifted).")

    class Recorded(policies.Policy):  # the learner's decisions, replayed here: the judge computes the year
        name = "learner"

        def __init__(self, decisions: list[bool]) -> None:
            self.decisions = iter(decisions)

        def should_retrain(self, ctx: policies.Context) -> bool:
            return bool(next(self.decisions, False))

    never, every4 = _baselines(case)
    monthly = every4.mae
    run = policies.simulate(Recorded(list(got["decisions"])), _encoded(), initial_weeks=case["initial_weeks"],
                            window_weeks=case["window_weeks"])
    weeks = len(run.weekly)
    if len(got["decisions"]) != weeks:
        raise Mistake(f"drift_policy answered for {len(got['decisions'])} of the {weeks} weeks.")
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


def _hidden_q2(rng: random.Random) -> dict:
    return {"initial_weeks": rng.choice([6, 7, 9, 10]), "window_weeks": rng.choice([6, 10])}


q2 = Question(
    LESSON, "q2", "A drift-triggered retraining policy", answer="drift_policy",
    ask=_ask_q2, judge=_judge_q2, examples=[_Q2_EXAMPLE], hidden=_hidden_q2,
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
# (status, replaces): v1 served, v2 was blocked, v3 replaced v1, v4 failed its canary
_Q3_EXAMPLE = {"name": "bike-demand-q3", "history": [["replaced", "-"], ["blocked by gate", "1"], ["champion", "1"],
                                                     ["failed canary", "3"]]}


def _registry(client: Any, name: str, history: list) -> None:
    """One version of ``name`` per (status, replaces), each from a real MLflow run of a bike model;
    the version whose status is "champion" has the alias."""
    import mlflow

    from mlkit.training.bike import BikeModel

    year = _year()
    client.create_registered_model(name)
    for i, (status, replaces) in enumerate(history):
        with mlflow.start_run(run_name=f"v{i + 1}") as run:
            model = BikeModel.fit(year[year.week < 4 + 4 * i])
            mlflow.log_dict(model.to_dict(), "model/model.json")
        mv = client.create_model_version(name, run.info.artifact_uri + "/model", run_id=run.info.run_id)
        client.set_model_version_tag(name, mv.version, "status", status)
        client.set_model_version_tag(name, mv.version, "replaces", replaces)
    champion = next(i + 1 for i, (status, _) in enumerate(history) if status == "champion")
    client.set_registered_model_alias(name, "champion", str(champion))


def _ask_q3(case: dict, rollback) -> dict:
    import mlflow

    name = case["name"]
    with fixtures.temp_mlflow("q3"):
        client = mlflow.MlflowClient()
        _registry(client, name, case["history"])
        got = call(rollback, client, name)
        returned = Returned(str(getattr(got.value, "version", got.value))) if got.ok else got
        versions = sorted(int(mv.version) for mv in client.search_model_versions(f"name = '{name}'"))
        now = client.get_registered_model(name).aliases.get("champion")
        call(rollback, client, name)  # a second rollback: any clear error is right here
        after = client.get_registered_model(name).aliases.get("champion")
    return {"returned": returned, "versions": versions, "now": None if now is None else str(now),
            "after": None if after is None else str(after)}


def _judge_q3(got: dict, case: dict) -> str:
    history = case["history"]
    current = next(i + 1 for i, (status, _) in enumerate(history) if status == "champion")
    previous = history[current - 1][1]
    everything = list(range(1, len(history) + 1))
    if not got["returned"].ok:
        got["returned"].value  # noqa: B018 - an error raised by rollback() is the answer
    if got["versions"] != everything:
        gone = sorted(set(everything) - set(got["versions"]))
        raise Mistake(f"Version(s) {gone} are gone from the registry: a rollback deletes nothing (the "
                      "audit trail and a later fix need them). Only move the 'champion' alias.")
    now = got["now"]
    if now is None:
        raise Mistake("No version has the 'champion' alias after the rollback: nothing serves. "
                      "client.set_registered_model_alias(name, 'champion', previous).")
    if now == str(current):
        raise Mistake(f"The 'champion' alias still points at version {current}. Move it with "
                      "client.set_registered_model_alias(name, 'champion', previous) on the client you were given.")
    if now != previous:
        status = history[int(now) - 1][0] if now.isdigit() and 0 < int(now) <= len(history) else ""
        newest = now == str(len(history))
        why = {"blocked by gate": f"version {now} never served: the gate blocked it",
               "failed canary": f"version {now} is {'the newest, but it' if newest else 'one that'} failed "
                                "its canary and never served"}.get(status, f"version {now} is not the one version "
                                                                           f"{current} replaced")
        raise Mistake(f"The alias now points at version {now}; {why}. The previous champion is the version the "
                      "current one replaced: its tag 'replaces' (not the version number minus one).")
    if str(got["returned"].value) != previous:
        raise Mistake(f"rollback returned {got['returned'].value!r}; return the version that serves now ({previous!r}).")
    if got["after"] != previous:
        raise Mistake(f"Rolling back from version {previous}, which replaced nothing ('replaces' is '-'), moved the "
                      f"alias to {got['after']!r}. Raise an error instead, and leave the champion serving.")
    return (f"The champion went back from version {current} to version {previous}, the version it replaced; every "
            "version is kept.")


def _hidden_q3(rng: random.Random) -> dict:
    """Another registry: the champion replaced an older version, with blocked and failed ones between."""
    n = rng.choice([4, 5, 6])
    previous = rng.randint(1, n - 2)
    current = rng.randint(previous + 2, n)
    history = []
    for v in range(1, n + 1):
        if v < previous:
            history.append(["replaced", "-" if v == 1 else str(v - 1)])
        elif v == previous:
            history.append(["replaced", "-"])
        elif v < current:
            history.append([rng.choice(["blocked by gate", "failed canary"]), str(previous)])
        elif v == current:
            history.append(["champion", str(previous)])
        else:
            history.append(["failed canary", str(current)])
    return {"name": f"bikes-{rng.randrange(1000)}", "history": history}


q3 = Question(
    LESSON, "q3", "Roll back to the previous champion through the registry", answer="rollback",
    ask=_ask_q3, judge=_judge_q3, examples=[_Q3_EXAMPLE], hidden=_hidden_q3,
    hints=[
        "client.get_model_version_by_alias(name, 'champion') is the version serving now; its .tags hold "
        "'replaces', the version it replaced when it was promoted.",
        "Version numbers are not a history: a blocked or failed version may sit between two champions. "
        "Follow the 'replaces' tag.",
        "client.set_registered_model_alias(name, 'champion', previous) moves the alias. Delete nothing; raise "
        "a clear error when 'replaces' is '-'.",
    ],
)



# --- q4: the weekly DAG's backfill -----------------------------------------------------------------
def _iso_list(values: Any) -> list[str]:
    """The learner's dates as ISO strings (an observation: what was returned, in a form JSON carries)."""
    import pandas as pd

    return [pd.Timestamp(v).isoformat() for v in values]


def _ask_q4(case: dict, backfill_dates) -> dict:
    from datetime import datetime

    got = []
    for start, end in case["ranges"]:
        outcome = call(backfill_dates, datetime.fromisoformat(start), datetime.fromisoformat(end))
        if outcome.ok:
            try:
                outcome = Returned(_iso_list(outcome.value))
            except Exception:  # noqa: BLE001 - not a list of dates: the judge says so
                outcome = Returned({"not_dates": short_repr(outcome.value)})
        got.append(outcome)
    return {"dates": got}


def _saturdays(start: str, end: str) -> list[Any]:
    """What the DAG's cron ``0 0 * * 6`` fires on from ``start`` to ``end``, both included (UTC, naive)."""
    import pandas as pd

    first = pd.Timestamp(start).tz_convert("UTC").tz_localize(None).ceil("D")
    return list(pd.date_range(first, pd.Timestamp(end).tz_convert("UTC").tz_localize(None), freq="W-SAT"))


def _judge_q4(got: dict, case: dict) -> str:
    import pandas as pd

    for (start, end), outcome in zip(case["ranges"], got["dates"]):
        value = outcome.value
        if isinstance(value, dict) and "not_dates" in value:
            raise Mistake(f"backfill_dates returned {value['not_dates']}: return a list of dates (datetime objects "
                          "or pandas Timestamps), one per run.")
        days = [pd.Timestamp(d) for d in value]
        days = [d.tz_convert("UTC").tz_localize(None) if d.tzinfo else d for d in days]
        want = _saturdays(start, end)
        if days == want:
            continue
        where = f"from {start[:10]} to {end[:10]}"
        if days and all(d.dayofweek == 6 for d in days):
            raise Mistake(f"{where} you return Sundays: that is `@weekly`. The DAG's cron `0 0 * * 6` fires on "
                          "Saturdays (day 6), the first day of each replay week.")
        if any(d.hour or d.minute for d in days):
            raise Mistake(f"{where} some dates are not at midnight: the cron says minute 0, hour 0 (UTC).")
        if days == want[:-1] or days == want[1:]:
            raise Mistake(f"{where} you left out {'the last' if days == want[:-1] else 'the first'} Saturday: a "
                          "backfill runs every logical date from the start to the end, both included.")
        raise Mistake(f"{where} the DAG runs on {len(want)} Saturdays ({want[0]:%Y-%m-%d} to {want[-1]:%Y-%m-%d}); "
                      f"backfill_dates returned {len(days)} dates.")
    n = len(_saturdays(*case["ranges"][0]))
    return f"{n} logical dates for {case['ranges'][0][0][:10]} to {case['ranges'][0][1][:10]}, every Saturday at 00:00 UTC."


_Q4_EXAMPLE = {"ranges": [["2011-06-11T00:00:00+00:00", "2011-07-02T00:00:00+00:00"],
                          ["2011-06-08T12:00:00+00:00", "2011-06-30T00:00:00+00:00"]]}


def _hidden_q4(rng: random.Random) -> dict:
    import pandas as pd

    ranges = []
    for _ in range(3):
        start = pd.Timestamp("2011-01-01", tz="UTC") + pd.Timedelta(hours=rng.randrange(0, 300 * 24))
        end = start + pd.Timedelta(days=rng.randrange(8, 60), hours=rng.randrange(0, 24))
        ranges.append([start.isoformat(), end.isoformat()])
    ranges.append([pd.Timestamp("2011-09-03", tz="UTC").isoformat(), pd.Timestamp("2011-10-01", tz="UTC").isoformat()])
    return {"ranges": ranges}


q4 = Question(
    LESSON, "q4", "The logical dates of the weekly DAG's backfill", answer="backfill_dates",
    ask=_ask_q4, judge=_judge_q4, examples=[_Q4_EXAMPLE], hidden=_hidden_q4,
    hints=[
        "The DAG's schedule is the cron `0 0 * * 6`: minute 0, hour 0, any day of the month, any month, Saturday.",
        "A run's logical date is the moment the cron fires. The backfill wants every such moment from start to "
        "end, both included; a start in the middle of a day begins with the next midnight.",
        "pandas.date_range(first_midnight, end, freq='W-SAT') lists Saturdays; keep the dates in UTC.",
    ],
)

QUESTIONS = [q1, q2, q3, q4]
