"""Runs in the learner's kernel after their last cell: ask one question's code for its answers.

The grader's worker appends one cell per question::

    from mlkit.grade import extract
    extract.answer(REQUEST, "q1", OUT_DIR)

``REQUEST`` is the grading request (a nonce and, per question, the cases: the notebook's
examples and the hidden ones drawn from the instructor's seed), sent only now. The answer is
the question's :meth:`~mlkit.exercises.question.Question.collect` record, written as JSON to
``OUT_DIR/answer-q1.json``. Nothing is judged here: this code runs beside the learner's and
could be rewritten by it, so the grader treats whatever this file holds as a claim to check
(:mod:`mlkit.grade.judge`), never as a verdict.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def answer_path(out_dir: str | Path, question: str) -> Path:
    """Where the answer of ``question`` is written."""
    return Path(out_dir) / f"answer-{question}.json"


def answer(request: str | dict[str, Any], question: str, out_dir: str | Path) -> None:
    """Write the record of ``question`` for ``request`` (see the module docstring)."""
    from IPython import get_ipython

    from mlkit.exercises import lessons

    request = json.loads(request) if isinstance(request, str) else request
    spec = next(q for q in request["questions"] if q["name"] == question)
    try:
        found = {q.name: q for q in lessons.questions_of(request["lesson"])}[question]
        record = found.collect(found.lookup(get_ipython().user_ns), spec["cases"])
    except Exception as exc:  # noqa: BLE001 - reported to the grader as this question's answer
        record = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    record.update(nonce=request["nonce"], question=question)
    path = answer_path(out_dir, question)
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(record, allow_nan=True))
    os.replace(tmp, path)


def cells(request: dict[str, Any], out_dir: str | Path) -> list[str]:
    """The source of the cells the worker appends: one per question, in order."""
    text = json.dumps(request, allow_nan=True)
    return [f"from mlkit.grade import extract as _mlkit_extract\n"
            f"_mlkit_extract.answer({text!r}, {q['name']!r}, {str(out_dir)!r})"
            for q in request["questions"]]
