"""The reference solution of an exercise, read from its one source: solutions/<lesson>.ipynb.

``ex.q1.solution()`` shows the cleaned source of the cell that defines the answer. A class
release (``mlkit release-class``) ships no solutions: its ``solutions/`` folder holds only
:data:`RELEASE_NOTE`, and the grader's sandbox hides the folder; both say so instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mlkit.course import config
from mlkit.course.errors import MlkitError

RELEASE_NOTE = "CLASS_RELEASE.md"  # the one file in solutions/ of a class release

_MARKER = re.compile(r"^\s*###\s*(BEGIN|END)\s+(SOLUTION|HIDDEN TESTS)\s*$")
_CALL = re.compile(r"^\s*\w+\.\w+\.(check|hint|solution)\(\s*\)\s*;?\s*$")


def _defined_names(source: str) -> set[str]:
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def clean_solution(source: str) -> str:
    """A solution cell as the learner should read it: markers, hidden tests and check calls removed."""
    out, hidden = [], False
    for line in source.splitlines():
        m = _MARKER.match(line)
        if m:
            if m.group(2) == "HIDDEN TESTS":
                hidden = m.group(1) == "BEGIN"
            continue
        if hidden or _CALL.match(line):
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def solution_source(lesson: str, name: str, solutions_dir: Path | None = None) -> str:
    """The cleaned source of the cell in solutions/<lesson>.ipynb that defines ``name``.

    The solutions folder is found through :func:`mlkit.course.config.course_root` (so it
    also works after a plain ``pip install .``, run from the course folder or with
    $MLKIT_COURSE_ROOT set), unless ``solutions_dir`` is given. Raises LookupError, saying
    why, when there is no solution to show (a class release, the grader's sandbox).
    """
    if config.flag(config.GRADING_ENV):
        raise LookupError("Solutions are not available while a notebook is being graded.")
    if solutions_dir is None:
        try:
            solutions_dir = config.course_root() / "solutions"
        except MlkitError as exc:
            raise LookupError(f"The solutions notebook {lesson}.ipynb is not here: {exc}") from None
    if (Path(solutions_dir) / RELEASE_NOTE).exists():
        raise LookupError("This copy of the course is a class release: it has no solutions. "
                          "Ask your instructor, or use the hints.")
    path = Path(solutions_dir) / f"{lesson}.ipynb"
    if not path.exists():
        raise LookupError(f"The solutions notebook {path} is not here (it ships with the course repository).")
    from mlkit.course import notebook

    sources = [notebook.source(c) for c in notebook.read(path).cells if c.cell_type == "code"]
    # Names assigned in hidden tests do not count; a cell holding a solution region wins.
    defining = [clean_solution(s) for s in sources if name in _defined_names(clean_solution(s))]
    with_region = [clean_solution(s) for s in sources
                   if "BEGIN SOLUTION" in s and name in _defined_names(clean_solution(s))]
    if with_region or defining:
        return (with_region or defining)[0]
    raise LookupError(f"No cell in {path.name} defines `{name}`.")
