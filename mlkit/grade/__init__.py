"""Grade a class's handed-in exercise notebooks, safely (instructors; `mlkit grade`).

    from mlkit import grade
    book = grade.grade_class(["handed-in/"], jobs=2, out_dir="grades", seed=1234)
    book.summary          # pass rate and most common mistake per question
    book.figure()         # the pass rate per question, as a plot

Each submission runs in its own sandbox (:mod:`mlkit.grade.sandbox`) that bounds the whole
submission. The learner's kernel is only asked for data: after the last cell, each
question's ``ask`` runs the learner's functions on the notebook's examples and on hidden
inputs drawn from ``seed`` (:mod:`mlkit.grade.extract`); the grader then judges that data in
its own process, with each question's own ``judge`` (:mod:`mlkit.grade.judge`). Nothing
the notebook prints, writes or records as progress can make a verdict. ``jobs`` runs
submissions in parallel on this machine; ``dask="tcp://scheduler:8786"`` sends the same
runs to an existing Dask cluster. :func:`mlkit.grade.release.release_class` writes what an
instructor hands out (no solutions).
"""

from __future__ import annotations

import secrets
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.grade.sandbox import Limits

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Gradebook", "Limits", "grade_class", "grade_one"]


def grade_one(path: str, learner: str, lesson: str | None, limits: Limits | None = None,
              seed: int | str | None = None, hidden: int = 1, cpus: float | None = None) -> dict:
    """Grade one notebook in a sandbox; a plain function, so a Dask worker can run it too.

    ``seed`` draws the hidden cases (``hidden`` per question); None grades the notebook's own
    examples only. ``cpus`` is its CPU share when ``limits.cpus`` is not set.
    """
    import json

    from mlkit.grade import judge
    from mlkit.grade.sandbox import run_submission

    base = {"learner": learner, "file": Path(path).name, "lesson": lesson}
    try:
        json.loads(Path(path).read_text(errors="strict"))
    except (ValueError, UnicodeDecodeError) as exc:
        return {**base, "status": "invalid notebook", "reason": f"not a valid notebook (JSON): {str(exc)[:120]}"}
    if lesson is None:
        return {**base, "status": "unknown lesson",
                "reason": "no mlkit.setup(...) or lesson import found, and the file name names no lesson"}
    request = judge.make_request(lesson, seed, hidden)
    return {**run_submission(Path(path), lesson, limits or Limits(), request=request, cpus=cpus), **base}


@dataclass
class Gradebook:
    """The results of one grading run, the seed of its hidden cases, and where they were written."""

    results: list[dict]
    paths: dict[str, Path] = field(default_factory=dict)
    seed: int | str | None = None

    @property
    def frame(self) -> pd.DataFrame:
        from mlkit.grade import gradebook

        return gradebook.frame(self.results)

    @property
    def summary(self) -> pd.DataFrame:
        from mlkit.grade import gradebook

        return gradebook.summary(self.frame)

    def figure(self) -> Any:
        from mlkit.grade import gradebook

        return gradebook.pass_rate_figure(self.summary)


def grade_class(submissions: list[str | Path], *, jobs: int = 1, out_dir: str | Path | None = "grades",
                dask: str | None = None, limits: Limits | None = None, progress: bool = True,
                seed: int | str | None = None, hidden: int = 1) -> Gradebook:
    """Collect, run and grade every notebook in ``submissions``; write the gradebook to ``out_dir``.

    Args:
        submissions: notebooks, folders or zip files of a class.
        jobs: submissions graded at once on this machine (each gets cores / jobs of CPU).
        out_dir: where gradebook.csv, summary.csv, summary.html and feedback/ go (None: nowhere).
        dask: the address of an existing Dask scheduler; the runs go there instead.
        limits: time, memory, process and CPU limits per submission.
        seed: the instructor's secret seed for the hidden cases; None draws a fresh one (it is
            written to ``out_dir/seed.txt``, so a run can be repeated).
        hidden: hidden cases per question (0: the notebook's examples only).
    """
    import os

    from tqdm.auto import tqdm

    from mlkit.grade import gradebook
    from mlkit.grade.collect import collect

    seed = secrets.randbelow(2**63) if seed is None else seed
    cpus = max(1.0, (os.cpu_count() or 1) / max(1, jobs))
    with tempfile.TemporaryDirectory(prefix="mlkit-grade-unzip-") as scratch:
        subs = collect(list(submissions), Path(scratch))
        args = [(str(s.path), s.learner, s.lesson, limits or Limits(), seed, hidden, cpus) for s in subs]
        if dask:
            from distributed import Client

            with Client(dask) as client:
                futures = [client.submit(grade_one, *a, pure=False) for a in args]
                results = client.gather(futures)
        else:
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                results = list(tqdm(pool.map(lambda a: grade_one(*a), args), total=len(args),
                                    desc="grading", unit="notebook", disable=not progress))
    book = Gradebook(results, seed=seed)
    if out_dir is not None:
        book.paths = gradebook.write(results, Path(out_dir), seed=seed)
    return book
