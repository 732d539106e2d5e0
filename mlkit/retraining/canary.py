"""Lesson 06: the canary of a retrain, through lesson 04's router.

:func:`router_canary` starts a tiny model server for the champion and one for the challenger,
and lesson 04's router (:mod:`mlkit.deployment.router`) in front of them with the champion
primary. It gives the challenger a share of the users (``POST /admin/canary``), sends recent
rows as requests with ``X-User`` headers, reads ``/admin/status`` and raises
:class:`mlkit.retraining.pipeline.RetrainError` when the challenger errs, is slower than the
SLO or answers impossible (negative) counts. Every process is stopped, pass or fail.

The model server is an aiohttp app (it starts faster than FastAPI + uvicorn, and needs no
pandas)::

    python -m mlkit.retraining.canary serve --model model.json --port 8001 [--fault errors]

``POST /predict`` takes a JSON list of rows (the :data:`FEATURES` columns) and answers
``{"predictions": [...]}``; ``GET /health`` answers ``{"status": "ok"}``. ``--fault`` breaks
it on purpose: ``errors`` (every 5th request answers 500), ``negative`` (counts shifted below
zero) or ``slow`` (300 ms per request), for lesson 06's failed-canary demonstration.
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlkit.retraining.pipeline import BikeModel

FEATURES = ("hr", "workingday", "weathersit", "temp", "hum", "windspeed")
FAULTS = ("errors", "negative", "slow")
_ENV = {"PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


# ---------------------------------------------------------------- the model server
def predict_row(model: dict[str, Any], row: dict[str, Any]) -> float:
    """One row's predicted bikers per hour, computed like ``BikeModel.predict`` (pure Python)."""
    kind = "workday" if int(row["workingday"]) == 1 else "day off"
    x = {f"hour_of_day_{int(row['hr']):02d} {kind}": 1.0, f"weathersit_{row['weathersit']}": 1.0,
         **{c: float(row[c]) for c in ("temp", "hum", "windspeed")}}
    return float(model["intercept"]) + sum(c * x.get(col, 0.0) for col, c in zip(model["columns"], model["coef"]))


def make_app(model: dict[str, Any], fault: str | None = None, label: str = "model") -> Any:
    """The model server as an aiohttp application (``fault``: one of :data:`FAULTS` or None)."""
    import asyncio

    from aiohttp import web

    count = {"n": 0}

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "model": label, "fault": fault})

    async def predict(request: web.Request) -> web.Response:
        count["n"] += 1
        try:
            rows = await request.json()
        except ValueError:
            return web.json_response({"detail": "the body is not valid JSON"}, status=400)
        rows = rows.get("rows") if isinstance(rows, dict) else rows
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            return web.json_response({"detail": "send a JSON list of rows (objects)"}, status=400)
        missing = sorted({f for r in rows for f in FEATURES if f not in r})
        if missing:
            return web.json_response({"detail": f"rows lack {missing}; send {list(FEATURES)}"}, status=400)
        if fault == "errors" and count["n"] % 5 == 0:
            return web.json_response({"detail": "injected fault"}, status=500)
        if fault == "slow":
            await asyncio.sleep(0.3)
        try:
            preds = [predict_row(model, r) - (1e4 if fault == "negative" else 0.0) for r in rows]
        except (TypeError, ValueError) as exc:
            return web.json_response({"detail": f"bad row: {exc}"}, status=400)
        return web.json_response({"predictions": preds}, headers={"x-model-version": label})

    app = web.Application()
    app.add_routes([web.get("/health", health), web.post("/predict", predict)])
    return app


def server(model_path: str | Path, *, name: str = "model", fault: str | None = None,
           log_dir: str | Path | None = None) -> Any:
    """A :class:`~mlkit.course.processes.BackgroundServer` (not started) serving the model JSON at ``model_path``."""
    from mlkit.course.processes import BackgroundServer

    args = ["-m", "mlkit.retraining.canary", "serve", "--model", str(model_path), "--port", "{port}", "--label", name]
    if fault:
        args += ["--fault", fault]
    return BackgroundServer.python(*args, name=f"{name} server", health_path="/health", env=_ENV, startup_timeout=60,
                                   log_file=Path(log_dir) / f"{name}-server.log" if log_dir else None)


