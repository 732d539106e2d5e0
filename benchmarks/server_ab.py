"""A/B of the model server's request path (issue 29's split): two servers of the same champion, one
from another checkout of the course (``--old``, e.g. a worktree of main) and one from this one,
loaded in alternating rounds at one concurrency; the best round of each is kept.

    .venv/bin/python benchmarks/server_ab.py --old /path/to/main-worktree [--rounds 4] [--seconds 3]

Prints req/s and p50/p99 of each and the ratio new/old; record ``uptime``'s load beside them.
"""

from __future__ import annotations

import argparse
import json
import os


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="a checkout of the course whose server is the baseline")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    import mlkit
    from mlkit.course.processes import BackgroundServer, stop_all
    from mlkit.deployment import launch, loadgen

    ws = mlkit.setup("benchmark_server_ab")
    ref = ws.require("model@champion")
    messages = ws.require("data@v1").test().text.tolist()
    env = launch.server_env(ref.uri, ws.tracking_uri)
    old = BackgroundServer(launch.server_command(), name="old server", cwd=args.old,  # its own create_app
                           health_path="/health/ready", startup_timeout=300, env={**env, "PYTHONPATH": args.old})
    new = launch.start_server(ref.uri, name="new server", tracking_uri=ws.tracking_uri, start=False)
    new.startup_timeout = 300
    try:
        launch.start_all([old, new])
        targets = {"old": old.url, "new": new.url}
        best: dict[str, loadgen.LoadResult] = {}
        for r in range(args.rounds):
            for name in (list(targets) if r % 2 == 0 else list(reversed(targets))):
                loadgen.run(targets[name], messages, concurrency=args.concurrency, duration=1.0)  # warm-up
                result = loadgen.run(targets[name], messages, concurrency=args.concurrency, duration=args.seconds)
                print(f"round {r + 1} {name}: {result.summary()}", flush=True)
                if name not in best or result.throughput > best[name].throughput:
                    best[name] = result
    finally:
        stop_all()
    out = {n: {"req_per_s": round(b.throughput, 1), "p50_ms": round(b.percentile(50), 2),
               "p99_ms": round(b.percentile(99), 2)} for n, b in best.items()}
    out["new_over_old"] = round(best["new"].throughput / best["old"].throughput, 3)
    out["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
