"""The course's settings in one place: environment variables, read with pydantic-settings, and the course root.

:func:`settings` reads the ``MLKIT_*`` variables into a typed model (``home``, ``fast``,
``strict``, ``grading``, ``device``, ``threads``, ``course_root``): a flag takes 1/0, true/false, yes/no or
on/off, and a value that is none of these is a clear error naming the variable. Every other
module reads the settings, and the variables' names, from here, so that a variable is spelled
once. pydantic-settings is imported on the first call (``import mlkit`` stays cheap).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from mlkit.course.errors import MlkitError

VERSION = "0.1.0"  # the package version (pyproject.toml reads it from here)

PREFIX = "MLKIT_"
HOME_ENV = "MLKIT_HOME"  # folder of the course store and every lesson's workspace
FAST_ENV = "MLKIT_FAST"  # "1": lessons run their small, quick version
STRICT_ENV = "MLKIT_STRICT"  # "1" (batch runs): exercise checks raise instead of only printing
DEVICE_ENV = "MLKIT_DEVICE"  # "auto", "cuda", "mps" or "cpu"
THREADS_ENV = "MLKIT_THREADS"  # torch threads; default: cores - 1
ROOT_ENV = "MLKIT_COURSE_ROOT"  # the course folder (notebooks/, solutions/) after a plain pip install
GRADING_ENV = "MLKIT_GRADING"  # "1" inside the grader's sandbox: no solutions, no instant checks

# Telemetry and analytics off for every tool the lessons use (and the processes they start).
QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}



@functools.cache
def _model() -> type:
    from pydantic import Field, field_validator
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Settings(BaseSettings):
        """The ``MLKIT_*`` environment variables (an empty one counts as unset)."""

        model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, extra="ignore", frozen=True)

        home: Path | None = None  # None: ~/mlkit-workspace
        fast: bool = False
        strict: bool = False
        grading: bool = False
        device: str | None = None
        threads: int | None = Field(default=None, ge=0)  # 0 or None: all cores but one
        course_root: Path | None = None

        @field_validator("*", mode="before")
        @classmethod
        def _strip(cls, value: Any) -> Any:  # " yes " is yes
            return value.strip() if isinstance(value, str) else value

    return Settings


def settings() -> Any:
    """The course's settings as the environment holds them now (read afresh on each call)."""
    from pydantic import ValidationError

    try:
        return _model()()
    except ValidationError as exc:
        problems = "; ".join(f"{PREFIX}{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg']}"
                             for e in exc.errors())
        raise MlkitError(f"A course setting in the environment is not valid: {problems}. "
                         "Fix or unset the variable.") from None


def flag(name: str) -> bool:
    """The yes/no setting ``name`` (:data:`FAST_ENV`, :data:`STRICT_ENV` or :data:`GRADING_ENV`): True for 1, true, yes or on."""
    value = getattr(settings(), name.removeprefix(PREFIX).lower())
    if not isinstance(value, bool):
        raise MlkitError(f"{name} is not a yes/no setting.")
    return value


def default_home() -> Path:
    """The folder that holds the course store and every workspace: $MLKIT_HOME or ~/mlkit-workspace."""
    return (settings().home or Path.home() / "mlkit-workspace").expanduser()


def _is_course_root(path: Path) -> bool:
    return (path / "notebooks").is_dir() and (path / "solutions").is_dir()


def course_root() -> Path:
    """The course folder, with ``notebooks/`` and ``solutions/``.

    Looked for, in order: $MLKIT_COURSE_ROOT; the folder above the installed package (a
    clone with an editable install); the current folder and its parents (a plain
    ``pip install .`` run from inside the clone).
    """
    env = settings().course_root
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