# ---------------------------------------------------------------- the canary
def _send(url: str, records: list[dict[str, Any]]) -> dict[str, list[float]]:
    """POST each row to ``url``/predict as user ``user-i``; the predictions each backend answered."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    answered: dict[str, list[float]] = {}
    try:
        for i, row in enumerate(records):
            body = json.dumps([row])
            try:
                conn.request("POST", "/predict", body, {"content-type": "application/json", "x-user": f"user-{i}"})
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                continue
            if response.status == 200:
                answered.setdefault(response.getheader("x-backend", "?"), []).extend(json.loads(data)["predictions"])
    finally:
        conn.close()
    return answered


def router_canary(champion: BikeModel, challenger: BikeModel, rows: pd.DataFrame, weight: float = 0.25, *,
                  slo_p99_ms: float = 250.0, max_error_rate: float = 0.0, min_requests: int = 10,
                  fault: str | None = None, log_dir: str | Path | None = None) -> dict[str, Any]:
    """A canary through lesson 04's router (lesson 06): ``weight`` of the users of ``rows`` go to the challenger.

    Raises ``RetrainError`` when the challenger's error rate exceeds ``max_error_rate``, its p99
    latency (as the router measured it) exceeds ``slo_p99_ms``, it answers a negative count, or
    it got fewer than ``min_requests`` requests. ``fault`` (one of :data:`FAULTS`) breaks the
    challenger's server on purpose. Returns per-backend requests, errors, p99 and the seconds taken.
    """
    from mlkit.course.processes import stop_all
    from mlkit.deployment import serving
    from mlkit.retraining.pipeline import RetrainError

    if fault is not None and fault not in FAULTS:
        raise ValueError(f"fault must be one of {FAULTS} or None, not {fault!r}.")
    missing = [c for c in FEATURES if c not in rows.columns]
    if missing or not len(rows):
        raise ValueError(f"rows must be a non-empty frame with the columns {list(FEATURES)}; missing {missing}.")
    t0 = time.perf_counter()
    records = json.loads(rows[list(FEATURES)].to_json(orient="records"))
    with tempfile.TemporaryDirectory(prefix="mlkit-canary-") as tmp:
        paths = {}
        for name, model in (("champion", champion), ("challenger", challenger)):
            paths[name] = Path(tmp) / f"{name}.json"
            paths[name].write_text(json.dumps(model.to_dict()))
        servers = {"champion": server(paths["champion"], name="champion", log_dir=log_dir),
                   "challenger": server(paths["challenger"], name="challenger", fault=fault, log_dir=log_dir)}
        router = serving.start_router({n: s.url for n, s in servers.items()}, "champion", name="canary router",
                                      log_dir=log_dir, start=False)
        procs = [*servers.values(), router]
        try:
            serving.start_all(procs)
            started = time.perf_counter()
            serving.call(router.url, "/admin/canary", {"backend": "challenger", "weight": weight})
            answered = _send(router.url, records)
            backends = serving.call(router.url)["backends"]
            summary = {"weight": weight, "start_s": round(started - t0, 2),
                       **{n: {"requests": b["requests"], "errors": b["errors"], "p99_ms": b["p99_ms"],
                              "negative": sum(p < 0 for p in answered.get(n, []))} for n, b in backends.items()}}
            problems = _problems(summary["challenger"], slo_p99_ms, max_error_rate, min_requests)
            if problems:
                serving.call(router.url, "/admin/rollback", {})  # every user back on the champion
                raise RetrainError(f"canary through the router: the challenger {'; '.join(problems)} "
                                   f"(champion: {summary['champion']['errors']} errors in "
                                   f"{summary['champion']['requests']} requests)")
        finally:
            stop_all(procs)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary


def _problems(c: dict[str, Any], slo_p99_ms: float, max_error_rate: float, min_requests: int) -> list[str]:
    out = []
    if c["requests"] < min_requests:
        out.append(f"got only {c['requests']} requests (fewer than {min_requests}): too few to judge")
    if c["requests"] and c["errors"] / c["requests"] > max_error_rate:
        out.append(f"failed {c['errors']} of {c['requests']} requests")
    if c["p99_ms"] is not None and c["p99_ms"] > slo_p99_ms:
        out.append(f"p99 {c['p99_ms']:.0f} ms is over the SLO of {slo_p99_ms:.0f} ms")
    if c["negative"]:
        out.append(f"answered {c['negative']} negative counts")
    return out


def describe(summary: dict[str, Any]) -> str:
    """One line per backend: requests, errors and p99 as the router saw them."""
    return "\n".join(f"{n:>10}: {b['requests']:>4} requests, {b['errors']} errors, p99 {b['p99_ms'] or 0:.1f} ms"
                     for n, b in summary.items() if isinstance(b, dict))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="lesson 06's bike model server (for the canary)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a BikeModel stored as JSON")
    serve.add_argument("--model", required=True, help="the model's JSON file (BikeModel.to_dict())")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--label", default="model")
    serve.add_argument("--fault", choices=FAULTS, default=None)
    args = parser.parse_args(argv)
    from aiohttp import web

    model = json.loads(Path(args.model).read_text())
    web.run_app(make_app(model, args.fault, args.label), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
