"""Lesson 06: the weekly retrain orchestrated by Apache Airflow, run for real without a scheduler.

Airflow lives in the lesson's workspace (``<ws.root>/airflow``): a throw-away sqlite metadata
database, no example DAGs, no telemetry, and the DAG file ``dags/bike_weekly_retrain.py``
(copied from :mod:`mlkit.retraining` 's ``dags/`` folder). Everything Airflow does runs in a
child process (:class:`mlkit.course.processes.Job`) whose output goes to a log file in the
workspace, so its log lines never reach the notebook; the notebook reads what happened from
the result the child writes (the runs, their tasks, states and tries, from Airflow's own
database).

- :func:`prepare` makes the home; its ``model`` is the registered model the DAG retrains (lesson 06
  gives it one of its own, so that runs in the background never move the champion the lesson
  moves by hand);
- :func:`deliver_labels` is the label feed: it drops each week's labelled rows where the DAG's
  sensor waits for them;
- :func:`test` runs ``dag.test(logical_date=...)`` for one or more dates (one after the other: a
  backfill without a scheduler), after ``airflow db migrate``, and returns what happened;
- :func:`inspect` loads DAG files the way Airflow would and reports, for each, its import error or
  its warnings, schedule, retries, catchup and the days since its start date (the runs a daily
  catchup would create today).

``python -m mlkit.retraining.orchestration test|inspect ...`` is the child's command line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.training.bike import BIKE_MODEL

if TYPE_CHECKING:
    import pandas as pd

DAG_ID = "bike_weekly_retrain"
DAG_FILE = Path(__file__).with_name("dags") / f"{DAG_ID}.py"

# The DAG of the course text (stage 1), as written there, for lesson 06 to load and criticise.
COURSE_TEXT_DAG = '''\
# Data pipeline orchestration with Airflow
from airflow import DAG
from airflow.operators.python import PythonOperator
from datetime import datetime

def collect_data():
    # Collect from API
    pass

def validate_data():
    # Check data quality
    pass

def transform_data():
    # Feature engineering
    pass

dag = DAG('data_pipeline', start_date=datetime(2025, 1, 1))

collect = PythonOperator(task_id='collect', python_callable=collect_data, dag=dag)
validate = PythonOperator(task_id='validate', python_callable=validate_data, dag=dag)
transform = PythonOperator(task_id='transform', python_callable=transform_data, dag=dag)

collect >> validate >> transform
'''
OLD_IMPORT = "from airflow.operators.python import PythonOperator"
NEW_IMPORT = "from airflow.providers.standard.operators.python import PythonOperator"


@dataclass(frozen=True)
class AirflowHome:
    """Airflow's home in a lesson workspace, and the environment its commands run with."""

    root: Path
    store_home: Path  # $MLKIT_HOME: the course store the DAG's tasks use
    workdir: Path  # the pipeline's working folder (label feed, alerts, quarantine)
    model: str = BIKE_MODEL  # the registered model the DAG retrains

    @property
    def dags(self) -> Path:
        return self.root / "dags"

    @property
    def db(self) -> Path:
        return self.root / "airflow.db"

    @property
    def landing(self) -> Path:
        return self.workdir / "landing"

    def env(self) -> dict[str, str]:
        """Airflow's settings as environment variables: this home, sqlite, no examples, no telemetry, quiet."""
        return {"AIRFLOW_HOME": str(self.root), "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db}",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False", "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
                "SCARF_ANALYTICS": "false", "DO_NOT_TRACK": "1",
                "MLKIT_HOME": str(self.store_home), "MLKIT_RETRAIN_WORKDIR": str(self.workdir),
                "MLKIT_RETRAIN_MODEL": self.model}


def prepare(root: str | os.PathLike, store_home: str | os.PathLike, workdir: str | os.PathLike,
            *, model: str = BIKE_MODEL, fresh: bool = True) -> AirflowHome:
    """Airflow's home under ``root`` with the weekly DAG in its ``dags/`` folder, retraining ``model``
    (``fresh``: a new database)."""
    home = AirflowHome(Path(root), Path(store_home), Path(workdir), model)
    if fresh:
        home.db.unlink(missing_ok=True)
    home.dags.mkdir(parents=True, exist_ok=True)
    home.landing.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DAG_FILE, home.dags / DAG_FILE.name)
    return home


def _job(home: AirflowHome, args: list[str], name: str, timeout: float, result: Path | None = None) -> Any:
    from mlkit.course.processes import Job

    logs = home.root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return Job([sys.executable, *args], name=name, timeout=timeout, result_file=result, env=home.env(),
               log_file=logs / f"{name.replace(' ', '-')}.log", cwd=home.root)


def deliver_labels(stream: pd.DataFrame, weeks: list[int], home: AirflowHome, window_weeks: int = 8) -> list[Path]:
    """The label feed: for each week, the rows labelled by its start (the last ``window_weeks`` weeks)
    land as ``labels-YYYY-MM-DD.parquet``, the file the DAG's sensor waits for."""
    from mlkit.retraining import pipeline, replay

    paths = []
    for week in weeks:
        rows = replay.labelled_at(stream, week, 7, window_weeks)[pipeline.COLUMNS]
        path = home.landing / f"labels-{replay.week_start(stream, week):%Y-%m-%d}.parquet"
        rows.reset_index(drop=True).to_parquet(path, index=False)
        paths.append(path)
    return paths


def logical_dates(stream: pd.DataFrame, weeks: list[int]) -> list[str]:
    """The DAG's logical dates for replay weeks (midnight UTC of each week's first day)."""
    from mlkit.retraining import replay

    return [f"{replay.week_start(stream, w):%Y-%m-%d}T00:00:00+00:00" for w in weeks]


def test(home: AirflowHome, dates: list[str], confs: list[dict[str, Any]] | None = None, timeout: float = 900) -> Any:
    """``dag.test(logical_date=d, run_conf=c)`` for each date (and conf) in order, in one child process,
    once ``airflow db migrate`` has made the database (or found it up to date);
    returns the started Job. :func:`runs_so_far` reads the runs done; ``.result()`` waits for all."""
    out = home.root / "runs.json"
    out.unlink(missing_ok=True)
    confs = confs or [{} for _ in dates]
    if len(confs) != len(dates):
        raise ValueError(f"Give one conf per date: {len(dates)} dates, {len(confs)} confs.")
    args = ["-m", "mlkit.retraining.orchestration", "test", "--out", str(out), "--confs", json.dumps(confs), *dates]
    return _job(home, args, "airflow dag test", timeout, out).start()


def runs_so_far(job: Any, n: int, timeout: float = 600) -> dict[str, Any]:
    """Wait until ``job`` (from :func:`test`) has finished ``n`` runs (a progress bar while it waits);
    what it has written by then."""
    import time

    from tqdm.auto import tqdm

    from mlkit.course.errors import ProcessError

    deadline, bar = time.monotonic() + timeout, None
    try:
        while time.monotonic() < deadline:
            done = json.loads(job.result_file.read_text())["runs"] if job.result_file.exists() else []
            if bar is not None:
                bar.update(min(len(done), n) - bar.n)
            if len(done) >= n:
                return {"dag_id": DAG_ID, "runs": done[:n]}
            if job.done:
                return job.result()
            if bar is None:
                bar = tqdm(total=n, initial=len(done), desc=f"{DAG_ID} runs", unit="run")
            time.sleep(0.5)
    finally:
        if bar is not None:
            bar.close()
    raise ProcessError(f"{job.name}: fewer than {n} runs after {timeout:.0f} s; its log {job.log_file}")


def inspect(home: AirflowHome, sources: dict[str, str], timeout: float = 180) -> Any:
    """Load DAG files (``{name: source}``) as Airflow would, in one child process; returns the started
    Job, whose ``.result()`` is ``{name: what Airflow found}`` (see :func:`_inspect_one`)."""
    folder = home.root / "inspect"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, source in sources.items():
        paths.append(folder / f"{name}.py")
        paths[-1].write_text(source)
    out = folder / "inspect.json"
    args = ["-m", "mlkit.retraining.orchestration", "inspect", "--out", str(out), *map(str, paths)]
    return _job(home, args, "airflow inspect", timeout, out).start()


