"""Find a class's handed-in notebooks, and say whose each one is and which lesson it answers.

SUBMISSIONS may be notebooks, folders (searched recursively) or zip files of either. The
learner is the notebook's folder inside the class folder or zip (``alice/01_data.ipynb``),
else its file name without the lesson (``alice-01_data.ipynb`` -> ``alice``), else the
folder the file lies in. The lesson
comes from the notebook itself (``mlkit.setup("01_data", ...)`` or
``from mlkit.exercises import lesson01``), else from its file name.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from mlkit.course.errors import MlkitError

_SETUP = re.compile(r"""mlkit\.setup\(\s*["'](\d\d_[A-Za-z0-9_]+)["']""")
_IMPORT = re.compile(r"from mlkit\.exercises import lesson(\d\d)\b")
_NAME = re.compile(r"(\d\d)_[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*")


@dataclass(frozen=True)
class Submission:
    """One handed-in notebook: whose, which lesson (None if unknown), and where it lies."""

    learner: str
    path: Path
    lesson: str | None


def lesson_of(path: Path) -> str | None:
    """The lesson id a notebook answers, read from its code, else from its file name."""
    text = path.read_text(errors="replace")
    if m := _SETUP.search(text.replace('\\"', '"')):
        return m.group(1)
    known = _known_lessons()
    if m := _IMPORT.search(text):
        return next((lesson for lesson in known if lesson.startswith(m.group(1) + "_")), None)
    if m := _NAME.search(path.stem):
        return next((lesson for lesson in known if lesson == m.group(0) or lesson.startswith(m.group(1) + "_")), None)
    return None


def _known_lessons() -> list[str]:
    from mlkit.course.config import course_root

    return sorted(p.stem for p in (course_root() / "solutions").glob("*.ipynb"))


def _learner(path: Path, base: Path) -> str:
    rel = path.relative_to(base)
    if len(rel.parts) > 1:
        return rel.parts[0]
    stem = _NAME.sub("", path.stem).strip("-_ .")
    return stem or path.parent.name or path.stem  # alice/01_data.ipynb handed in as a file: alice


def _safe_extract(zip_path: Path, dest: Path) -> Path:
    """Unzip without letting a member escape ``dest`` (no absolute paths, no ``..``)."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for member in zf.infolist():
                target = (dest / member.filename).resolve()
                if not target.is_relative_to(dest.resolve()):
                    raise MlkitError(f"{zip_path.name}: member {member.filename!r} would unpack outside "
                                     "the grading folder; refusing the whole zip.")
            zf.extractall(dest)
    except zipfile.BadZipFile:
        raise MlkitError(f"{zip_path} is not a valid zip file.") from None
    return dest


def collect(paths: list[str | Path], scratch: Path) -> list[Submission]:
    """Every notebook under ``paths`` (files, folders, zips unpacked into ``scratch``)."""
    found: list[Submission] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise MlkitError(f"{path}: no such file or folder. Pass notebooks, folders or zip files.")
        if path.suffix == ".zip":
            base = _safe_extract(path, scratch / path.stem)
        elif path.is_dir():
            base = path
        else:
            found.append(Submission(_learner(path, path.parent), path, _lesson_or_none(path)))
            continue
        for nb in sorted(base.rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in nb.parts and "__MACOSX" not in nb.parts:
                found.append(Submission(_learner(nb, base), nb, _lesson_or_none(nb)))
    if not found:
        raise MlkitError(f"No .ipynb files found in {', '.join(map(str, paths))}.")
    return found


def _lesson_or_none(path: Path) -> str | None:
    try:
        return lesson_of(path)
    except OSError:
        return None
