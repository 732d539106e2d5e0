"""Runs ONE handed-in notebook inside the grader's sandbox and writes what happened as JSON.

    python -m mlkit.grade.worker NOTEBOOK OUT_DIR --request-fd N [--cell-timeout S] [--answer-timeout S]

Started by :mod:`mlkit.grade.sandbox` (never by hand), already inside the sandbox: a
throw-away HOME and workspace, limits, no network where the platform allows, as the
submission's unprivileged user where the grader runs as root. It reads the grading request
from file descriptor N (a file the grader opened and deleted, so the notebook never finds
it), then makes itself non-dumpable (the learner's code, same user, cannot read its memory).

Every learner cell runs, even after one fails (a stuck cell is interrupted after
``--cell-timeout`` seconds); then one extraction cell per question asks the learner's code
for its answers (:mod:`mlkit.grade.extract`), each into ``OUT_DIR/answer-qN.json``, within
``--answer-timeout`` seconds (a learner's function that loops on a hidden case costs that one
question). The
worker writes ``OUT_DIR/result.json``: how the notebook ran (cell errors, a dead kernel,
seconds). No verdict is made in the sandbox: the grader judges the answers in its own process
(:mod:`mlkit.grade.judge`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _not_dumpable() -> None:
    """prctl(PR_SET_DUMPABLE, 0): processes of the same user can no longer read our memory or fds."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _error_text(outputs: list[dict]) -> str | None:
    for out in outputs:
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"[:300]
    return None


def _skip_iri_grammar() -> None:
    """nbformat validates with jsonschema, which imports rfc3987_syntax if it is installed, and
    that compiles a Lark grammar for IRIs at import: about 3 s of CPU per submission for a
    format notebooks never use. Marking the optional module absent (``sys.modules[name] =
    None``, Python's documented way) makes jsonschema skip its IRI check."""
    sys.modules.setdefault("rfc3987_syntax", None)


def run(notebook: Path, out_dir: Path, request: dict, cell_timeout: float, answer_timeout: float = 300.0) -> dict:
    """Execute every cell (errors recorded, not fatal), then the extraction cells."""
    _skip_iri_grammar()
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    from mlkit.grade import extract

    nb = nbformat.read(notebook, as_version=4)
    n_learner_cells = len(nb.cells)
    nb.cells.extend(nbformat.v4.new_code_cell(src) for src in extract.cells(request, out_dir))
    extraction = {id(c) for c in nb.cells[n_learner_cells:]}
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                            timeout_func=lambda cell: answer_timeout if id(cell) in extraction else cell_timeout,
                            interrupt_on_timeout=True, record_timing=False, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(notebook.parent)}})
    result: dict = {"kernel_died": False, "cell_errors": [], "extract_errors": []}
    marks = {"start": time.perf_counter()}
    try:
        with client.setup_kernel():
            marks["kernel start"] = time.perf_counter()
            for index, cell in enumerate(nb.cells):
                if index == n_learner_cells:
                    marks["learner cells"] = time.perf_counter()
                client.execute_cell(cell, index)
            marks["extraction"] = time.perf_counter()
    except DeadKernelError as exc:
        result["kernel_died"] = True
        result["kernel_error"] = str(exc)[:300]
    marks["shutdown"] = time.perf_counter()
    result["seconds"] = round(marks["shutdown"] - marks["start"], 1)
    steps = list(marks.items())
    result["timings"] = {name: round(t - steps[i][1], 2) for i, (name, t) in enumerate(steps[1:])}
    streams = "".join(out.get("text", "") for cell in nb.cells[:n_learner_cells] if cell.cell_type == "code"
                      for out in cell.get("outputs", []) if out.get("output_type") == "stream")
    result["output_tail"] = streams[-2000:]  # what the notebook printed last (for the instructor)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (err := _error_text(cell.get("outputs", []))):
            key = "cell_errors" if i < n_learner_cells else "extract_errors"
            result[key].append({"cell": i if i < n_learner_cells else i - n_learner_cells, "error": err})
    result["ran_to_end"] = not result["kernel_died"] and not result["cell_errors"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--request-fd", type=int, required=True)
    parser.add_argument("--cell-timeout", type=float, default=120.0)
    parser.add_argument("--answer-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    with os.fdopen(args.request_fd, "r") as f:
        request = json.load(f)
    _not_dumpable()
    os.chdir(args.notebook.parent)
    result = run(args.notebook, args.out_dir, request, args.cell_timeout, args.answer_timeout)
    tmp = args.out_dir / f".result-{os.getpid()}.json"
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, args.out_dir / "result.json")  # replaces whatever the notebook left there, a link too
    return 0


if __name__ == "__main__":
    sys.exit(main())
