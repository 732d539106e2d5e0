"""Start the lesson's servers with the course launcher, and read a model by its registry URI (lesson 04).

* :func:`start_server` / :func:`start_servers`: the FastAPI model server
  (:mod:`mlkit.deployment.server`) as uvicorn processes on free 127.0.0.1 ports;
* :func:`start_router`: the router (:mod:`mlkit.deployment.router`) in front of them;
* :func:`load_model`, :func:`model_metadata`: what a server process calls at start-up.

Every server is a :class:`mlkit.course.processes.BackgroundServer`: ``stop()`` it (the
lesson's last cell does), or use it in a ``with`` block; all stop when the kernel exits.
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


def load_model(uri: str) -> Any:
    """The spam pipeline (TF-IDF + MLP) registered at ``uri``, loaded without unpickling.

    ``models:/spam-classifier@champion`` goes through the course store's
    ``mlkit.training.tracking.load_spam_model``.
    """
    from mlkit.training import tracking

    return tracking.load_spam_model(uri)


def model_metadata(uri: str) -> dict[str, Any]:
    """Name, version, run id, alias and data/code versions of the registered model at ``uri``."""
    import mlflow

    if not uri.startswith("models:/"):
        return {"uri": uri, "name": Path(uri).name, "version": "local", "run_id": "", "data_version": ""}
    client = mlflow.MlflowClient()
    ref = uri[len("models:/"):]
    if "@" in ref:
        name, alias = ref.split("@", 1)
        mv = client.get_model_version_by_alias(name, alias)
    else:
        name, version = ref.rsplit("/", 1)
        alias, mv = None, client.get_model_version(name, version)
    tags = dict(mv.tags or {})
    return {"uri": uri, "name": name, "version": str(mv.version), "alias": alias, "run_id": mv.run_id or "",
            "data_version": tags.get("data_version", ""), "code_version": tags.get("code_version", ""),
            "source": mv.source}


def server_command() -> list[str]:
    """The argv of one model server ({port} filled in by the launcher)."""
    return [sys.executable, "-m", "uvicorn", "mlkit.deployment.server:app", "--host", "127.0.0.1",
            "--port", "{port}", "--no-access-log", "--log-level", "warning"]


def server_env(model_uri: str, tracking_uri: str | None = None, *, label: str | None = None,
               inference_log: str | os.PathLike | None = None, **settings: Any) -> dict[str, str]:
    """Environment of a server process: the model URI, the store, and any ``MLKIT_*`` setting
    (``fault_error_rate=0.5`` becomes ``MLKIT_FAULT_ERROR_RATE=0.5``)."""
    env = {**_QUIET, "MLKIT_MODEL_URI": model_uri}
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


def start_server(model_uri: str, *, name: str = "model server", tracking_uri: str | None = None,
                 log_dir: str | os.PathLike | None = None, start: bool = True, **settings: Any) -> BackgroundServer:
    """One model server for ``model_uri`` on a free 127.0.0.1 port, started and ready (model loaded).

    Keyword settings: ``label``, ``inference_log`` and the server's ``MLKIT_*`` settings in lower
    case (``fault_error_rate=0.2``, ``microbatch_ms=2``, ``cache_size=1000``, ``quantize="int8"``).
    """
    from mlkit.course.processes import BackgroundServer

    log_file = Path(log_dir) / f"{name.replace(' ', '-')}.log" if log_dir else None
    server = BackgroundServer(server_command(), name=name, health_path="/health/ready", startup_timeout=120,
                              log_file=log_file, env=server_env(model_uri, tracking_uri, **settings))
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
                 log_dir: str | os.PathLike | None = None, start: bool = True) -> BackgroundServer:
    """The router (an aiohttp reverse proxy) in front of ``backends`` ({name: url}), all traffic to ``primary``."""
    from mlkit.course.processes import BackgroundServer

    env = {**_QUIET, "MLKIT_ROUTER_BACKENDS": json.dumps(dict(backends)), "MLKIT_ROUTER_PRIMARY": primary}
    server = BackgroundServer.python("-m", "mlkit.deployment.router", "--port", "{port}", name=name,
                                     health_path="/admin/status", env=env,
                                     log_file=Path(log_dir) / f"{name}.log" if log_dir else None)
    return server.start() if start else server


def call(url: str, path: str = "/admin/status", body: Any = None, *, timeout: float = 10.0) -> Any:
    """One JSON call to a server or the router: GET without ``body``, else POST it as JSON.

    Returns the decoded answer; a 4xx/5xx answer raises ``RuntimeError`` with the server's message.
    """
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url.rstrip("/") + path, data=data, method="GET" if body is None else "POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        try:
            text = json.loads(text).get("message") or json.loads(text).get("detail") or text
        except (ValueError, AttributeError):
            pass
        raise RuntimeError(f"{path} answered {exc.code}: {text}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RuntimeError(f"nothing answers at {url} ({reason}): is the server running?") from None
