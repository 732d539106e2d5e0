"""The explicit set-up call that opens every lesson: workspace, tracking, seeds, device."""

from __future__ import annotations

import os
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from mlkit.course.device import pick_device
from mlkit.course.errors import MlkitError

HOME_ENV = "MLKIT_HOME"
FAST_ENV = "MLKIT_FAST"

# Telemetry and analytics off for every tool the lessons use (and the processes they start).
_QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


@dataclass(frozen=True)
class Workspace:
    """Where one lesson keeps its files, and how it was set up."""

    lesson: str
    root: Path
    seed: int
    device: str
    fast: bool

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def artifacts_dir(self) -> Path:
        return self.root / "artifacts"

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking and registry store: a sqlite database in the workspace."""
        return f"sqlite:///{self.root / 'mlflow.db'}"

    def path(self, *parts: str) -> Path:
        """A path inside the workspace; its parent folder is created."""
        p = self.root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


def default_home() -> Path:
    """The folder that holds every lesson's workspace: $MLKIT_HOME or ~/mlkit-workspace."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / "mlkit-workspace").expanduser()


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (and make torch's CPU kernels deterministic)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def setup(
    lesson: str,
    *,
    seed: int = 0,
    device: str | None = None,
    fast: bool = False,
    home: str | os.PathLike | None = None,
) -> Workspace:
    """Set a lesson up; call it in the first code cell. Safe to run again.

    Makes the lesson's workspace folder (under $MLKIT_HOME, default ~/mlkit-workspace),
    points MLflow tracking and registry at a sqlite database in it, turns telemetry off,
    seeds python, numpy and torch, and picks the device (cuda, then mps, then cpu).

    Args:
        lesson: the lesson's id, e.g. "01_data" (letters, digits, "_" and "-").
        seed: the one seed for the lesson.
        device: "auto", "cuda", "mps" or "cpu"; None reads $MLKIT_DEVICE, else auto.
        fast: a small, quick run (used by tests); $MLKIT_FAST=1 also turns it on.
        home: the folder of all workspaces; overrides $MLKIT_HOME.

    Returns:
        The Workspace with its paths, seed, device and fast flag.
    """
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", lesson or ""):
        raise MlkitError(f"Lesson id {lesson!r} must be letters, digits, '_' or '-', e.g. '01_data'.")
    root = (Path(home).expanduser() if home else default_home()) / lesson
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MlkitError(
            f"Cannot create the workspace folder {root} ({exc.strerror}). "
            f"Set {HOME_ENV} to a folder you can write to."
        ) from None

    os.environ.update(_QUIET_ENV)
    ws = Workspace(
        lesson=lesson,
        root=root,
        seed=int(seed),
        device=pick_device(device),
        fast=bool(fast) or os.environ.get(FAST_ENV, "") in {"1", "true", "yes"},
    )
    os.environ["MLFLOW_TRACKING_URI"] = ws.tracking_uri
    os.environ["MLFLOW_REGISTRY_URI"] = ws.tracking_uri
    # With a sqlite store, MLflow puts the artifacts of every new experiment under ./mlruns
    # of the current folder (the repository!). This variable is the default artifact root
    # its sqlite store reads (mlflow 3.x, tracking/_tracking_service/utils.py); `mlflow server`
    # exports the same one. It keeps `mlflow.set_experiment("any")` inside the workspace.
    os.environ["_MLFLOW_SERVER_ARTIFACT_ROOT"] = ws.artifacts_dir.as_uri()
    if "mlflow" in sys.modules:  # already imported: tell it directly too
        import mlflow

        mlflow.set_tracking_uri(ws.tracking_uri)
        mlflow.set_registry_uri(ws.tracking_uri)
    seed_everything(ws.seed)
    return ws
