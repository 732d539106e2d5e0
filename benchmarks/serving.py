"""Serving benchmark (lesson 04): a bare FastAPI app, the course's model server, and the server
behind the router, all serving the champion, at one fixed concurrency.

    .venv/bin/python benchmarks/serving.py [--concurrency 16] [--seconds 5] [--rounds 3]

Each set-up is a real uvicorn (or aiohttp) process on 127.0.0.1; the load generator
(:mod:`mlkit.deployment.loadgen`, aiohttp) runs in this process. Rounds alternate the order
of the set-ups and the best round of each is kept (the one least disturbed by other work on
a shared machine). Writes ``benchmarks/serving.json``: p50, p99, req/s per set-up, the load
generator's CPU, and the ratios server/bare (goal >= 0.8) and router/server (goal >= 0.6).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# --- the bare app: the same model, nothing else (run by uvicorn as "serving:bare_app") ---------------
if os.environ.get("MLKIT_BARE_APP") == "1":
    import torch
    from fastapi import FastAPI
    from pydantic import BaseModel

    from mlkit.training import tracking

    torch.set_num_threads(1)
    _clf = tracking.load_spam_model(os.environ["MLKIT_MODEL_URI"])
    bare_app = FastAPI()

    class _Request(BaseModel):
        text: str

    @bare_app.post("/predict")
    async def _predict(req: _Request) -> dict:
        p = float(_clf.predict_proba([req.text])[0])
        return {"label": "spam" if p >= 0.5 else "ham", "spam_probability": p}

    @bare_app.get("/health")
    async def _health() -> dict:
        return {"ok": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "serving.json"))
    args = parser.parse_args()

    import mlkit
    from mlkit.course.processes import BackgroundServer, stop_all
    from mlkit.deployment import launch, loadgen

    ws = mlkit.setup("benchmark_serving")
    ref = ws.require("model@champion")
    messages = ws.require("data@v1").test().text.tolist()
    env = launch.server_env(ref.uri, ws.tracking_uri)
    bare = BackgroundServer.python("-m", "uvicorn", "serving:bare_app", "--app-dir", str(HERE), "--host",
                                   "127.0.0.1", "--port", "{port}", "--no-access-log", "--log-level", "warning",
                                   name="bare FastAPI", health_path="/health", startup_timeout=300,
                                   env={**env, "MLKIT_BARE_APP": "1"})
    course = launch.start_server(ref.uri, name="course server", tracking_uri=ws.tracking_uri, start=False)
    course.startup_timeout = 300
    try:
        launch.start_all([bare, course])
        router = launch.start_router({"course": course.url}, "course")
        targets = {"bare": bare.url, "server": course.url, "router": router.url}
        best: dict[str, loadgen.LoadResult] = {}
        for r in range(args.rounds):
            order = list(targets) if r % 2 == 0 else list(reversed(targets))
            for name in order:
                loadgen.run(targets[name], messages, concurrency=args.concurrency, duration=1.0)  # warm-up
                result = loadgen.run(targets[name], messages, concurrency=args.concurrency, duration=args.seconds)
                print(f"round {r + 1} {name:>6}: {result.summary()}", flush=True)
                if name not in best or result.throughput > best[name].throughput:
                    best[name] = result
    finally:
        stop_all()

    out = {name: {"req_per_s": round(res.throughput, 1), "p50_ms": round(res.percentile(50), 3),
                  "p99_ms": round(res.percentile(99), 3), "requests": res.sent, "failed": res.failed,
                  "client_cpu": round(res.client_cpu, 3)} for name, res in best.items()}
    out["ratios"] = {"server_over_bare": round(best["server"].throughput / best["bare"].throughput, 3),
                     "router_over_server": round(best["router"].throughput / best["server"].throughput, 3),
                     "goals": {"server_over_bare": 0.8, "router_over_server": 0.6}}
    out["settings"] = {"concurrency": args.concurrency, "seconds": args.seconds, "rounds": args.rounds,
                       "kept": "best round per set-up (highest req/s)"}
    out["machine"] = {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                      "python": platform.python_version(), "platform": platform.platform(), "when": time.strftime("%Y-%m-%d %H:%M")}
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["ratios"]), file=sys.stderr)


if __name__ == "__main__":
    main()
