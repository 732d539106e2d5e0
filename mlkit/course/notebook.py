"""The notebook normal form, in one place: how every committed notebook is stored.

A notebook in normal form has no outputs, no execution counts, no cell ids, only the cell
metadata that means something to a reader or a tool (``tags``, ``editable``,
``deletable``), the course's kernelspec, and nbformat 4.4; it is written by ``nbformat``
(indent 1, sorted keys, sources as lists of lines) plus a final newline. The same input
always gives the same bytes, so "is it clean?" and "is exercises/ up to date?" are byte
comparisons.

Used by ``scripts/clean_notebooks.py`` (``make clean-notebooks``) for notebooks/,
solutions/ and exercises/, and by :mod:`mlkit.exercises.build` for the learner copies.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

KEEP_CELL_META = ("tags", "editable", "deletable")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
NBFORMAT = (4, 4)


def source(cell: Any) -> str:
    """A cell's source as one string (nbformat keeps it as a string; raw JSON may hold a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def clean(nb: Any) -> Any:
    """The notebook in normal form (changed in place and returned): a NotebookNode or a plain dict."""
    import nbformat

    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        cell["metadata"] = nbformat.from_dict({k: meta[k] for k in KEEP_CELL_META if k in meta})
        cell.pop("id", None)
        cell["source"] = source(cell)
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    nb["metadata"] = nbformat.from_dict({"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
    nb["nbformat"], nb["nbformat_minor"] = NBFORMAT
    return nb


def dumps(nb: Any) -> str:
    """The notebook's text as nbformat writes it (validated), with a final newline."""
    import nbformat

    return nbformat.writes(nbformat.from_dict(nb), version=nbformat.NO_CONVERT) + "\n"


def read(path: str | os.PathLike) -> Any:
    """A notebook file as an nbformat NotebookNode (version 4)."""
    import nbformat

    return nbformat.read(Path(path), as_version=4)


def normal_text(path: str | os.PathLike) -> str:
    """The text the notebook at ``path`` has in normal form."""
    return dumps(clean(read(path)))


def is_clean(path: str | os.PathLike) -> bool:
    """True when the file at ``path`` is already in normal form, byte for byte."""
    return Path(path).read_text(encoding="utf-8") == normal_text(path)


def write(nb: Any, path: str | os.PathLike) -> bool:
    """Write ``nb`` (already in normal form) to ``path`` unless it holds those bytes; True if written."""
    path, text = Path(path), dumps(nb)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True
