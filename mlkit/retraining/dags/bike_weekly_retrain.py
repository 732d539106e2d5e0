"""The weekly retraining of the bike model as an Apache Airflow DAG (lesson 06).

Every Saturday at midnight of the replayed 2011 year (the first hour of a replay week), Airflow
runs: wait for the week's labelled rows -> validate -> train (release with DVC, fit, register)
-> gate -> canary -> promote. Each task calls one method of :class:`mlkit.retraining.pipeline.RetrainingPipeline`,
the same ones the lesson walks through by hand and ``retrain`` runs, so there is one
implementation. A task that raises is retried (``retries``); the gate is a short circuit, so a
blocked challenger skips the canary and the promotion. The MLflow run and the registered
version carry the Airflow run id and logical date as tags (their lineage).

Where things are: ``$MLKIT_HOME`` (the course store), ``$MLKIT_RETRAIN_WORKDIR`` (the pipeline's
working folder; the label feed drops ``landing/labels-YYYY-MM-DD.parquet`` there) and
``$MLKIT_RETRAIN_MODEL`` (the registered model the DAG retrains; default ``bike-demand``). A run's
configuration may say ``{"flaky": "train"}``: that task then fails once with a transient
error (a DVC remote that did not answer) and succeeds when Airflow retries it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import PokeReturnValue, dag, get_current_context, task

YEAR_START = datetime(2011, 1, 1, tzinfo=UTC)  # a Saturday: replay week 0 starts here
MARGIN = 0.02  # the gate's margin, a share of the champion's error


def _workdir() -> Path:
    return Path(os.environ["MLKIT_RETRAIN_WORKDIR"])


def _pipeline():  # imported inside the tasks: parsing the DAG file stays cheap
    from mlkit.course.store import Store
    from mlkit.retraining.pipeline import RetrainingPipeline

    return RetrainingPipeline(Store(), _workdir(), name=os.environ.get("MLKIT_RETRAIN_MODEL", "bike-demand"))


def _run() -> dict:
    """The week, the release tag and the lineage tags of the running DAG run."""
    ctx = get_current_context()
    day = ctx["logical_date"]
    return {"week": (day - YEAR_START).days // 7, "tag": f"bike-{day:%Y-%m-%d}", "ds": f"{day:%Y-%m-%d}",
            "flaky": (ctx["dag_run"].conf or {}).get("flaky"), "try": ctx["ti"].try_number,
            "tags": {"airflow_dag_id": ctx["dag"].dag_id, "airflow_run_id": ctx["run_id"],
                     "airflow_logical_date": day.isoformat()}}


@dag(
    dag_id="bike_weekly_retrain",
    schedule="0 0 * * 6",  # Saturdays 00:00 UTC, the start of each replay week
    start_date=YEAR_START,
    end_date=datetime(2011, 12, 31, tzinfo=UTC),
    catchup=False,  # past weeks only when asked for (a backfill), never all at once
    max_active_runs=1,  # one retrain at a time: they share the registry's champion alias
    default_args={"retries": 2, "retry_delay": timedelta(seconds=1)},
    tags=["mlkit", "lesson 06"],
)
def bike_weekly_retrain():
    @task.sensor(poke_interval=1, timeout=60, mode="poke")
    def wait_for_labels() -> PokeReturnValue:
        """Done when the week's labelled rows have landed."""
        path = _workdir() / "landing" / f"labels-{_run()['ds']}.parquet"
        return PokeReturnValue(is_done=path.exists(), xcom_value=str(path))

    @task
    def validate(path: str) -> str:
        import pandas as pd

        table = _pipeline().validate(pd.read_parquet(path), _run()["tag"])
        print(f"{len(table)} expectations passed")
        return path

    @task
    def train(path: str) -> dict:
        """Release the rows with DVC, then fit, log and register the challenger (MLflow)."""
        import pandas as pd

        pl, run = _pipeline(), _run()
        if run["flaky"] == "train" and run["try"] == 1:
            raise ConnectionError("the DVC remote did not answer (injected, transient: the retry will succeed)")
        frame = pd.read_parquet(path)
        release = pl.release(frame, run["tag"])
        run_id, _ = pl.train(frame, release, tags=run["tags"])
        version = pl.register(run_id, release, pl.champion(), tags=run["tags"])
        return {"version": version, "path": path}

    @task.short_circuit
    def gate(trained: dict) -> bool:
        """False (the challenger is blocked) skips the canary and the promotion."""
        import pandas as pd

        from mlkit.retraining import replay

        pl = _pipeline()
        if pl.champion() is None:
            print("no champion yet: the first model passes without a comparison")
            return True
        recent = replay.labelled_at(pd.read_parquet(trained["path"]), _run()["week"], 7, 2)
        decision = pl.evaluate(trained["version"], pl.load(trained["version"]), recent, margin=MARGIN)
        print(decision)
        return decision.promote

    @task(retries=0)  # a canary's verdict is not transient: retrying it would only ask again
    def canary(trained: dict) -> dict:
        """Through lesson 04's router, beside the champion (conf ``{"canary": "predictions"}``, or no
        champion yet: the challenger's answers checked in-process by the same rules)."""
        import pandas as pd

        from mlkit.retraining import canary as canaries
        from mlkit.retraining import replay

        pl = _pipeline()
        recent = replay.labelled_at(pd.read_parquet(trained["path"]), _run()["week"], 7, 2)
        in_process = (get_current_context()["dag_run"].conf or {}).get("canary") == "predictions"
        if in_process or pl.champion() is None:
            summary = canaries.prediction_check(pl.load(trained["version"]), recent)
        else:
            summary = canaries.router_canary(pl.uri("champion"), pl.uri(trained["version"]), recent, weight=0.25)
        print(canaries.describe(summary))
        return trained

    @task
    def promote(trained: dict) -> str:
        _pipeline().promote(trained["version"])
        return trained["version"]

    trained = train(validate(wait_for_labels()))
    passed = gate(trained)
    checked = canary(trained)
    passed >> checked
    promote(checked)


weekly = bike_weekly_retrain()
