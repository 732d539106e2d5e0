"""Run lesson notebooks in batch with papermill and summarise them (``mlkit run``).

Each notebook is executed in a fresh kernel, its executed copy written to an output
folder, and the key results it reported with :func:`mlkit.report` collected into a
summary table (also saved as ``summary.json``).
"""

from __future__ import annotations

import ast
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from mlkit.course import config
from mlkit.course.errors import MlkitError
from mlkit.course.text import strip_ansi


def lesson_dir() -> Path:
    """The lessons' folder, ``notebooks/`` of the course root (:func:`mlkit.course.config.course_root`)."""
    return config.course_root() / "notebooks"


def __getattr__(name: str) -> Path:
    """``ROOT`` and ``LESSON_DIR``, resolved when first asked for, never at import."""
    if name == "ROOT":
        return config.course_root()
    if name == "LESSON_DIR":
        return lesson_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _lesson_dir_or_none() -> Path | None:
    try:
        return lesson_dir().resolve()
    except MlkitError:  # run outside the course: only paths to notebooks work
        return None


@dataclass
class NotebookResult:
    """What happened to one notebook."""

    name: str
    path: str
    output: str
    status: str = "passed"  # or "failed"
    seconds: float = 0.0
    results: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None  # cell, source, ename, evalue, traceback

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def find_notebooks(names: list[str] | None = None, root: Path | None = None) -> list[Path]:
    """Resolve names to notebook paths: a path, a folder (all its notebooks), or a lesson
    name or prefix in the course's notebooks/ ("00", "01_data"). No names: every lesson.

    ``root`` is the course folder (default :func:`mlkit.course.config.course_root`, looked up
    only when a lesson name needs it)."""
    found: list[Path] = []
    for name in names or [None]:
        path = Path(name) if name else None
        if path is not None and path.is_dir():
            found += sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
        elif path is not None and path.suffix == ".ipynb" and path.exists():
            found.append(path)
        else:
            lessons = sorted(((root or config.course_root()) / "notebooks").glob("*.ipynb"))
            if name is None:
                found += lessons
                continue
            matches = [p for p in lessons if p.stem == name or p.stem.startswith(name)]
            if len(matches) != 1:
                known = ", ".join(p.stem for p in lessons) or "(none)"
                what = "matches several notebooks" if matches else "is not a notebook"
                raise MlkitError(f"{name!r} {what}. Known lessons: {known}; or give a path to a .ipynb file.")
            found.append(matches[0])
    return list(dict.fromkeys(p.resolve() for p in found))


def parse_value(text: str) -> Any:
    """A command-line parameter value: a Python literal if it is one, else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def notebook_parameters(path: Path) -> dict[str, Any]:
    """The names declared in a notebook's cell tagged ``parameters``."""
    import papermill

    return papermill.inspect_notebook(str(path))


def check_parameters(paths: list[Path], params: dict[str, Any]) -> None:
    """Refuse a parameter that a selected notebook does not declare."""
    for path in paths:
        declared = notebook_parameters(path)
        if not declared:
            raise MlkitError(f"{path.name} has no cell tagged 'parameters'; every lesson needs one.")
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise MlkitError(
                f"Unknown parameter(s) {', '.join(unknown)} for {path.name}; "
                f"it declares: {', '.join(declared)}."
            )


def _kernel_config() -> Any:
    """The kernel talks to the runner over local IPC sockets on POSIX (no network port, and no
    "Kernel is running over TCP without encryption" warning in the runner's output). Each
    kernel gets its own socket path prefix, so that kernels started at once never share one.
    The kernel's own log stays out of the runner's output too: a kernel that is shut down
    while it still handles a message logs "KeyboardInterrupt caught in kernel" (jupyter_client
    interrupts before it asks the kernel to shut down). Cell errors and a dead kernel are
    reported from the notebook, not from this log."""
    import tempfile
    import uuid

    from traitlets.config import Config

    cfg = Config()
    cfg.NotebookClient.extra_arguments = ["--IPKernelApp.log_level=CRITICAL"]
    if os.name == "posix":
        cfg.KernelManager.transport = "ipc"
        cfg.KernelManager.ip = os.path.join(tempfile.gettempdir(), f"mlkit-kernel-{uuid.uuid4().hex[:12]}")
    return cfg


