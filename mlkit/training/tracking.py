"""Plumbing around MLflow for lesson 02 (the lesson itself shows the real ``mlflow`` calls).

* :func:`experiment`: create or reuse an experiment in the course store, its artifacts in
  ``$MLKIT_HOME/store/mlartifacts/<experiment>`` (its public ``artifact_location``;
  MLflow's default, ``./mlruns`` next to the notebook, would write into the repo).
* :func:`start_ui`: the MLflow UI on 127.0.0.1 against the course store's sqlite database,
  started with :class:`mlkit.course.processes.BackgroundServer`; ``stop()`` it at the end.
* :func:`code_version`: the git commit of the course code, else the package version.
* :func:`log_spam_model`, :func:`register_spam_model`, :func:`load_spam_model`: the spam
  model as MLflow stores it (no pickle) and as lessons 03-06 load it;
  :func:`train_spam_run`: one tracked training run (what ``ws.require`` builds with).
* :func:`curves_figure`, :func:`confusion_figure`: the plots logged as artifacts.

mlflow and matplotlib are imported inside the functions.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.course.errors import MlkitError
from mlkit.training.plots import confusion_figure, curves_figure  # noqa: F401 - logged as artifacts

if TYPE_CHECKING:
    from mlkit.course.processes import BackgroundServer
    from mlkit.course.workspace import Workspace
    from mlkit.training.models import SpamPipeline, Split

SPAM_MODEL = "spam-classifier"  # the registered name of lesson 02's spam model, evaluated/served/watched later


def experiment(ws: Workspace, name: str | None = None) -> str:
    """Make ``name`` (default: the lesson id) the active MLflow experiment of the course store,
    with its artifacts in ``$MLKIT_HOME/store/mlartifacts/<name>``. Safe to call again (and
    from two lessons at once); returns its id. Every lesson that uses MLflow calls it first."""
    return ws.store.experiment(name or ws.lesson)


def ui_command(ws: Workspace) -> list[str]:
    """The argv of ``mlflow server`` for the lesson's database ({port} filled in by the server)."""
    import sys

    return [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", ws.tracking_uri,
        "--default-artifact-root", ws.store.artifacts_root.as_uri(),
        "--host", "127.0.0.1", "--port", "{port}", "--workers", "1",
    ]


