"""What exercise checks share: the SMS data, a temporary MLflow store, a scratch folder, a server.

Every lesson's checks (``mlkit/exercises/lessonNN.py``) use these instead of their own
copies, so that "the SMS data", "a duplicate" and "the split" mean the same in every
exercise as in the lessons (:mod:`mlkit.data.prep`), and so that a check never leaves
anything behind in the learner's session: no environment variable, no MLflow setting,
no folder, no process.

- :func:`sms`, :func:`sms_deduped`, :func:`sms_split`: the shipped SMS Spam Collection,
  loaded once per kernel (lessons 00-02). Treat them as read-only; hand learner code a
  ``.copy()``.
- :func:`temp_mlflow`: a fresh MLflow store in a temporary folder (lesson 02).
- :func:`scratch`: a temporary folder, removed afterwards (lesson 01's DVC repositories).
- :func:`server`: a server started with :class:`~mlkit.course.processes.BackgroundServer`
  in a scratch folder, always stopped (lessons 04-05).
- :func:`by_case`: remember what a check built for one case (a JSON-able dict), so that its
  ask and its judge, and every question of a kernel, build each input once.

Heavy libraries are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlkit.course.processes import BackgroundServer


# --- the SMS data (read-only, loaded once per kernel) -----------------------------------------
@lru_cache(maxsize=1)
def sms() -> pd.DataFrame:
    """The shipped SMS Spam Collection as it comes (columns text, label), copies included."""
    from mlkit.course import datasets

    return datasets.load_sms_spam()


@lru_cache(maxsize=1)
def sms_deduped() -> pd.DataFrame:
    """The SMS data with the course's one definition of a copy removed (:func:`mlkit.data.prep.dedupe`)."""
    from mlkit.data import prep

    return prep.dedupe(sms())[0]


@lru_cache(maxsize=4)
def sms_split(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): the course's one split of the SMS data (:func:`mlkit.data.prep.split`:
    deduplicated, stratified, 75/25)."""
    from mlkit.data import prep

    train, test = prep.split(sms(), test_size=0.25, seed=seed)
    return train, test


# --- inputs built once per case -------------------------------------------------------------------
def by_case(build: Callable[[dict], Any]) -> Callable[[dict], Any]:
    """Decorate ``build(case)`` so that each case (a JSON-able dict) is built once per process;
    a case that went through JSON (lists for tuples) counts as the same case. Treat what it
    returns as read-only."""
    cached = lru_cache(maxsize=16)(lambda key: build(json.loads(key)))

    @functools.wraps(build)
    def wrapper(case: dict) -> Any:
        return cached(json.dumps(case, sort_keys=True))

    return wrapper


# --- a scratch folder ------------------------------------------------------------------------------
@contextmanager
def scratch(prefix: str = "mlkit-ex-") -> Iterator[Path]:
    """A new temporary folder, deleted at the end of the ``with`` block (also on errors)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- a temporary MLflow store --------------------------------------------------------------------------
_TRACKING, _REGISTRY, _EXPERIMENT = "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID"
_EXPERIMENT_NAME = "MLFLOW_EXPERIMENT_NAME"


