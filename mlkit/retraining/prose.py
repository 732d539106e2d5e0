"""Lesson 06: how much the lesson explains, counted (its key result ``lesson06_prose_words``)."""

from __future__ import annotations

import json
import re
from pathlib import Path


def words(notebook: str | Path) -> int:
    """The words of the markdown cells of ``notebook`` (headings included, code spans as words)."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    text = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return len(re.findall(r"[A-Za-z0-9][\w'.,%-]*", text))


def lesson_words(lesson: str) -> int:
    """:func:`words` of ``notebooks/<lesson>.ipynb`` in the course's checkout."""
    from mlkit.course import config

    return words(config.course_root() / "notebooks" / f"{lesson}.ipynb")