def start_ui(ws: Workspace, port: int | None = None, timeout: float = 120.0, wait: bool = True) -> BackgroundServer:
    """Start the MLflow UI on 127.0.0.1 (a free port) and print its address.

    With ``wait=False`` it starts in the background (its start-up takes seconds) and
    :func:`wait_ui` waits for it later. Returns the :class:`~mlkit.course.processes.BackgroundServer`:
    call ``.stop()`` when done (the lesson's last cell does; it also stops at kernel exit).
    Start it after :func:`experiment`, which creates the database tables."""
    from mlkit.course.processes import BackgroundServer

    server = BackgroundServer(
        ui_command(ws), name="MLflow UI", port=port, health_path="/health", startup_timeout=timeout,
        log_file=ws.root / "mlflow-ui.log",
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    server.start(wait=wait)
    if wait:
        print(f"MLflow UI: {server.url}  (stop it with .stop())")
    return server


def wait_ui(server: BackgroundServer, timeout: float = 300.0) -> BackgroundServer:
    """Wait (up to ``timeout`` seconds from now) until a UI started with ``start_ui(ws, wait=False)``
    answers; print its address. Raises with its log if it exits or never answers."""
    server.wait_ready(timeout)
    print(f"MLflow UI: {server.url}  (stop it with .stop())")
    return server


def code_version(repo: str | os.PathLike | None = None) -> str:
    """The version of the course code: the git commit of the course folder (``+dirty`` when
    tracked files changed), else (no git checkout, e.g. after ``pip install .``) the package
    version, e.g. ``mlkit 0.1.0``. Logged beside the data version on every run (lesson 02)."""
    from mlkit.course.config import VERSION

    try:
        if repo is None:
            from mlkit.course.config import course_root

            repo = course_root()

        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()

        if Path(git("rev-parse", "--show-toplevel")).resolve() != Path(repo).resolve():
            raise ValueError("inside another repository")
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        return commit + ("+dirty" if dirty else "")
    except (OSError, ValueError, subprocess.SubprocessError, MlkitError):
        return f"mlkit {VERSION}"


def log_spam_model(pipeline: SpamPipeline, example: Any, name: str = "model") -> Any:
    """Log the spam pipeline as the run's MLflow model (lesson 02); return MLflow's ModelInfo.

    The model is logged with ``mlflow.pytorch`` (features in, two logits out, with a
    signature and an input example), and the pipeline's files ride along as
    ``extra_files``: the vectoriser as JSON and the MLP's ``state_dict``, so
    :func:`load_spam_model` rebuilds the texts-in pipeline without pickle.
    """
    import tempfile

    import mlflow
    import torch
    from mlflow.models import infer_signature

    model = pipeline.model.cpu().eval()
    example = example.numpy() if hasattr(example, "numpy") else example
    with torch.no_grad():
        output = model(torch.as_tensor(example)).numpy()
    from mlkit.course.quiet import quiet

    with tempfile.TemporaryDirectory() as tmp, quiet():  # no progress bars while it saves the example
        files = [str(p) for p in pipeline.save(tmp)]
        return mlflow.pytorch.log_model(
            model, name=name, input_example=example, signature=infer_signature(example, output),
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"], extra_files=files)


def load_spam_model(uri: str) -> SpamPipeline:
    """The spam pipeline behind an MLflow model URI (``models:/spam-classifier@champion``,
    ``runs:/...``): texts in, P(spam) out (lessons 03-06). No pickle is loaded."""
    import tempfile

    import mlflow

    from mlkit.course.quiet import quiet
    from mlkit.training.models import SpamPipeline

    with tempfile.TemporaryDirectory() as tmp, quiet():
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        except mlflow.exceptions.MlflowException as exc:
            raise MlkitError(f"Cannot load the model {uri}: {exc.message.splitlines()[0]} "
                             "Run lesson 02, or ws.require('model@champion').") from None
        found = sorted(local.rglob(SpamPipeline.FILES[0]))
        if not found:
            raise MlkitError(f"{uri} is not a spam pipeline logged by tracking.log_spam_model "
                             f"(no {SpamPipeline.FILES[0]} among its files).")
        return SpamPipeline.load(found[0].parent)


def register_spam_model(model_uri: str, alias: str, versions: dict[str, str], name: str = SPAM_MODEL) -> Any:
    """Register a logged model as a new version of ``name``, point ``alias`` at it and tag it
    with its lineage (``data_version``, ``code_version``); return the ModelVersion (lesson 02)."""
    import mlflow

    version = mlflow.register_model(model_uri, name)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(name, alias, version.version)
    for key, value in versions.items():
        client.set_model_version_tag(name, version.version, key, value)
    return version


def train_spam_run(spam: Split, fit_data: Any, val_data: Any, *, lr: float, hidden: int, epochs: int,
                   seed: int = 0, device: str = "cpu") -> str:
    """Train the spam MLP inside the active MLflow run and log it as lesson 02 does: params,
    metrics per epoch, ``val_f1`` and ``test_f1``, the model (:func:`log_spam_model`), its URI
    as the tag ``model_uri``. Returns the run id. Used by ``ws.require("model@champion")``."""
    import mlflow
    import torch
    from sklearn.metrics import f1_score

    from mlkit.training import loop, models

    run = mlflow.active_run()
    if run is None:
        raise MlkitError("train_spam_run logs into an active run: call it inside `with mlflow.start_run():`.")
    mlflow.log_params({"lr": lr, "hidden": hidden, "epochs": epochs, "seed": seed, "model": "SpamMLP"})
    torch.manual_seed(seed)
    model = models.SpamMLP(spam.n_features, hidden=hidden)

    def per_epoch(record: dict[str, float]) -> None:
        mlflow.log_metrics({k: v for k, v in record.items() if k != "epoch"}, step=int(record["epoch"]))

    trainer = loop.Trainer(model, device=device, lr=lr, epochs=epochs, seed=seed, progress=False,
                           callbacks=[per_epoch])
    trainer.fit(fit_data, val_data)
    model = model.cpu().eval()
    with torch.no_grad():
        val_pred = model(val_data[0]).argmax(1).numpy()
        test_pred = model(spam.X_test).argmax(1).numpy()
    mlflow.log_metrics({"val_f1": f1_score(val_data[1], val_pred), "test_f1": f1_score(spam.y_test, test_pred)})
    info = log_spam_model(models.SpamPipeline(spam.extra["vectorizer"], model), spam.X_test[:5])
    mlflow.set_tag("model_uri", info.model_uri)
    return run.info.run_id
