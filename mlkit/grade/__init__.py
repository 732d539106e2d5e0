"""Grade a class's handed-in exercise notebooks, safely (instructors; `mlkit grade`).

    from mlkit import grade
    book = grade.grade_class(["handed-in/"], jobs=2, out_dir="grades")
    book.summary          # pass rate and most common mistake per question
    book.figure()         # the pass rate per question, as a plot

Each submission runs in its own sandbox (:mod:`mlkit.grade.sandbox`); outcomes come from the
exercise checks run again by the grader (:mod:`mlkit.grade.worker`), never from the
learner's progress file. ``jobs`` runs submissions in parallel on this machine;
``dask="tcp://scheduler:8786"`` sends the same runs to an existing Dask cluster.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.grade.sandbox import Limits

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Gradebook", "Limits", "grade_class", "grade_one"]


def grade_one(path: str, learner: str, lesson: str | None, limits: Limits | None = None) -> dict:
    """Grade one notebook in a sandbox; a plain function, so a Dask worker can run it too."""
    import json

    from mlkit.grade.sandbox import run_submission

    base = {"learner": learner, "file": Path(path).name, "lesson": lesson}
    try:
        json.loads(Path(path).read_text(errors="strict"))
    except (ValueError, UnicodeDecodeError) as exc:
        return {**base, "status": "invalid notebook", "reason": f"not a valid notebook (JSON): {str(exc)[:120]}"}
    if lesson is None:
        return {**base, "status": "unknown lesson",
                "reason": "no mlkit.setup(...) or lesson import found, and the file name names no lesson"}
    return {**base, **run_submission(Path(path), lesson, limits or Limits())}


@dataclass
class Gradebook:
    """The results of one grading run, and where they were written."""

    results: list[dict]
    paths: dict[str, Path] = field(default_factory=dict)

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
                dask: str | None = None, limits: Limits | None = None, progress: bool = True) -> Gradebook:
    """Collect, run and grade every notebook in ``submissions``; write the gradebook to ``out_dir``.

    Args:
        submissions: notebooks, folders or zip files of a class.
        jobs: submissions graded at once on this machine.
        out_dir: where gradebook.csv, summary.csv, summary.html and feedback/ go (None: nowhere).
        dask: the address of an existing Dask scheduler; the runs go there instead.
        limits: time, memory and CPU limits per submission.
    """
    from tqdm.auto import tqdm

    from mlkit.grade import gradebook
    from mlkit.grade.collect import collect

    with tempfile.TemporaryDirectory(prefix="mlkit-grade-unzip-") as scratch:
        subs = collect(list(submissions), Path(scratch))
        args = [(str(s.path), s.learner, s.lesson, limits or Limits()) for s in subs]
        if dask:
            from distributed import Client

            with Client(dask) as client:
                futures = [client.submit(grade_one, *a, pure=False) for a in args]
                results = client.gather(futures)
        else:
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                results = list(tqdm(pool.map(lambda a: grade_one(*a), args), total=len(args),
                                    desc="grading", unit="notebook", disable=not progress))
    book = Gradebook(results)
    if out_dir is not None:
        book.paths = gradebook.write(results, Path(out_dir))
    return book