class TempMlflow:
    """A fresh MLflow tracking and registry store (sqlite) in a temporary folder.

    Use it through :func:`temp_mlflow`. Inside the block MLflow's fluent API
    (``mlflow.start_run``, ``mlflow.register_model``, ``MlflowClient()``) talks to this store,
    and the active experiment is one whose artifacts also stay in the folder. On exit:
    runs still active are ended, MLflow's tracking URI, registry URI and active experiment
    are put back, MLflow's log level (quiet inside) too, every environment variable is exactly as before (MLflow mirrors its
    settings into ``MLFLOW_*`` variables; a check may set others), and the folder is removed.

    The store is switched through the environment (``MLFLOW_TRACKING_URI``,
    ``MLFLOW_EXPERIMENT_ID``), so restoring the environment restores MLflow; where the
    learner's code set a URI (which MLflow then prefers to the environment), the setter is
    called for the check and again with the learner's value afterwards. Where the learner made
    an experiment active (``mlflow.set_experiment`` also sets ``MLFLOW_EXPERIMENT_ID``, which
    is how it is seen, through MLflow's public API only), the check's experiment is made
    active with ``mlflow.set_experiment`` while this store is current, and the learner's again
    afterwards; otherwise the learner's store is never opened.
    """

    def __init__(self, tag: str = "check") -> None:
        self.tag = tag
        self.folder: Path | None = None
        self.experiment_id: str | None = None

    @property
    def uri(self) -> str:
        """The store's tracking and registry URI."""
        return f"sqlite:///{self.folder}/mlflow.db"

    def __enter__(self) -> TempMlflow:
        import mlflow

        while mlflow.active_run():  # a run the learner left open would block start_run()
            mlflow.end_run()
        self._environ = dict(os.environ)
        self._log_level = logging.getLogger("mlflow").level  # quiet: no "Creating initial MLflow database tables"
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        self._set_tracking = self._set_registry = None  # the values to set back, if a setter was needed
        self._experiment = os.environ.get(_EXPERIMENT)  # the learner's active experiment, if any
        self.folder = Path(tempfile.mkdtemp(prefix=f"mlkit-mlflow-{self.tag}-"))
        try:
            shutil.copyfile(_empty_store(), self.folder / "mlflow.db")  # tables made once, not per check
            before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
            os.environ[_TRACKING] = self.uri
            os.environ.pop(_REGISTRY, None)  # the registry follows the tracking URI
            os.environ.pop(_EXPERIMENT_NAME, None)  # MLflow would prefer it to the experiment id
            if mlflow.get_tracking_uri() != self.uri:  # the learner set it in code: set it in code
                self._set_tracking = before[0]
                mlflow.set_tracking_uri(self.uri)
            if mlflow.get_registry_uri() != self.uri:
                self._set_registry = before[1]
                mlflow.set_registry_uri(self.uri)
            self.experiment(self.tag)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def experiment(self, name: str) -> str:
        """Create an experiment in this store (artifacts in the temporary folder), make it
        the active one, and return its id."""
        import mlflow

        artifacts = (self.folder / "artifacts" / name).as_uri()
        exp_id = mlflow.MlflowClient(self.uri).create_experiment(name, artifact_location=artifacts)
        os.environ[_EXPERIMENT] = exp_id
        if self._experiment is not None:  # MLflow prefers one set in code to the environment: set ours so
            mlflow.set_experiment(experiment_id=exp_id)  # (looked up in this store: the tracking URI is ours)
        self.experiment_id = exp_id
        return exp_id

    def __exit__(self, *exc: Any) -> None:
        import mlflow

        try:
            while mlflow.active_run():
                mlflow.end_run("FAILED")
        finally:
            try:
                if self._set_tracking is not None:
                    mlflow.set_tracking_uri(self._set_tracking)
                if self._set_registry is not None:
                    mlflow.set_registry_uri(self._set_registry)
                _restore_environ(self._environ)
                if self._experiment is not None:  # the learner's experiment, active again, in their store
                    try:
                        mlflow.set_experiment(experiment_id=self._experiment)
                    except mlflow.exceptions.MlflowException:
                        pass
            finally:
                logging.getLogger("mlflow").setLevel(self._log_level)
                shutil.rmtree(self.folder, ignore_errors=True)


def _empty_store() -> Path:
    """An MLflow sqlite store with its tables made and nothing in it, built once per MLflow
    version in the temporary folder (MLflow's migrations take seconds; a copy, milliseconds)."""
    from importlib.metadata import version

    import mlflow

    path = Path(tempfile.gettempdir()) / f"mlkit-mlflow-empty-{version('mlflow')}.db"
    if not path.exists():
        with scratch("mlkit-mlflow-empty-") as folder:
            db = folder / "mlflow.db"
            client = mlflow.MlflowClient(f"sqlite:///{db}", registry_uri=f"sqlite:///{db}")  # both: never the default
            client.search_experiments()  # creates every table
            client.search_registered_models()
            os.replace(shutil.copyfile(db, folder / "done.db"), path)  # atomic: never half a file
    return path


def _restore_environ(saved: dict[str, str]) -> None:
    """Make os.environ exactly ``saved``: variables added since are removed, changed ones reset."""
    for key in [k for k in os.environ if k not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def temp_mlflow(tag: str = "check") -> TempMlflow:
    """``with temp_mlflow("q1") as store:`` a fresh MLflow store for one check (lesson 02).

    ``store.experiment_id`` is the active experiment (named ``tag``); ``store.experiment(name)``
    makes another; ``store.uri`` is the store. Everything is restored afterwards (see
    :class:`TempMlflow`).
    """
    return TempMlflow(tag)


# --- a server sandbox ----------------------------------------------------------------------------------
@contextmanager
def server(*args: str, name: str = "server", health_path: str = "/", **kwargs: Any) -> Iterator[BackgroundServer]:
    """``with server("-m", "uvicorn", "app:app", "--port", "{port}") as srv:`` a server run by
    this Python in a scratch folder (its working directory), started with
    :class:`~mlkit.course.processes.BackgroundServer` and always stopped, its folder removed.

    ``srv.url`` is its address; other keyword arguments go to BackgroundServer.
    """
    from mlkit.course.processes import BackgroundServer

    with scratch(prefix="mlkit-server-") as folder:
        kwargs.setdefault("cwd", folder)
        srv = BackgroundServer.python(*args, name=name, health_path=health_path, **kwargs)
        try:
            yield srv.start()
        finally:
            srv.stop()
