"""mlkit.retraining.orchestration: the weekly DAG run for real by Airflow's dag.test, in a child process."""

from __future__ import annotations

import pytest

from mlkit.course.store import Store
from mlkit.retraining import orchestration, pipeline, replay


def _result():
    task = lambda name, state="success", tries=1: {"task_id": name, "state": state, "try_number": tries}  # noqa: E731
    return {"runs": [
        {"run_id": "manual__a", "logical_date": "2011-06-11T00:00:00+00:00", "state": "success", "seconds": 9.0,
         "tasks": [task("wait_for_labels"), task("train", tries=2), task("promote")]},
        {"run_id": "manual__b", "logical_date": "2011-06-18T00:00:00+00:00", "state": "failed", "seconds": 7.0,
         "tasks": [task("wait_for_labels"), task("train"), task("promote", "upstream_failed", 0)]}]}


def test_runs_table_and_retries_read_the_result():
    table = orchestration.runs_table(_result())
    assert list(table.logical_date) == ["2011-06-11", "2011-06-18"]
    assert table.loc[0, "train"] == "success (try 2)" and table.loc[1, "promote"] == "upstream_failed"
    assert orchestration.retries(_result()) == 1


def test_home_settings_keep_airflow_in_the_workspace(tmp_path):
    home = orchestration.prepare(tmp_path / "airflow", tmp_path / "course", tmp_path)
    env = home.env()
    assert (home.dags / "bike_weekly_retrain.py").read_text() == orchestration.DAG_FILE.read_text()
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home.db}"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False" and env["AIRFLOW__LOGGING__LOGGING_LEVEL"] == "ERROR"
    assert env["MLKIT_HOME"] == str(tmp_path / "course")
    with pytest.raises(ValueError, match="one conf per date"):
        orchestration.test(home, ["2011-06-11T00:00:00+00:00"], [{}, {}])


def test_logical_dates_are_the_replay_weeks():
    year = replay.load_stream()
    assert orchestration.logical_dates(year, [0, 23]) == ["2011-01-01T00:00:00+00:00", "2011-06-11T00:00:00+00:00"]


def test_the_course_text_dag_has_no_schedule_and_no_retries(tmp_path):
    home = orchestration.prepare(tmp_path / "airflow", tmp_path, tmp_path)
    fixed = orchestration.COURSE_TEXT_DAG.replace(orchestration.OLD_IMPORT, orchestration.NEW_IMPORT)
    found = orchestration.inspect(home, {"text": orchestration.COURSE_TEXT_DAG, "fixed": fixed,
                                         "ours": orchestration.DAG_FILE.read_text()}).result()
    text, ours = found["text"], found["ours"]
    assert "import_error" not in text and text["schedule"] is None and text["catchup"] is False
    assert set(text["retries"].values()) == {0} and text["daily_runs_since_start"] > 365
    assert found["fixed"]["tasks"] == ["collect", "validate", "transform"]
    assert ours["schedule"] and ours["retries"]["train"] == 2 and ours["retries"]["canary"] == 0
    assert ours["tasks"] == ["wait_for_labels", "validate", "train", "gate", "canary", "promote"]


def test_a_weekly_run_retries_a_transient_failure_and_tags_the_lineage(tmp_path):
    """The DAG for real: a week 20 champion, then week 23 with the first try of train failing."""
    year, store = replay.load_stream(), Store(tmp_path / "course")
    pl = pipeline.RetrainingPipeline(store, tmp_path / "work")
    assert pl.retrain(replay.labelled_at(year, 20, 7, 8), None, "bike-w20").status == "promoted"
    home = orchestration.prepare(tmp_path / "airflow", store.home, pl.workdir)
    orchestration.deliver_labels(year, [23], home)
    job = orchestration.test(home, orchestration.logical_dates(year, [23]), [{"flaky": "train", "canary": "predictions"}])
    result = job.result()
    (run,) = result["runs"]
    states = {t["task_id"]: (t["state"], t["try_number"]) for t in run["tasks"]}
    assert run["state"] == "success", (states, job.log_tail())
    assert states["train"] == ("success", 2) and orchestration.retries(result) == 1
    row = pl.lineage().set_index("version").loc[pl.champion()]
    assert row["airflow_run_id"] == run["run_id"] and row["airflow_logical_date"].startswith("2011-06-11")
    assert "ConnectionError" not in job.log_file.read_text().split("Task failed")[0]  # nothing failed before train


def test_the_in_process_canary_uses_the_router_canary_rules():
    from mlkit.retraining import canary
    from mlkit.training.bike import BikeModel

    year = replay.load_stream()
    clean = canary.prediction_check(BikeModel.fit(replay.labelled_at(year, 23, 7, 8)), replay.labelled_at(year, 23, 7, 2))
    assert clean["challenger"] == {"requests": 168, "errors": 0, "p99_ms": None, "negative": 0}
    assert canary.describe(clean) == "challenger:  168 requests, 0 errors, no latency measured"
    with pytest.raises(pipeline.RetrainError, match="negative counts"):
        canary.prediction_check(BikeModel.fit(replay.labelled_at(year, 26, 7, 8)), replay.labelled_at(year, 26, 7, 2))


def test_runs_so_far_returns_the_runs_written_and_stops_waiting_when_the_job_ends(tmp_path):
    import json
    from types import SimpleNamespace

    from mlkit.course.errors import ProcessError

    out = tmp_path / "runs.json"
    out.write_text(json.dumps(_result()))
    running = SimpleNamespace(result_file=out, done=False, name="airflow dag test", log_file=tmp_path / "log")
    assert [r["run_id"] for r in orchestration.runs_so_far(running, 1)["runs"]] == ["manual__a"]
    ended = SimpleNamespace(**{**vars(running), "done": True, "result": lambda: {"runs": ["all it wrote"]}})
    assert orchestration.runs_so_far(ended, 3) == {"runs": ["all it wrote"]}
    with pytest.raises(ProcessError, match="fewer than 3 runs"):
        orchestration.runs_so_far(running, 3, timeout=0.6)
