"""The ``mlkit`` command: run lessons in batch, build exercises, show progress, check data, grade."""

from __future__ import annotations

import argparse
import sys

from mlkit.course.errors import MlkitError


def _run(args: argparse.Namespace) -> int:
    import time

    from mlkit.course import runner

    params = {name: runner.parse_value(value) for name, value in args.param}
    start = time.perf_counter()
    results = runner.run_notebooks(
        args.notebooks, params=params, fast=args.fast, output_dir=args.output_dir,
        workers=args.workers, timeout=args.timeout,
    )
    print(runner.format_summary(results, elapsed=time.perf_counter() - start))
    return 0 if all(r.passed for r in results) else 1


def _exercises(args: argparse.Namespace) -> int:
    from mlkit.exercises import build

    return build.build_all(check=args.check)


def _progress(args: argparse.Namespace) -> int:
    from mlkit.exercises import progress

    print(progress.summary_text())
    return 0


def _data(args: argparse.Namespace) -> int:
    from mlkit.course import datasets

    for name, state in datasets.verify().items():
        print(f"{name}: {state}")
    return 0


def _store(args: argparse.Namespace) -> int:
    from mlkit.course.quiet import quiet
    from mlkit.course.store import Store

    with quiet():
        text = Store(args.home).summary()
    print(text)
    return 0


def _grade(args: argparse.Namespace) -> int:
    from mlkit import grade
    from mlkit.grade import gradebook, sandbox

    limits = grade.Limits(cell_s=args.cell_timeout, notebook_s=args.timeout, memory_mb=args.memory_mb,
                          processes=args.processes)
    print(f"grading with the sandbox: {sandbox.isolation()}", flush=True)
    book = grade.grade_class(args.submissions, jobs=args.jobs, out_dir=args.output_dir, dask=args.dask, limits=limits,
                             seed=args.seed, hidden=args.hidden)
    notebooks = book.frame.drop_duplicates(["learner", "file"])
    print(gradebook.text_table(book.summary))
    print(f"\n{len(notebooks)} notebooks from {notebooks.learner.nunique()} learners; "
          f"{int(notebooks.ran_to_end.sum())} ran to the end. Gradebook: {book.paths['gradebook']}, "
          f"summary page: {book.paths['html']}, feedback: {book.paths['feedback']}/; hidden cases drawn "
          f"from the seed in {book.paths['seed']}")
    return 0


def _release_class(args: argparse.Namespace) -> int:
    from mlkit.grade.release import release_class

    written = release_class(args.dest)
    print(f"wrote the class release to {args.dest} ({len(written)} files; no solutions, tests or grading "
          "fixtures). Hand it out; keep the seed you grade with to yourself.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlkit", description="Hands-on ML lifecycle course tools.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute lesson notebooks in batch (papermill) and print a summary")
    run.add_argument("notebooks", nargs="*", help="lesson names (00, 01_data), notebook paths or folders; default: every lesson")
    run.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="set a notebook parameter (repeatable)")
    run.add_argument("--fast", action="store_true", help="quick mode with small data (used by the tests)")
    run.add_argument("-o", "--output-dir", default="runs/latest", help="where executed notebooks go (default runs/latest)")
    run.add_argument("-j", "--workers", type=int, default=1, help="notebooks to run at once (default 1)")
    run.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell (default 900)")
    run.set_defaults(func=_run)

    ex = sub.add_parser("exercises", help="generate exercises/ from solutions/")
    ex_sub = ex.add_subparsers(dest="action", required=True)
    build = ex_sub.add_parser("build", help="regenerate the learner notebooks")
    build.add_argument("--check", action="store_true", help="fail if exercises/ is out of date; write nothing")
    build.set_defaults(func=_exercises)

    sub.add_parser("progress", help="show your quiz and exercise progress").set_defaults(func=_progress)
    data = sub.add_parser("data", help="check the shipped data files")
    data.add_argument("action", choices=["verify"])
    data.set_defaults(func=_data)
    store = sub.add_parser("store", help="show the course store: data releases, model versions, aliases, lineage")
    store.add_argument("--home", default=None, help="the course folder holding store/ (default: $MLKIT_HOME)")
    store.set_defaults(func=_store)
    gr = sub.add_parser("grade", help="grade a class's handed-in exercise notebooks, each in a sandbox")
    gr.add_argument("submissions", nargs="+", help="notebooks, folders (one sub-folder per learner) or zip files")
    gr.add_argument("-j", "--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    gr.add_argument("-o", "--output-dir", default="grades", help="where the gradebook goes (default grades/)")
    gr.add_argument("--dask", metavar="ADDRESS", help="run on an existing Dask cluster (tcp://scheduler:8786)")
    gr.add_argument("--cell-timeout", type=float, default=120, help="seconds allowed per cell (default 120)")
    gr.add_argument("--timeout", type=float, default=600, help="seconds allowed per notebook (default 600)")
    gr.add_argument("--memory-mb", type=int, default=6144,
                    help="memory limit per notebook, all its processes together (default 6144)")
    gr.add_argument("--processes", type=int, default=256,
                    help="processes and threads a notebook may run at once (default 256)")
    gr.add_argument("--seed", help="your secret seed for the hidden test inputs (default: a fresh one, "
                                   "written to OUTPUT_DIR/seed.txt)")
    gr.add_argument("--hidden", type=int, default=1, help="hidden cases per question (default 1; 0: none)")
    gr.set_defaults(func=_grade)
    rel = sub.add_parser("release-class", help="write what you hand out: the course without solutions")
    rel.add_argument("dest", help="a new folder for the class release")
    rel.set_defaults(func=_release_class)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MlkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
