"""mlkit.exercises.lesson06: the reference answers pass; typical mistakes get specific feedback."""

from __future__ import annotations

import pytest
from exercise_checks import expect as _expect
from exercise_checks import hidden_verdict

from mlkit.evaluation import stats
from mlkit.exercises import lesson06 as ex
from mlkit.exercises import quiz
from mlkit.monitoring import drift
from mlkit.retraining import gate


@pytest.fixture(scope="module")
def ref(solutions):
    import pandas as pd

    return solutions(ex.LESSON, "should_promote", "drift_policy", "rollback", "backfill_dates", stats=stats,
                     gate=gate, drift=drift, pd=pd, seed=0)


def test_module_contract():
    assert ex.LESSON == "06_retraining"
    assert [ex.q1, ex.q2, ex.q3, ex.q4] == ex.QUESTIONS
    assert [q.id for q in quiz.questions("06_retraining")][:3] == [
        "gate_interval", "drift_without_labels", "failure_keeps_champion"]


# --- q1 ----------------------------------------------------------------------------------------
def _gate(margin_rule="share", interval=True, fixed_margin=None, sign=-1, as_bool=True):
    def should_promote(champion, challenger, recent, margin=0.02):
        m = margin if fixed_margin is None else fixed_margin
        y = recent["bikers"]
        a = champion.predict(recent)
        b = challenger.predict(recent)
        diff = stats.paired_difference(gate.mae, y, a, b, n_boot=300)
        need = {"share": -m * gate.mae(y, a), "absolute": -m, "none": 0.0}[margin_rule]
        ok = (diff.estimate <= need if sign < 0 else diff.estimate >= -need) and (diff.high < 0 or not interval)
        return bool(ok) if as_bool else diff

    return should_promote


def test_q1(ref):
    _expect(ex.q1, ref["should_promote"], status="passed", says="blocks the reverse")

    def hides_labels(champion, challenger, recent, margin=0.02):  # a careful learner: models never see labels
        X, y = recent.drop(columns=["bikers"]), recent["bikers"]
        a, b = champion.predict(X), challenger.predict(X)
        diff = stats.paired_difference(gate.mae, y, a, b, n_boot=300)
        return bool(diff.estimate <= -margin * gate.mae(y, a) and diff.high < 0)

    _expect(ex.q1, hides_labels, status="passed")
    _expect(ex.q1, _gate(margin_rule="none"), says="only 1 % better")
    _expect(ex.q1, _gate(margin_rule="absolute"), says="a share of the champion's MAE")
    _expect(ex.q1, _gate(interval=False), says="reaches above zero")
    _expect(ex.q1, _gate(fixed_margin=0.02), says="use the margin argument")
    _expect(ex.q1, _gate(sign=+1), says="blocks a challenger trained on the last 8 labelled weeks")
    _expect(ex.q1, lambda c, ch, r, margin=0.02: gate.mae(r.bikers, c.predict(r)) > 0, says="a worse challenger")
    _expect(ex.q1, _gate(as_bool=False), says="return True or False")


# --- q2 ----------------------------------------------------------------------------------------
def _policy(threshold=1.0, reference=None, column=None, as_bool=True):
    def drift_policy(ctx):
        ref = ctx.reference if reference is None else reference
        result = drift.DriftDetector(ref, column or ["temp", "hum"], method="wasserstein",
                                     threshold=threshold).quick(ctx.last_week)
        return result.drifted if as_bool else result

    return drift_policy


def test_q2(ref):
    _expect(ex.q2, ref["drift_policy"], status="passed", says="retrains in 44 weeks")
    winter = ex._year()[ex._year().week < 8]
    _expect(ex.q2, _policy(reference=winter), says="not a fixed sample")
    _expect(ex.q2, _policy(threshold=0.1), says="nearly a weekly schedule")
    _expect(ex.q2, lambda ctx: True, says="nearly a weekly schedule")
    _expect(ex.q2, _policy(threshold=50), says="no better than never")
    _expect(ex.q2, _policy(threshold=3.0), says="worse than retraining blindly every 4 weeks")
    _expect(ex.q2, _policy(column=["bikers"]), says="labels arrive a week later")
    _expect(ex.q2, _policy(as_bool=False), says="return True or False")


# --- q3 ----------------------------------------------------------------------------------------
def _previous(client, name):
    return client.get_model_version_by_alias(name, "champion").tags["replaces"]


def test_q3(ref):
    _expect(ex.q3, ref["rollback"], status="passed", says="every version is kept")

    def delete(client, name):
        current = client.get_model_version_by_alias(name, "champion")
        previous = current.tags["replaces"]
        client.set_registered_model_alias(name, "champion", previous)
        client.delete_model_version(name, current.version)
        return previous

    _expect(ex.q3, delete, says="deletes nothing")

    def minus_one(client, name):
        previous = str(int(client.get_model_version_by_alias(name, "champion").version) - 1)
        client.set_registered_model_alias(name, "champion", previous)
        return previous

    _expect(ex.q3, minus_one, says="the gate blocked it")
    _expect(ex.q3, lambda client, name: _previous(client, name), says="still points at version 3")

    def falls_back(client, name):
        previous = _previous(client, name)
        previous = "2" if previous == "-" else previous
        client.set_registered_model_alias(name, "champion", previous)
        return previous

    _expect(ex.q3, falls_back, says="replaced nothing")


def test_q4(ref):
    import pandas as pd

    _expect(ex.q4, ref["backfill_dates"], status="passed", says="every Saturday at 00:00 UTC")
    _expect(ex.q4, lambda s, e: list(pd.date_range(pd.Timestamp(s).ceil("D"), e, freq="W-SUN")), says="Sundays")
    _expect(ex.q4, lambda s, e: list(pd.date_range(pd.Timestamp(s).ceil("D"), e, freq="W-SAT", inclusive="left")),
            says="left out the last Saturday")
    _expect(ex.q4, lambda s, e: list(pd.date_range(pd.Timestamp(s).ceil("D") + pd.Timedelta(hours=3), e,
                                                   freq="W-SAT") + pd.Timedelta(hours=3)), says="not at midnight")
    _expect(ex.q4, lambda s, e: 7, says="a list of dates")


def test_q4_agrees_with_airflows_own_timetable(ref):
    """The judge's Saturdays are what Airflow's timetable for the DAG's cron fires on (an oracle)."""
    import os
    from datetime import datetime

    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
    from airflow.sdk import timezone
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable

    start, end = datetime.fromisoformat("2011-06-08T12:00:00+00:00"), datetime.fromisoformat("2011-08-06T00:00:00+00:00")
    timetable = CronTriggerTimetable("0 0 * * 6", timezone="UTC")  # the DAG's schedule
    window = TimeRestriction(earliest=timezone.coerce_datetime(start), latest=timezone.coerce_datetime(end), catchup=True)
    last, fired = None, []
    while (info := timetable.next_dagrun_info(last_automated_data_interval=last, restriction=window)) is not None:
        fired.append(datetime(*info.logical_date.timetuple()[:6]))
        last = info.data_interval
    ours = [d.tz_localize(None) if d.tzinfo else d for d in ex._saturdays(start.isoformat(), end.isoformat())]
    assert fired == [d.to_pydatetime() for d in ours] and len(fired) == 9


@pytest.mark.parametrize("name", [q.name for q in ex.QUESTIONS if q.hidden is not None])
def test_reference_answer_passes_a_hidden_case(name, ref):
    q = getattr(ex, name)
    verdict = hidden_verdict(q, *((ref[a]) for a in q.answers), seed=11)
    assert verdict.status == "passed", verdict
