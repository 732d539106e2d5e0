"""The explicit set-up call that opens every lesson: workspace, course store, seeds, device."""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import random
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.course.config import FAST_ENV, HOME_ENV, QUIET_ENV, default_home, flag
from mlkit.course.device import pick_device, requested_device
from mlkit.course.errors import MlkitError

if TYPE_CHECKING:
    from mlkit.course.store import Store

__all__ = ["Workspace", "default_home", "seed_everything", "setup"]


@dataclass(frozen=True)
class Workspace:
    """Where one lesson keeps its files, and how it was set up."""

    lesson: str
    root: Path
    seed: int
    requested_device: str  # "auto", "cuda", "mps" or "cpu", as asked for
    fast: bool

    @cached_property
    def device(self) -> str:
        """The compute device torch will use ("cuda", "mps" or "cpu"), picked on first use:
        "auto" has to ask torch, and a lesson that never trains with torch need not import it."""
        return pick_device(self.requested_device)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def artifacts_dir(self) -> Path:
        return self.root / "artifacts"

    @property
    def store(self) -> Store:
        """The course store all lessons share (``$MLKIT_HOME/store``): data releases and models."""
        from mlkit.course.store import Store

        return Store(self.root.parent)

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking and registry store: the course store's sqlite database, shared by all lessons."""
        return f"sqlite:///{self.root.parent / 'store' / 'mlflow.db'}"

    def path(self, *parts: str) -> Path:
        """A path inside the workspace; its parent folder is created."""
        p = self.root.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def require(self, spec: str) -> Any:
        """What the lesson needs from the course store: ``"data@v1"`` (a
        :class:`mlkit.data.releases.DataRelease`), ``"model@champion"`` or ``"model@challenger"``
        (a :class:`mlkit.training.registry.SpamModelRef`). Built (in seconds, with one line saying
        so) by the code of the lesson that makes it when the store lacks it. Safe to call again."""
        return self.store.require(spec, seed=self.seed)


class _SeedTorchOnImport(importlib.abc.MetaPathFinder):
    """Seeds torch the moment it is first imported (one instance; the latest seed counts).

    torch's import costs about 1.5 s of CPU, which a lesson or a graded exercise that never
    uses torch should not pay in its set-up cell; torch is seeded all the same when it comes.
    """

    seed = 0

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "torch":
            return None
        sys.meta_path.remove(self)  # once is enough; the search below must not find us again
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            execute, seed = spec.loader.exec_module, self.seed

            def exec_module(module: Any) -> None:
                execute(module)
                module.manual_seed(seed)

            spec.loader.exec_module = exec_module  # this spec's own loader object
        return spec


_seed_torch_on_import = _SeedTorchOnImport()


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy and torch (CPU and GPUs): torch now if it is imported,
    else the moment it is.

    It does not make str hashes (set iteration order) reproducible: ``PYTHONHASHSEED`` is
    read once, when Python starts, so setting it here would change nothing in this process.
    """
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    else:
        _seed_torch_on_import.seed = seed
        if _seed_torch_on_import not in sys.meta_path:
            sys.meta_path.insert(0, _seed_torch_on_import)


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
    points MLflow tracking and registry at the course store's sqlite database
    (``$MLKIT_HOME/store/mlflow.db``; use :func:`mlkit.training.tracking.experiment` to
    make an experiment, so its artifacts stay in the store), turns telemetry off, seeds
    python, numpy and torch (torch when it is first imported), and picks the device (cuda, then
    mps, then cpu: "auto" on first use of ``ws.device``, an accelerator asked for by name now).

    Args:
        lesson: the lesson's id, e.g. "01_data" (letters, digits, "_" and "-").
        seed: the one seed for the lesson.
        device: "auto", "cuda", "mps" or "cpu"; None reads $MLKIT_DEVICE, else auto.
        fast: a small, quick run (used by tests); $MLKIT_FAST=1 also turns it on.
        home: the folder of all workspaces and the store; overrides $MLKIT_HOME.

    Returns:
        The Workspace with its paths, seed, device and fast flag.
    """
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", lesson or "") or lesson == "store":
        raise MlkitError(f"Lesson id {lesson!r} must be letters, digits, '_' or '-' (and not 'store'), "
                         "e.g. '01_data'.")
    root = (Path(home).expanduser() if home else default_home()) / lesson
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MlkitError(
            f"Cannot create the workspace folder {root} ({exc.strerror}). "
            f"Set {HOME_ENV} to a folder you can write to."
        ) from None

    os.environ.update(QUIET_ENV)
    ws = Workspace(
        lesson=lesson,
        root=root,
        seed=int(seed),
        requested_device=requested_device(device),
        fast=bool(fast) or flag(FAST_ENV),
    )
    (root.parent / "store").mkdir(exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = ws.tracking_uri
    os.environ["MLFLOW_REGISTRY_URI"] = ws.tracking_uri
    if "mlflow" in sys.modules:  # already imported: tell it directly too
        import mlflow

        mlflow.set_tracking_uri(ws.tracking_uri)
        mlflow.set_registry_uri(ws.tracking_uri)
    if ws.requested_device.split(":", 1)[0] in ("cuda", "mps"):
        ws.device  # noqa: B018  an accelerator asked for by name is checked now, with a clear error
    seed_everything(ws.seed)
    return ws
