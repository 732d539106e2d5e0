"""How long an Evidently drift report takes as the windows grow (lesson 05).

Reference: winter hours of the bike-sharing data, current: summer hours, both resampled
to 1k, 10k and 100k rows; every column with more than 20 distinct values. For each size: the median wall time
of ``Report([DataDriftPreset()]).run(...)`` over the repeats, the same verdict computed by
``DriftDetector.quick`` (scipy only), and the import time of evidently (fresh process).

    .venv/bin/python benchmarks/drift_scale.py            # writes benchmarks/drift_scale.json
    .venv/bin/python benchmarks/drift_scale.py --smoke    # 1k rows, one repeat (tests)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import evidently.presets; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "EVIDENTLY_DISABLE_TELEMETRY": "1"})
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1k rows, one repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "drift_scale.json")
    args = parser.parse_args()
    os.environ["EVIDENTLY_DISABLE_TELEMETRY"] = "1"

    from evidently import Report
    from evidently.presets import DataDriftPreset

    from mlkit.course import datasets
    from mlkit.monitoring import drift

    bikes = datasets.load_bike_sharing()
    cols = [c for c in bikes.select_dtypes("number").columns if bikes[c].nunique() > 20]  # numeric to Evidently
    winter, summer = bikes[bikes.season == 1][cols], bikes[bikes.season == 3][cols]
    sizes, repeats = ([1_000], 1) if args.smoke else ([1_000, 10_000, 100_000], args.repeats)
    results = []
    for n in sizes:
        ref = winter.sample(n, replace=True, random_state=0).reset_index(drop=True)
        cur = summer.sample(n, replace=True, random_state=1).reset_index(drop=True)
        times, share = [], None
        for _ in range(repeats):
            t = time.perf_counter()
            snap = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
            snap.dict()
            times.append(time.perf_counter() - t)
        det = drift.DriftDetector(ref, cols)
        share = det.result_from(snap, n).share
        t = time.perf_counter()
        quick = det.quick(cur)
        quick_s = time.perf_counter() - t
        results.append({"rows": n, "columns": len(cols), "evidently_s_median": round(statistics.median(times), 3),
                        "evidently_s_all": [round(x, 3) for x in times], "quick_scipy_s": round(quick_s, 3),
                        "drift_share": round(share, 3), "quick_share": round(quick.share, 3)})
        print(results[-1])
    out = {"benchmark": "drift_scale", "smoke": args.smoke, "repeats": repeats,
           "import_evidently_s": round(import_seconds(), 2), "results": results,
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                       "load_average_1m_at_end": round(os.getloadavg()[0], 1)},
           "note": "wall-clock seconds on a shared machine; compare sizes within one run, not across machines"}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
