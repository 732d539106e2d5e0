"""The router of lesson 04: a real HTTP reverse proxy (aiohttp) in front of model servers.

Run as its own process (:func:`mlkit.deployment.launch.start_router` starts it)::

    python -m mlkit.deployment.router --port 8080    # backends from $MLKIT_ROUTER_BACKENDS (JSON)

Every request that is not under ``/admin/`` is forwarded to one backend, chosen like this:

* **blue-green**: all traffic goes to the *primary*; ``POST /admin/switch {"to": "green"}``
  moves it at once (requests in flight finish where they started), ``POST /admin/rollback``
  moves it back;
* **canary**: a share ``weight`` of users goes to the canary backend. The user key is the
  ``X-User`` header, so a user stays on one side (:func:`mlkit.deployment.rollout.goes_to_canary`);
  ``POST /admin/canary {"backend": "green", "weight": 0.1}`` sets it by hand,
  ``POST /admin/ramp {...}`` ramps it 5 -> 25 -> 50 -> 100 % while checking the SLO
  (:func:`mlkit.deployment.rollout.breach`) every 50 ms, rolling back on a breach and
  promoting the canary to primary at the end (with ``"wait": true`` it answers once decided);
* **shadow**: ``POST /admin/shadow {"backend": "green"}`` also sends each request to the
  shadow backend *after* the user's answer is on its way, and records where the two disagree;
  ``{"backend": null}`` turns it off once the copies in flight are back.

``GET /admin/status`` reports the state and per-backend counts and latencies (as this router
measured them). aiohttp is used on both sides: lesson 04's benchmark found httpx the bottleneck.
With ``MLKIT_ROUTER_TRACE_FILE`` set, each request leaves OpenTelemetry spans in that file.

Upward import: mlkit.monitoring.tracing, because lesson 05 traces a request from the router to the
model server (a span per request, the ``traceparent`` header passed on).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import time
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from mlkit.deployment import rollout
from mlkit.monitoring.tracing import Tracing

FORWARD = ("content-type", "x-request-id", "x-user")
BACKENDS_HELP = 'Set MLKIT_ROUTER_BACKENDS to a JSON object {"name": "http://127.0.0.1:PORT", ...}.'


class RouterSettings(BaseSettings):
    """The router's environment (pydantic-settings): ``MLKIT_ROUTER_BACKENDS`` (JSON, {name: url})
    and ``MLKIT_ROUTER_PRIMARY`` (default: the first backend)."""

    model_config = SettingsConfigDict(env_prefix="MLKIT_ROUTER_", extra="ignore", env_ignore_empty=True)
    backends: dict[str, str] = {}
    primary: str | None = None
    trace_file: str | None = None

    @classmethod
    def read(cls) -> RouterSettings:
        """The settings of this process; SystemExit saying what to set when they are missing or wrong."""
        try:
            settings = cls()
        except (ValidationError, SettingsError) as exc:
            raise SystemExit(f"{BACKENDS_HELP} ({str(exc).splitlines()[0]})") from None
        if not settings.backends:
            raise SystemExit(BACKENDS_HELP)
        return settings


class Backend:
    """One model server as the router sees it: counts and recent latencies (ms)."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url.rstrip("/")
        self.requests = self.errors = 0
        self.latencies: collections.deque[float] = collections.deque(maxlen=20_000)
        self.window: list[float] = []  # latencies of the current ramp stage
        self.window_errors = 0

    def record(self, ms: float, failed: bool) -> None:
        self.requests += 1
        self.errors += failed
        self.latencies.append(ms)
        self.window.append(ms)
        self.window_errors += failed

    def reset_window(self) -> None:
        self.window, self.window_errors = [], 0

    def stats(self) -> dict[str, Any]:
        lat = list(self.latencies)
        return {"url": self.url, "requests": self.requests, "errors": self.errors,
                "error_rate": self.errors / self.requests if self.requests else 0.0,
                "p50_ms": rollout.percentile(lat, 50) if lat else None,
                "p99_ms": rollout.percentile(lat, 99) if lat else None}


class Router:
    """The routing state, changed only through the admin API."""

    def __init__(self, backends: dict[str, str], primary: str, trace_file: str | None = None) -> None:
        if primary not in backends:
            raise ValueError(f"primary {primary!r} is not one of the backends {sorted(backends)}")
        self.backends = {name: Backend(name, url) for name, url in backends.items()}
        self.primary, self.previous = primary, None
        self.canary: str | None = None
        self.weight = 0.0
        self.shadow: str | None = None
        self.shadow_stats: dict[str, Any] = {"requests": 0, "disagreements": 0, "errors": 0, "examples": []}
        self.ramp: dict[str, Any] = {"status": "idle"}
        self.ramp_task: asyncio.Task | None = None
        self.events: list[dict[str, Any]] = []
        self.session: ClientSession | None = None
        self.pending: set[asyncio.Task] = set()
        self.tracing = Tracing(trace_file, "router")

    def event(self, what: str, **detail: Any) -> None:
        self.events.append({"t": time.time(), "event": what, **detail})
        del self.events[:-200]

    def choose(self, key: str | None) -> str:
        if self.canary and rollout.goes_to_canary(key, self.weight, random.random()):
            return self.canary
        return self.primary

    def status(self) -> dict[str, Any]:
        return {"primary": self.primary, "previous": self.previous, "canary": self.canary, "weight": self.weight,
                "shadow": self.shadow, "shadow_stats": self.shadow_stats, "ramp": self.ramp,
                "backends": {n: b.stats() for n, b in self.backends.items()}, "events": self.events[-20:]}

    # ------------------------------------------------------------------ forwarding
    async def forward(self, name: str, method: str, path: str, body: bytes,
                      headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        backend = self.backends[name]
        t0 = time.perf_counter()
        try:
            assert self.session is not None
            async with self.session.request(method, backend.url + path, data=body, headers=headers) as r:
                data = await r.read()
                status = r.status
                out = {"Content-Type": r.headers.get("Content-Type", "application/json"),
                       "x-model-version": r.headers.get("x-model-version", "")}
        except (TimeoutError, ClientError, OSError) as exc:
            status, out = 502, {"Content-Type": "application/json", "x-model-version": ""}
            data = json.dumps({"detail": f"backend {name} failed: {type(exc).__name__}: {exc}"}).encode()
        backend.record((time.perf_counter() - t0) * 1000, status >= 500)
        out["x-backend"] = name
        return status, data, out

    async def mirror(self, name: str, method: str, path: str, body: bytes, headers: dict[str, str],
                     answered: bytes) -> None:
        """Send a copy to the shadow backend and compare its label with the one the user got."""
        status, data, _ = await self.forward(name, method, path, body, headers)
        s = self.shadow_stats
        s["requests"] += 1
        if status >= 400:
            s["errors"] += 1
            return
        try:
            mine, theirs = json.loads(answered), json.loads(data)
            a = mine.get("label") or [p["label"] for p in mine.get("predictions", [])]
            b = theirs.get("label") or [p["label"] for p in theirs.get("predictions", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            s["errors"] += 1
            return
        if a != b:
            s["disagreements"] += 1
            if len(s["examples"]) < 20:
                s["examples"].append({"request": body[:300].decode(errors="replace"), "served": a, "shadow": b})

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k in FORWARD if (v := request.headers.get(k)) is not None}
        name = self.choose(request.headers.get("x-user"))
        with self.tracing.proxy(request.headers, headers, backend=name):
            status, data, out = await self.forward(name, request.method, request.path_qs, body, headers)
        shadow = self.shadow
        if shadow and shadow != name and request.method == "POST" and status < 400:
            task = asyncio.create_task(self.mirror(shadow, request.method, request.path_qs, body, headers, data))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)
        return web.Response(body=data, status=status, headers=out)

    # ------------------------------------------------------------------ the staged ramp
    async def run_ramp(self, name: str, stages: list[float], stage_s: float, slo: rollout.SLO) -> None:
        backend = self.backends[name]
        self.canary = name
        self.ramp = {"status": "running", "backend": name, "stages": stages, "stage": None, "slo": slo.to_dict(),
                     "history": [], "reason": None, "started": time.time()}
        self.event("ramp started", backend=name, stages=stages)
        for weight in stages:
            self.weight = weight
            self.ramp["stage"] = weight
            backend.reset_window()
            t_end = time.monotonic() + stage_s
            give_up = time.monotonic() + 20 * stage_s + 5
            while True:
                await asyncio.sleep(0.05)
                w = rollout.window(backend.window, backend.window_errors)
                why = rollout.breach(w, slo)
                if why:
                    self._rollback_canary(f"stage {weight:.0%}: {why}", w)
                    return
                now = time.monotonic()
                if now >= t_end and w.requests >= slo.min_requests:
                    break
                if now >= give_up:
                    self._rollback_canary(f"stage {weight:.0%}: only {w.requests} requests, too few to judge", w)
                    return
            self.ramp["history"].append({"stage": weight, "requests": w.requests, "errors": w.errors,
                                         "p99_ms": w.p99_ms, "passed": True})
            self.event("stage passed", stage=weight, requests=w.requests)
        self.previous, self.primary = self.primary, name
        self.canary, self.weight = None, 0.0
        self.ramp.update(status="promoted", stage=None, finished=time.time())
        self.event("promoted", backend=name)

    def _rollback_canary(self, reason: str, w: rollout.Window | None = None) -> None:
        stage = self.weight
        self.canary, self.weight = None, 0.0
        if w is not None:
            self.ramp.setdefault("history", []).append({"stage": stage, "requests": w.requests, "errors": w.errors,
                                                        "p99_ms": w.p99_ms, "passed": False})
        self.ramp.update(status="rolled_back", reason=reason, stage=None, finished=time.time())
        self.event("canary rolled back", reason=reason)


# ---------------------------------------------------------------------- the admin API
def _bad(message: str) -> web.Response:
    return web.json_response({"detail": message}, status=400)


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text=json.dumps({"detail": "the body is not valid JSON"}),
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"detail": "send a JSON object"}), content_type="application/json")
    return body


def admin_routes(router: Router) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    def known(name: Any) -> bool:
        return isinstance(name, str) and name in router.backends

    def names() -> str:
        return ", ".join(sorted(router.backends))

    @routes.get("/admin/status")
    async def status(request: web.Request) -> web.Response:
        return web.json_response(router.status())

    @routes.post("/admin/switch")
    async def switch(request: web.Request) -> web.Response:
        to = (await _json(request)).get("to")
        if not known(to):
            return _bad(f"'to' must be one of: {names()}")
        if to != router.primary:
            router.previous, router.primary = router.primary, to
            router.event("switched", to=to)
        return web.json_response(router.status())

    @routes.post("/admin/rollback")
    async def rollback(request: web.Request) -> web.Response:
        if router.ramp_task and not router.ramp_task.done():
            router.ramp_task.cancel()
        if router.canary:
            router._rollback_canary("rolled back by hand")
        elif router.previous:
            router.primary, router.previous = router.previous, router.primary
            router.event("rolled back", to=router.primary)
        return web.json_response(router.status())

    @routes.post("/admin/canary")
    async def canary(request: web.Request) -> web.Response:
        body = await _json(request)
        name, weight = body.get("backend"), body.get("weight")
        if not known(name) or name == router.primary:
            return _bad(f"'backend' must be one of: {names()}, and not the primary ({router.primary})")
        if not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
            return _bad("'weight' must be a number from 0 to 1 (the canary's share of users)")
        router.canary, router.weight = (name if weight > 0 else None), float(weight)
        router.event("canary weight", backend=name, weight=weight)
        return web.json_response(router.status())

    @routes.post("/admin/promote")
    async def promote(request: web.Request) -> web.Response:
        if router.ramp_task and not router.ramp_task.done():
            router.ramp_task.cancel()
        if not router.canary:
            return _bad("no canary to promote: set one with /admin/canary or /admin/ramp first")
        router.previous, router.primary = router.primary, router.canary
        router.canary, router.weight = None, 0.0
        router.event("promoted", backend=router.primary)
        return web.json_response(router.status())

    @routes.post("/admin/ramp")
    async def ramp(request: web.Request) -> web.Response:
        body = await _json(request)
        name = body.get("backend")
        if not known(name) or name == router.primary:
            return _bad(f"'backend' must be one of: {names()}, and not the primary ({router.primary})")
        stages = body.get("stages", list(rollout.STAGES))
        if (not isinstance(stages, list) or not stages or
                not all(isinstance(s, (int, float)) and 0 < s <= 1 for s in stages)):
            return _bad("'stages' must be a list of shares in (0, 1], e.g. [0.05, 0.25, 0.5, 1.0]")
        try:
            slo = rollout.SLO(**body.get("slo", {}))
            stage_s = float(body.get("stage_s", 2.0))
        except (TypeError, ValueError) as exc:
            return _bad(f"bad ramp settings: {exc}")
        wait = body.get("wait", False)
        if not isinstance(wait, bool):
            return _bad("'wait' must be true (answer once the ramp is decided) or false (answer at once)")
        if router.ramp_task and not router.ramp_task.done():
            router.ramp_task.cancel()
        router.ramp = {"status": "starting", "backend": name}
        router.ramp_task = asyncio.create_task(router.run_ramp(name, [float(s) for s in stages], stage_s, slo))
        if wait:  # each stage gives up after 20 stage lengths + 5 s without enough requests
            await asyncio.wait([router.ramp_task], timeout=len(stages) * (20 * stage_s + 5) + 5)
        return web.json_response(router.status())

    @routes.post("/admin/shadow")
    async def shadow(request: web.Request) -> web.Response:
        name = (await _json(request)).get("backend")
        if name is not None and (not known(name) or name == router.primary):
            return _bad(f"'backend' must be null or one of: {names()}, and not the primary ({router.primary})")
        router.shadow = name
        if name is not None:  # a new shadow starts new counts; turning it off keeps them for reading
            router.shadow_stats = {"requests": 0, "disagreements": 0, "errors": 0, "examples": []}
        elif router.pending:  # turning it off waits for the copies still in flight: the counts are final
            await asyncio.wait(list(router.pending), timeout=30)
        router.event("shadow", backend=name)
        return web.json_response(router.status())

    @routes.post("/admin/reset")
    async def reset(request: web.Request) -> web.Response:
        for name, b in list(router.backends.items()):
            router.backends[name] = Backend(name, b.url)
        return web.json_response(router.status())

    return routes


def make_app(backends: dict[str, str], primary: str, trace_file: str | None = None) -> web.Application:
    """The router as an aiohttp application (its client session opens with the app)."""
    router = Router(backends, primary, trace_file)
    app = web.Application(client_max_size=2_000_000)
    app["router"] = router

    async def session(app: web.Application):
        router.session = ClientSession(connector=TCPConnector(limit=0, ttl_dns_cache=None),
                                       timeout=ClientTimeout(total=30), auto_decompress=False)
        yield
        await router.session.close()

    app.cleanup_ctx.append(session)
    app.add_routes(admin_routes(router))
    app.router.add_route("*", "/{tail:(?!admin/).*}", router.handle)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="lesson 04's router (a reverse proxy for rollouts)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    settings = RouterSettings.read()
    backends = settings.backends
    primary = settings.primary or next(iter(backends))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(make_app(backends, primary, settings.trace_file), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