def execute(path: str, output: str, params: dict[str, Any], timeout: int, fast: bool,
            name: str | None = None) -> NotebookResult:
    """Execute one notebook (in this process's kernel manager) and describe the outcome.
    ``name`` is the one shown in the summary (default: the file's stem)."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from mlkit.course.results import collect

    nb_path, out_path = Path(path), Path(output)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    declared = notebook_parameters(nb_path)
    run_params = dict(params)
    if fast and "fast" in declared:
        run_params.setdefault("fast", True)
    result = NotebookResult(name=name or nb_path.stem, path=str(nb_path), output=str(out_path))
    start = time.perf_counter()
    kernel_env = {**config.QUIET_ENV, config.STRICT_ENV: "1", **({config.FAST_ENV: "1"} if fast else {})}
    try:
        with mock.patch.dict(os.environ, kernel_env):  # the kernel inherits it; restored afterwards
            papermill.execute_notebook(
                str(nb_path), str(out_path), parameters=run_params, kernel_name="python3",
                progress_bar=False, cwd=str(nb_path.parent), execution_timeout=timeout,
                config=_kernel_config(),
            )
    except PapermillExecutionError as exc:
        result.status = "failed"
        result.error = {
            "cell": exc.exec_count, "source": exc.source, "ename": exc.ename,
            "evalue": exc.evalue, "traceback": strip_ansi("\n".join(exc.traceback[-6:])),
        }
    except Exception as exc:  # noqa: BLE001 - kernel died, timeout, bad notebook file, ...
        result.status = "failed"
        result.error = {"cell": None, "source": "", "ename": type(exc).__name__,
                        "evalue": strip_ansi(str(exc)), "traceback": ""}
    result.seconds = round(time.perf_counter() - start, 1)
    if out_path.exists():
        result.results = collect(nbformat.read(out_path, as_version=4))
    return result


def run_notebooks(
    names: list[str] | None = None,
    *,
    params: dict[str, Any] | None = None,
    fast: bool = False,
    output_dir: str | os.PathLike = "runs/latest",
    workers: int = 1,
    timeout: int = 900,
    progress: bool = True,
) -> list[NotebookResult]:
    """Execute notebooks with papermill and return one result each (in input order).

    Args:
        names: paths, folders or lesson names (see :func:`find_notebooks`); None: all lessons.
        params: parameters injected into each notebook's ``parameters`` cell.
        fast: the quick mode used by tests (``fast=True`` and $MLKIT_FAST=1).
        output_dir: where the executed copies and summary.json go; a notebook from a
            folder other than notebooks/ lands in a subfolder named after it.
        workers: notebooks run at once, each in its own process and kernel.
        timeout: seconds allowed for one cell.
    """
    params = dict(params or {})
    paths = find_notebooks(names)
    check_parameters(paths, params)
    out_dir = Path(output_dir)
    lessons = _lesson_dir_or_none()
    jobs = []
    for p in paths:
        sub = "" if p.parent == lessons else p.parent.name
        name = f"{sub}/{p.stem}" if sub else p.stem
        jobs.append((str(p), str(out_dir / sub / p.name), params, timeout, fast, name))

    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="notebooks", unit="nb", disable=not progress)
    results: dict[str, NotebookResult] = {}
    if workers <= 1:
        for job in jobs:
            bar.set_postfix_str(Path(job[0]).stem)
            results[job[0]] = execute(*job)
            bar.update()
    else:
        import multiprocessing

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(execute, *job): job[0] for job in jobs}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                bar.set_postfix_str(Path(futures[fut]).stem)
                bar.update()
    bar.close()
    ordered = [results[job[0]] for job in jobs]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps([asdict(r) for r in ordered], indent=2))
    return ordered


def format_summary(results: list[NotebookResult], elapsed: float | None = None) -> str:
    """A text table (notebook, status, seconds, key results), the count of passed and failed
    notebooks with the run's ``elapsed`` wall-clock seconds (the notebooks' own seconds, summed,
    are named as such: with ``-j 2`` they add up to more than the run took), then each failure."""
    from tabulate import tabulate

    rows = [(r.name, r.status if r.passed else r.status.upper(), f"{r.seconds:.1f}",
             ", ".join(f"{k}={v}" for k, v in r.results.items()) or "-") for r in results]
    lines = [tabulate(rows, headers=["notebook", "status", "seconds", "key results"], disable_numparse=True,
                      maxcolwidths=[None, None, None, 90])]
    passed = sum(r.passed for r in results)
    summed = f"the notebooks' own times add up to {sum(r.seconds for r in results):.1f} s"
    took = f" in {elapsed:.1f} s of wall-clock time ({summed})" if elapsed is not None else f" ({summed})"
    lines.append(f"\n{passed} passed, {len(results) - passed} failed{took}")
    for r in results:
        if not r.passed and r.error:
            e = r.error
            source = "\n".join("    " + line for line in (e["source"] or "").splitlines()[:15])
            lines.append(
                f"\nFAILED {r.name} (cell {e['cell']}): {e['ename']}: {e['evalue']}\n{source}\n"
                f"  executed copy: {r.output}"
            )
    return "\n".join(lines)
