"""Grading throughput, and where a submission's time goes (issue 26).

    .venv/bin/python benchmarks/grading.py            # writes benchmarks/results/grading.json
    .venv/bin/python benchmarks/grading.py --smoke    # one notebook, -j 1 only (a test of the code)

Throughput: `mlkit grade` (the command an instructor runs, its start-up included) on the
exercise-00 notebooks of the fixture class's well-behaved and forging learners
(tests/fixtures/class: solved, untouched, partly solved, wrong, forged, typed in, borrowing),
with -j 1 and -j 2, each twice; submissions per minute from the median. The bombs and the
endless loop are left out: they measure the limits, not the grader.

Where the time goes: one solved notebook graded alone, split into the sandbox's start (a fresh
process, its imports, the namespaces), the kernel's start, the learner's cells, the extraction
cells (the learner's functions on the examples and the hidden cases), the kernel's shutdown,
and the judging in the grader's own process; with the CPU seconds the whole submission used
(cgroups), which the machine's other load does not change. `run_all.py --only grading` calls
this too. The machine's load average is recorded beside the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLASS = ROOT / "tests" / "fixtures" / "class"
LESSON = "00_lifecycle_overview"
LEARNERS = ("alice", "bob", "carol", "dave", "judy", "kate", "leo", "pat")


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def throughput(notebooks: list[Path], jobs: int, repeats: int) -> dict:
    """`mlkit grade` wall time for ``notebooks`` with ``-j jobs``; submissions per minute."""
    times, cpu = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as grades:
            start = time.perf_counter()
            subprocess.run([str(Path(sys.executable).parent / "mlkit"), "grade", *map(str, notebooks), "-j", str(jobs),
                            "-o", grades, "--seed", "2026"], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
            times.append(time.perf_counter() - start)
            book = (Path(grades) / "gradebook.csv").read_text().splitlines()
            import csv

            rows = {(r["learner"], r["file"]): r for r in csv.DictReader(book)}
            cpu += [float(r["cpu_s"]) for r in rows.values() if r.get("cpu_s")]
    out = {**_spread(times), "per_minute": 60 * len(notebooks) / statistics.median(times)}
    if cpu:
        out["cpu_s_per_submission"] = _spread(cpu)
    return out


def breakdown(repeats: int) -> dict:
    """Where the time of one solved notebook goes (seconds), graded alone, warm judge."""
    from mlkit import grade

    phases: dict[str, list[float]] = {}
    path = CLASS / "alice" / f"{LESSON}.ipynb"
    for i in range(repeats + 1):  # the first run warms the grader's judge (its data and models)
        start = time.perf_counter()
        r = grade.grade_one(str(path), "alice", LESSON, grade.Limits(), seed=2026, hidden=1, cpus=1.0)
        total = time.perf_counter() - start
        if i == 0:
            phases.setdefault("judge, first submission (loads data, fits the reference model)", []).append(
                r["judge_s"])
            continue
        seen = {"sandbox start (process, imports, namespaces)": r["wall_s"] - r["seconds"] - r["judge_s"],
                **{f"kernel: {k}": v for k, v in r["timings"].items()}, "judge (grader's process)": r["judge_s"],
                "total": total, "CPU seconds of the submission": r.get("cpu_s") or 0.0}
        for k, v in seen.items():
            phases.setdefault(k, []).append(round(v, 2))
    return {k: _spread(v) for k, v in phases.items()}


def run(smoke: bool = False) -> dict:
    notebooks = [CLASS / who / f"{LESSON}.ipynb" for who in LEARNERS]
    notebooks = notebooks[:1] if smoke else notebooks
    out: dict = {"submissions": len(notebooks), "learners": [p.parent.name for p in notebooks],
                 "load_before": list(os.getloadavg())}
    for jobs in (1,) if smoke else (1, 2):
        out[f"j{jobs}"] = throughput(notebooks, jobs, 1 if smoke else 2)
    out["breakdown"] = breakdown(1 if smoke else 3)
    out["load_after"] = list(os.getloadavg())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one notebook, -j 1 only; results not saved")
    args = parser.parse_args(argv)
    data = run(args.smoke)
    print(json.dumps(data, indent=1))
    if not args.smoke:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from run_all import machine

        data["_machine"], data["_when"] = machine(), time.strftime("%Y-%m-%d")
        (ROOT / "benchmarks" / "results" / "grading.json").write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
