"""Plumbing around MLflow for lesson 02 (the lesson itself shows the real ``mlflow`` calls).

* :func:`experiment`: create or reuse an experiment whose artifacts live in the lesson's
  workspace (MLflow's default, ``./mlruns`` next to the notebook, would write into the repo).
* :func:`start_ui`: the MLflow UI on 127.0.0.1 against the lesson's sqlite database, started
  with :class:`mlkit.course.processes.BackgroundServer`; ``stop()`` it at the end.
* :func:`code_version`: the git commit of the course code (tag it on every run).
* :func:`curves_figure`, :func:`confusion_figure`: the plots logged as artifacts.

mlflow and matplotlib are imported inside the functions.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlkit.course.processes import BackgroundServer
    from mlkit.course.workspace import Workspace

_REPO = Path(__file__).resolve().parents[2]


def experiment(ws: Workspace, name: str | None = None) -> str:
    """Make ``name`` (default: the lesson id) the active MLflow experiment, with its
    artifacts under ``ws.root / "mlartifacts"``. Safe to call again; returns its id."""
    import mlflow

    name = name or ws.lesson
    mlflow.set_tracking_uri(ws.tracking_uri)
    mlflow.set_registry_uri(ws.tracking_uri)
    found = mlflow.get_experiment_by_name(name)
    if found is None:
        location = (ws.root / "mlartifacts" / name).as_uri()
        exp_id = mlflow.create_experiment(name, artifact_location=location)
    else:
        exp_id = found.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def ui_command(ws: Workspace) -> list[str]:
    """The argv of ``mlflow server`` for the lesson's database ({port} filled in by the server)."""
    import sys

    return [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", ws.tracking_uri,
        "--default-artifact-root", (ws.root / "mlartifacts").as_uri(),
        "--host", "127.0.0.1", "--port", "{port}", "--workers", "1",
    ]


def start_ui(ws: Workspace, port: int | None = None, timeout: float = 90.0, wait: bool = True) -> BackgroundServer:
    """Start the MLflow UI on 127.0.0.1 (a free port) and print its address.

    With ``wait=False`` it starts in the background (its start-up takes seconds) and
    :func:`wait_ui` waits for it later. Returns the :class:`~mlkit.course.processes.BackgroundServer`:
    call ``.stop()`` when done (the lesson's last cell does; it also stops at kernel exit).
    Start it after :func:`experiment`, which creates the database tables."""
    import threading

    from mlkit.course.processes import BackgroundServer

    server = BackgroundServer(
        ui_command(ws), name="MLflow UI", port=port, health_path="/health", startup_timeout=timeout,
        log_file=ws.root / "mlflow-ui.log",
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    if wait:
        server.start()
        print(f"MLflow UI: {server.url}  (stop it with .stop())")
        return server
    errors: list[BaseException] = []

    def start() -> None:
        try:
            server.start()
        except BaseException as exc:  # re-raised by wait_ui in the notebook's thread
            errors.append(exc)

    server.starting = threading.Thread(target=start, name="mlflow-ui-start", daemon=True)
    server.start_errors = errors
    server.starting.start()
    return server


def wait_ui(server: BackgroundServer, timeout: float = 120.0) -> BackgroundServer:
    """Wait until a UI started with ``start_ui(ws, wait=False)`` answers; print its address."""
    from mlkit.course.errors import MlkitError

    thread = getattr(server, "starting", None)
    if thread is not None:
        thread.join(timeout)
    for exc in getattr(server, "start_errors", []):
        raise exc
    if not server.running:
        raise MlkitError(f"The MLflow UI is not running. Its log:\n{server.log_tail()}")
    print(f"MLflow UI: {server.url}  (stop it with .stop())")
    return server


def code_version(repo: str | os.PathLike = _REPO) -> str:
    """The git commit of the code (``+dirty`` when files changed), or "unknown" outside git."""
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()

        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def curves_figure(records: list[dict[str, float]], title: str = "training curves") -> Any:
    """Loss (and accuracy, when there) per epoch, from ``Trainer.history.records``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    epochs = [r["epoch"] for r in records]
    for key in ("train_loss", "val_loss"):
        if any(key in r for r in records):
            axes[0].plot(epochs, [r.get(key) for r in records], marker="o", label=key)
    axes[0].set(xlabel="epoch", ylabel="loss")
    axes[0].legend()
    if any("val_accuracy" in r for r in records):
        axes[1].plot(epochs, [r.get("val_accuracy") for r in records], marker="o", color="C2")
    axes[1].set(xlabel="epoch", ylabel="validation accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


def confusion_figure(y_true: Any, y_pred: Any, labels: list[str], title: str = "confusion matrix") -> Any:
    """A confusion-matrix figure (counts; rows true, columns predicted)."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(3.6 if len(labels) <= 3 else 5.5,) * 2)
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, display_labels=labels, ax=ax, colorbar=False)
    ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig
