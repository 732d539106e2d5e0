"""Start lesson 04's processes with the course launcher: model servers and the router.

* :func:`start_server`: the FastAPI model server (:mod:`mlkit.deployment.server`) for one
  registered model, as a uvicorn process on a free 127.0.0.1 port;
* :func:`start_all`: several at once, their start-ups overlapping;
* :func:`start_router`: the router (:mod:`mlkit.deployment.router`) in front of them.

Every process is a :class:`mlkit.course.processes.BackgroundServer`: ``stop()`` it (the
lesson's last cell does), or use it in a ``with`` block; all stop when the kernel exits. Talk
to them over HTTP with :func:`mlkit.course.http.call`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlkit.course.processes import BackgroundServer

_QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore", "MLKIT_THREADS": "1",
          "OMP_NUM_THREADS": "1"}
APP = "mlkit.deployment.server.app:create_app"  # uvicorn's target (a factory: --factory)


def server_command() -> list[str]:
    """The argv of one model server ({port} filled in by the launcher)."""
    return [sys.executable, "-m", "uvicorn", APP, "--factory", "--host", "127.0.0.1", "--port", "{port}",
            "--no-access-log", "--log-level", "warning"]


def server_env(model_uri: str, tracking_uri: str | None = None, *, kind: str = "spam", label: str | None = None,
               inference_log: str | os.PathLike | None = None, **settings: Any) -> dict[str, str]:
    """Environment of a server process: the model kind and URI, the store, and any ``MLKIT_*``
    setting (``fault_error_rate=0.5`` becomes ``MLKIT_FAULT_ERROR_RATE=0.5``;
    :mod:`mlkit.deployment.server.settings` lists them)."""
    env = {**_QUIET, "MLKIT_MODEL_KIND": kind, "MLKIT_MODEL_URI": model_uri}
    tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = env["MLFLOW_REGISTRY_URI"] = tracking_uri
    if label:
        env["MLKIT_VERSION_LABEL"] = label
    if inference_log:
        env["MLKIT_INFERENCE_LOG"] = str(inference_log)
    for key, value in settings.items():
        env[f"MLKIT_{key.upper()}"] = str(value)
    return env


def start_server(model_uri: str, *, kind: str = "spam", name: str = "model server", tracking_uri: str | None = None,
                 log_dir: str | os.PathLike | None = None, start: bool = True, **settings: Any) -> BackgroundServer:
    """One model server for ``model_uri`` on a free 127.0.0.1 port, started and ready (model loaded).

    ``kind`` names the model adapter: "spam" (lesson 02's classifier) or "bike" (lesson 06's
    bike-demand model). Keyword settings: ``label``, ``inference_log`` and the server's
    ``MLKIT_*`` settings in lower case (``fault_error_rate=0.2``, ``fault_latency_ms=300``,
    ``fault_bad_output_rate=1``, ``microbatch_ms=2``, ``cache_size=1000``, ``quantize="int8"``,
    ``trace_file=path``: OpenTelemetry spans, lesson 05).
    """
    from mlkit.course.processes import BackgroundServer

    log_file = Path(log_dir) / f"{name.replace(' ', '-')}.log" if log_dir else None
    server = BackgroundServer(server_command(), name=name, health_path="/health/ready", startup_timeout=120,
                              log_file=log_file, env=server_env(model_uri, tracking_uri, kind=kind, **settings))
    return server.start() if start else server


def start_all(servers: Iterable[BackgroundServer]) -> list[BackgroundServer]:
    """Start servers side by side (their start-ups overlap); on any failure stop them all and raise."""
    servers = list(servers)
    try:
        for s in servers:
            s.start(wait=False)
        for s in servers:
            s.wait_ready()
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return servers


def start_router(backends: Mapping[str, str], primary: str, *, name: str = "router",
                 log_dir: str | os.PathLike | None = None, start: bool = True,
                 trace_file: str | os.PathLike | None = None) -> BackgroundServer:
    """The router (an aiohttp reverse proxy) in front of ``backends`` ({name: url}), all traffic to ``primary``;
    with ``trace_file``, its OpenTelemetry spans go to that file (lesson 05)."""
    from mlkit.course.processes import BackgroundServer

    env = {**_QUIET, "MLKIT_ROUTER_BACKENDS": json.dumps(dict(backends)), "MLKIT_ROUTER_PRIMARY": primary}
    if trace_file:
        env["MLKIT_ROUTER_TRACE_FILE"] = str(trace_file)
    server = BackgroundServer.python("-m", "mlkit.deployment.router", "--port", "{port}", name=name,
                                     health_path="/admin/status", env=env,
                                     log_file=Path(log_dir) / f"{name}.log" if log_dir else None)
    return server.start() if start else server
