"""What an instructor hands out: the course without its answers (``mlkit release-class DIR``).

A class release is a copy of the course's files (those git tracks, or every file when the
course is not a git checkout) without:

* ``solutions/``: replaced by a folder that holds only ``CLASS_RELEASE.md``, so that
  ``ex.q1.solution()`` says that this copy has no solutions (the learner copies in
  ``exercises/`` never held any: ``mlkit exercises build`` writes them without);
* the tests, the benchmarks, the grading fixtures (solved notebooks among them), the
  instructor's notebook and the git history.

It refuses to write when ``exercises/`` is out of date, and checks that no notebook it wrote
holds a solution region. The hidden cases of grading are not in it either: they are drawn
from the seed the instructor passes to ``mlkit grade`` (``--seed``), per grading run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mlkit.course import config
from mlkit.course.errors import MlkitError
from mlkit.exercises.solutions import RELEASE_NOTE

LEFT_OUT = ("solutions/", "tests/", "benchmarks/", ".github/", "notebooks/instructor_grading.ipynb",
            "scripts/make_grading_fixtures.py")
NOTE = """# No solutions in this copy

This is a class release of the course: the reference solutions of the exercises are not
included. `ex.q1.hint()` gives hints; your instructor has the solutions.
"""


def course_files(root: Path) -> list[str]:
    """The course's files, relative to ``root``: git's tracked files, else every file."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True,
                             timeout=60).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.SubprocessError):
        files = []
    if not files:
        skip = {".git", ".venv", "runs", "grades", "__pycache__", ".ipynb_checkpoints"}
        files = [str(p.relative_to(root)) for p in root.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(root).parts)]
    return sorted(f for f in files if not f.startswith(LEFT_OUT) and (root / f).is_file())


def release_class(dest: str | Path, root: str | Path | None = None) -> list[Path]:
    """Write the class release of the course at ``root`` (default: this course) into ``dest``
    (a new or empty folder); return the files written."""
    from mlkit.exercises import build

    root = Path(root) if root else config.course_root()
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise MlkitError(f"{dest} is not empty: give a new folder for the class release.")
    if dest.resolve().is_relative_to(root.resolve()):
        raise MlkitError(f"{dest} is inside the course folder: write the class release somewhere else.")
    if build.build_all(check=True, root=root) != 0:
        raise MlkitError("exercises/ is out of date with solutions/: run `mlkit exercises build` first.")
    written = []
    for rel in course_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
        written.append(target)
    note = dest / "solutions" / RELEASE_NOTE
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(NOTE)
    written.append(note)
    leaked = [p for p in written if p.suffix == ".ipynb" and "BEGIN SOLUTION" in p.read_text(errors="replace")]
    if leaked:
        raise MlkitError(f"{leaked[0]} holds a solution region: it must not be handed out.")
    return written
