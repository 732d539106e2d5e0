"""The course's settings in one place: environment variable names and the course root.

Every other module reads these names from here, so that a variable is spelled once.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlkit.course.errors import MlkitError

VERSION = "0.1.0"  # the package version (pyproject.toml reads it from here)

HOME_ENV = "MLKIT_HOME"  # folder of the course store and every lesson's workspace
FAST_ENV = "MLKIT_FAST"  # "1": lessons run their small, quick version
STRICT_ENV = "MLKIT_STRICT"  # "1" (batch runs): exercise checks raise instead of only printing
DEVICE_ENV = "MLKIT_DEVICE"  # "auto", "cuda", "mps" or "cpu"
THREADS_ENV = "MLKIT_THREADS"  # torch threads; default: cores - 1
ROOT_ENV = "MLKIT_COURSE_ROOT"  # the course folder (notebooks/, solutions/) after a plain pip install

# Telemetry and analytics off for every tool the lessons use (and the processes they start).
QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

_TRUE = {"1", "true", "yes", "on"}


def flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to 1, true, yes or on."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def default_home() -> Path:
    """The folder that holds the course store and every workspace: $MLKIT_HOME or ~/mlkit-workspace."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / "mlkit-workspace").expanduser()


def _is_course_root(path: Path) -> bool:
    return (path / "notebooks").is_dir() and (path / "solutions").is_dir()


def course_root() -> Path:
    """The course folder, with ``notebooks/`` and ``solutions/``.

    Looked for, in order: $MLKIT_COURSE_ROOT; the folder above the installed package (a
    clone with an editable install); the current folder and its parents (a plain
    ``pip install .`` run from inside the clone).
    """
    env = os.environ.get(ROOT_ENV)
    if env:
        root = Path(env).expanduser().resolve()
        if not _is_course_root(root):
            raise MlkitError(f"{ROOT_ENV}={env} has no notebooks/ and solutions/ folders: "
                             "point it at your copy of the course.")
        return root
    here = Path.cwd().resolve()
    for candidate in (Path(__file__).resolve().parents[2], here, *here.parents):
        if _is_course_root(candidate):
            return candidate
    raise MlkitError("Cannot find the course folder (with notebooks/ and solutions/). Run from inside "
                     f"your copy of the course, or set {ROOT_ENV} to it.")
