"""Generate the learner notebooks ``exercises/`` from the one source ``solutions/``.

``mlkit exercises build`` rewrites every ``exercises/NN_topic.ipynb``; with ``--check``
it writes nothing and fails when any of them is stale, missing or orphaned. In each
solution notebook:

- ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` becomes ``# YOUR CODE HERE`` +
  ``raise NotImplementedError()`` at the marker's indentation (``YOUR ANSWER HERE`` in a
  markdown cell);
- ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` is removed;
- outputs, execution counts, cell ids and run metadata are cleared: the notebook normal
  form of :mod:`mlkit.course.notebook`, shared with ``scripts/clean_notebooks.py``.

The result is deterministic (same input, same bytes), so ``--check`` is a byte comparison.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from mlkit.course import config, notebook
from mlkit.course.errors import MlkitError

_MARKER = re.compile(r"^(\s*)###\s*(BEGIN|END)\s+(SOLUTION|HIDDEN TESTS)\s*$")
FIX = "mlkit exercises build"


class BuildError(MlkitError):
    """A solutions notebook has unbalanced or nested markers."""


def convert_source(source: str, cell_type: str = "code", where: str = "") -> str:
    """One cell's source with solution regions stubbed out and hidden tests removed."""
    out: list[str] = []
    region: str | None = None
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        m = _MARKER.match(line.rstrip("\r\n"))
        if not m:
            if region is None:
                out.append(line)
            continue
        indent, edge, kind = m.groups()
        if edge == "BEGIN":
            if region is not None:
                raise BuildError(f"{where} line {number}: '### BEGIN {kind}' inside an open {region} region.")
            region = kind
            if kind == "SOLUTION":
                if cell_type == "code":
                    out += [f"{indent}# YOUR CODE HERE\n", f"{indent}raise NotImplementedError()\n"]
                else:
                    out.append(f"{indent}YOUR ANSWER HERE\n")
        else:
            if region != kind:
                raise BuildError(f"{where} line {number}: '### END {kind}' without a matching BEGIN.")
            region = None
    if region is not None:
        raise BuildError(f"{where}: '### BEGIN {region}' is never closed by '### END {region}'.")
    text = "".join(out)
    if not source.endswith("\n") and text.endswith("\n"):
        text = text[:-1]
    return text


def convert(nb: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """The learner copy of a solutions notebook (a NotebookNode, or a plain dict as read with
    json.load), in the notebook normal form of :mod:`mlkit.course.notebook`."""
    import nbformat

    nb = nbformat.from_dict(nb)
    cells = []
    for i, cell in enumerate(nb.get("cells", []), 1):
        kind = cell.get("cell_type", "code")
        original = notebook.source(cell)
        text = convert_source(original, kind, where=f"{name}, cell {i}")
        if kind == "code" and not text.strip() and original.strip():
            continue  # a cell that held only hidden tests
        cell["source"] = text
        cells.append(cell)
    nb["cells"] = cells
    return notebook.clean(nb)


dumps = notebook.dumps  # deterministic text: nbformat's layout plus a final newline


def build_one(solution: Path) -> str:
    """The learner notebook's text for one solutions notebook."""
    import nbformat

    try:
        nb = notebook.read(solution)
    except (ValueError, nbformat.reader.NotJSONError) as exc:
        raise BuildError(f"{solution} is not valid notebook JSON: {exc}") from None
    return dumps(convert(nb, solution.name))


def build_all(check: bool = False, root: Path | None = None, quiet: bool = False) -> int:
    """Regenerate exercises/ from solutions/ (or, with check, report what is stale).

    Returns an exit code: 0 when up to date (or written), 1 when ``check`` finds stale files.
    """
    root = Path(root) if root else config.course_root()
    src_dir, out_dir = root / "solutions", root / "exercises"
    say = (lambda *a: None) if quiet else print
    solutions = sorted(p for p in src_dir.glob("*.ipynb") if not p.name.startswith("."))
    expected = {out_dir / p.name: build_one(p) for p in solutions}
    if check:
        problems = []
        for path, text in expected.items():
            rel = path.relative_to(root)
            if not path.exists():
                problems.append(f"{rel} is missing")
            elif path.read_bytes() != text.encode("utf-8"):
                problems.append(f"{rel} is stale (differs from what solutions/{path.name} generates)")
        for path in sorted(out_dir.glob("*.ipynb")):
            if path not in expected:
                problems.append(f"{path.relative_to(root)} has no solutions/{path.name} (remove it)")
        if problems:
            print("exercises/ is out of date:\n" + "\n".join(f"  - {p}" for p in problems)
                  + f"\nFix: run `{FIX}` and commit exercises/ (never edit exercises/ by hand).",
                  file=sys.stderr)
            return 1
        say(f"exercises/ is up to date ({len(expected)} notebook{'s' if len(expected) != 1 else ''}).")
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in expected.items():
        old = path.read_bytes() if path.exists() else None
        if old != text.encode("utf-8"):
            path.write_text(text, encoding="utf-8")
            say(f"wrote {path.relative_to(root)}")
        else:
            say(f"unchanged {path.relative_to(root)}")
    for path in sorted(out_dir.glob("*.ipynb")):
        if path not in expected:
            say(f"note: {path.relative_to(root)} has no solutions notebook; remove it if it is obsolete")
    return 0
