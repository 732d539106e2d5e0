"""How long `import mlkit` takes in a fresh process (target: under 0.3 s).

    python benchmarks/import_time.py [--runs 15]

Uses `python -X importtime`: the cumulative time of the top-level `mlkit` import, and the
wall time of the whole interpreter start + import, median of several fresh processes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGET_S = 0.3


def one_run() -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import mlkit"],
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    cumulative_us = [int(line.split("|")[1]) for line in proc.stderr.splitlines() if line.rstrip().endswith("| mlkit")]
    return cumulative_us[-1] / 1e6, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    runs = [one_run() for _ in range(args.runs)]
    imp = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    print(f"import mlkit: {imp * 1000:.1f} ms (median of {args.runs}); python start + import: {wall * 1000:.0f} ms")
    print(f"target < {TARGET_S * 1000:.0f} ms: {'met' if imp < TARGET_S else 'MISSED'}")
    return 0 if imp < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