def runs_table(result: dict[str, Any]) -> pd.DataFrame:
    """One row per DAG run: logical date, run id, state, and each task's state (with its tries)."""
    import pandas as pd

    rows = []
    for run in result["runs"]:
        row = {"logical_date": run["logical_date"][:10], "run_id": run["run_id"], "state": run["state"],
               "seconds": run["seconds"]}
        for t in run["tasks"]:
            row[t["task_id"]] = t["state"] + (f" (try {t['try_number']})" if t["try_number"] > 1 else "")
        rows.append(row)
    return pd.DataFrame(rows)


def retries(result: dict[str, Any]) -> int:
    """How many times a task was retried over all the runs (tries beyond the first)."""
    return sum(max(0, t["try_number"] - 1) for run in result["runs"] for t in run["tasks"])


# ------------------------------------------------------------------ the child process
def _test_main(args: argparse.Namespace) -> int:
    import importlib.util
    import subprocess
    import time

    # `airflow db migrate` in a process of its own, while this one imports Airflow and the DAG
    migrating = subprocess.Popen([sys.executable, "-m", "airflow", "db", "migrate"])
    spec = importlib.util.spec_from_file_location(DAG_ID, Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / DAG_FILE.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = next(v for v in vars(module).values() if getattr(v, "dag_id", None) == DAG_ID)
    if migrating.wait() != 0:
        raise SystemExit(f"airflow db migrate failed (exit {migrating.returncode}): see the lines above")
    runs: list[dict[str, Any]] = []
    for date, conf in zip(args.dates, json.loads(args.confs)):
        t0 = time.perf_counter()
        dr = dag.test(logical_date=datetime.fromisoformat(date), run_conf=conf)
        tasks = sorted(({"task_id": ti.task_id, "state": str(ti.state), "try_number": int(ti.try_number or 0)}
                        for ti in dr.get_task_instances()), key=lambda t: list(dag.task_dict).index(t["task_id"]))
        runs.append({"run_id": dr.run_id, "logical_date": dr.logical_date.isoformat(), "state": str(dr.state),
                     "seconds": round(time.perf_counter() - t0, 1), "conf": conf, "tasks": tasks})
        partial = Path(args.out).with_suffix(".tmp")
        partial.write_text(json.dumps({"dag_id": DAG_ID, "runs": runs}, indent=1))
        os.replace(partial, args.out)  # after each run: the notebook may show the first while the rest run
    return 0


def _describe_schedule(dag: Any) -> str | None:
    timetable = getattr(dag, "timetable", None)
    summary = getattr(timetable, "summary", None)
    return None if dag.schedule is None else str(summary or dag.schedule)


def _inspect_one(path: Path) -> dict[str, Any]:
    import importlib.util
    import warnings

    out: dict[str, Any] = {"file": path.name}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except ImportError as exc:
            out["import_error"] = f"{type(exc).__name__}: {exc}"
    out["warnings"] = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught
                              if str(path) in str(w.filename)})
    if "import_error" in out:
        return out
    dag = next(v for v in vars(module).values() if hasattr(v, "dag_id") and hasattr(v, "task_dict"))
    start = dag.start_date
    out.update({"dag_id": dag.dag_id, "schedule": _describe_schedule(dag), "catchup": bool(dag.catchup),
                "start_date": start.isoformat(), "tasks": list(dag.task_dict),
                "retries": {t: int(task.retries or 0) for t, task in dag.task_dict.items()},
                "daily_runs_since_start": (datetime.now(UTC) - start).days})  # whole days since the start
    return out


def _inspect_main(args: argparse.Namespace) -> int:
    Path(args.out).write_text(json.dumps({Path(p).stem: _inspect_one(Path(p)) for p in args.paths}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """The child's command line: ``test DATE...`` or ``inspect FILE``."""
    p = argparse.ArgumentParser(prog="python -m mlkit.retraining.orchestration")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("test", help="dag.test() the weekly DAG for each logical date, in order")
    t.add_argument("dates", nargs="+")
    t.add_argument("--out", required=True)
    t.add_argument("--confs", default="[]", help="a JSON list, one run conf per date")
    t.set_defaults(run=_test_main)
    i = sub.add_parser("inspect", help="load a DAG file and describe it")
    i.add_argument("paths", nargs="+")
    i.add_argument("--out", required=True)
    i.set_defaults(run=_inspect_main)
    args = p.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
