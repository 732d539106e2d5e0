"""Runs ONE handed-in notebook inside the grader's sandbox and writes what happened as JSON.

    python -m mlkit.grade.worker NOTEBOOK RESULT.json LESSON [--cell-timeout S]

Started by :mod:`mlkit.grade.sandbox` (never by hand), already inside the sandbox: a
throw-away HOME and workspace, rlimits, no network where the platform allows, and as an
unprivileged user where the grader runs as root. Every cell runs, even after one fails
(a stuck cell is interrupted after ``--cell-timeout`` seconds); then the grader asks each
question's own check about the objects the notebook defined, in the same kernel. The
learner's progress file is never read: outcomes come from the checks run here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

MARKER = "MLKIT-GRADE-RESULT "

# Runs in the learner's kernel after their last cell: each question's check on their objects.
PROBE = """
def _mlkit_grade_probe():
    import importlib, json
    from mlkit.exercises import core
    mod = importlib.import_module("mlkit.exercises.lesson{number}")
    questions = getattr(mod, "QUESTIONS", None) or core.lesson_questions(mod)
    out = []
    for q in questions:
        try:
            status, message = q.evaluate(namespace=get_ipython().user_ns)
        except BaseException as exc:  # the grader must report, whatever the learner's code does
            status, message = "error", f"{{type(exc).__name__}}: {{exc}}"
        out.append({{"question": q.name, "title": q.title, "status": status, "message": message}})
    print({marker!r} + json.dumps(out))
_mlkit_grade_probe()
"""


def _error_text(outputs: list[dict]) -> str | None:
    for out in outputs:
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"[:300]
    return None


def run(notebook: Path, lesson: str, cell_timeout: float) -> dict:
    """Execute every cell (errors recorded, not fatal), then probe the questions."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    nb = nbformat.read(notebook, as_version=4)
    n_learner_cells = len(nb.cells)
    number = lesson.split("_", 1)[0]
    nb.cells.append(nbformat.v4.new_code_cell(PROBE.format(number=number, marker=MARKER)))
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, record_timing=False,
                            resources={"metadata": {"path": str(notebook.parent)}})
    result: dict = {"lesson": lesson, "kernel_died": False, "cell_errors": [], "questions": []}
    start = time.perf_counter()
    try:
        client.execute()
    except DeadKernelError as exc:
        result["kernel_died"] = True
        result["kernel_error"] = str(exc)[:300]
    result["seconds"] = round(time.perf_counter() - start, 1)
    for i, cell in enumerate(nb.cells[:n_learner_cells]):
        if cell.cell_type == "code" and (err := _error_text(cell.get("outputs", []))):
            result["cell_errors"].append({"cell": i, "error": err})
    probe = nb.cells[-1]
    for out in probe.get("outputs", []):
        text = out.get("text", "") if out.get("output_type") == "stream" else ""
        for line in text.splitlines():
            if line.startswith(MARKER):
                result["questions"] = json.loads(line[len(MARKER):])
    if not result["questions"] and not result["kernel_died"]:
        result["probe_error"] = _error_text(probe.get("outputs", [])) or "the checks produced no result"
    result["ran_to_end"] = not result["kernel_died"] and not result["cell_errors"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("lesson")
    parser.add_argument("--cell-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    result = run(args.notebook, args.lesson, args.cell_timeout)
    args.result.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
