"""Liveness under load (issue 30): how long ``GET /health/live`` takes while the largest batches
the schema allows (256 messages of 2,000 non-ASCII characters, about 1 MB of UTF-8 JSON) are
scored at full concurrency, with the model run on the event loop (the old server) and in a
worker thread (the new default), on the same server process (writing its inference log, as in
the lessons), in alternating rounds.

    .venv/bin/python benchmarks/liveness.py [--concurrency 8] [--seconds 5] [--rounds 3] [--smoke]

``make benchmarks`` runs it as the "liveness" area (``benchmarks/run_all.py --only liveness``).

A probe asks ``/health/live`` every 10 ms from its own thread and connection (what a Kubernetes
liveness probe does, more often). Each mode keeps its median round (by probe p99). A row
"idle" probes the same server with no load: the machine's own noise floor. Writes
``benchmarks/results/liveness.json``, which ``run_all.py`` renders in RESULTS.md, with the load
average: on a shared machine the scheduler's delays add to every probe.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8, help="largest batches in flight at once")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "liveness.json"))
    parser.add_argument("--smoke", action="store_true", help="one short round (checks the script, not the numbers)")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.seconds, args.concurrency = 1, 1.5, 2

    import mlkit
    from mlkit.course import http
    from mlkit.deployment import launch, loadgen

    ws = mlkit.setup("benchmark_liveness")
    ref = ws.require("model@champion")
    rounds: dict[str, list[loadgen.LivenessResult]] = {"idle": [], "loop": [], "thread": []}
    log = ws.path("liveness-inference.jsonl")  # the server writes its inference log, as in the lessons
    log.unlink(missing_ok=True)
    with launch.start_server(ref.uri, name="liveness server", tracking_uri=ws.tracking_uri,
                             inference_log=log) as server:
        limits = http.call(server.url, "/metadata")["limits"]
        body = loadgen.largest_batch(limits["max_batch"], limits["max_chars"])
        for r in range(args.rounds):
            for mode in ("idle", "loop", "thread") if r % 2 == 0 else ("idle", "thread", "loop"):
                launch.admin(server, scoring="thread" if mode == "idle" else mode)
                result = loadgen.liveness_under_load(server.url, body, concurrency=0 if mode == "idle" else
                                                     args.concurrency, duration=args.seconds)
                print(f"round {r + 1} {mode:>6}: {result.summary()}", flush=True)
                rounds[mode].append(result)

    def kept(results: list[loadgen.LivenessResult]) -> dict:
        res = sorted(results, key=lambda x: x.percentile(99))[len(results) // 2]
        return {"probe_p50_ms": round(res.percentile(50), 2), "probe_p99_ms": round(res.percentile(99), 2),
                "probe_max_ms": round(max(res.probe_ms), 2), "probes": len(res.probe_ms),
                "batches_per_s": round(res.batches / res.wall_s, 2), "failed": res.failed,
                "p99_every_round_ms": [round(x.percentile(99), 1) for x in results]}

    out = {mode: kept(results) for mode, results in rounds.items()}
    out["settings"] = {"concurrency": args.concurrency, "seconds": args.seconds, "rounds": args.rounds,
                       "body_bytes": len(body), "limits": limits, "kept": "median round by probe p99",
                       "goal": "thread: probe p99 < 20 ms"}
    out["machine"] = {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                      "python": platform.python_version(), "platform": platform.platform(),
                      "when": time.strftime("%Y-%m-%d %H:%M")}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({m: out[m]["probe_p99_ms"] for m in rounds}))


if __name__ == "__main__":
    main()
