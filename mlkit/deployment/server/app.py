"""The model server's application: its endpoints, on :class:`mlkit.deployment.server.state.Server`.

uvicorn builds it in its own process (:func:`create_app` is the factory;
:func:`mlkit.deployment.launch.start_server` starts it)::

    python -m uvicorn mlkit.deployment.server.app:create_app --factory --host 127.0.0.1 --port 8000

Endpoints: ``POST /predict`` (one item) and ``POST /predict/batch`` (typed by the model
adapter's schemas), ``GET /health/live``, ``GET /health/ready`` (200 once the model is loaded),
``GET /metadata``, ``GET /metrics`` (Prometheus), ``GET``/``POST /admin/settings`` (fault
injection, micro-batching, the cache, quantization, while serving).

This module evaluates its annotations at definition time (no ``from __future__ import
annotations``): the endpoints' request types are the adapter's schemas, made per server.
"""

import contextlib
import threading
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from mlkit.deployment.server import errors
from mlkit.deployment.server import settings as settings_module
from mlkit.deployment.server.settings import RuntimeSettings, ServerSettings
from mlkit.deployment.server.state import Server


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """The model server for ``settings`` (default: read from the environment, :mod:`.settings`)."""
    settings = settings or settings_module.read()
    server = Server(settings)
    schemas = server.kind.schemas(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=server.load, name="model-load", daemon=True).start()  # /health/ready waits
        yield

    app = FastAPI(title=server.kind.title, version="1.0", lifespan=lifespan,
                  description=f"Lesson 04's model server: the registered {server.kind.kind} model "
                              "behind typed endpoints.")
    app.state.server = server
    app.add_middleware(errors.BodyLimit, server=server)
    app.add_exception_handler(RequestValidationError, errors.validation_handler(server))

    @app.post("/predict", response_model=schemas.predict_response)
    async def predict(body: schemas.predict, request: Request) -> Response:
        """Score one item."""
        return await server.handle(request, "predict", body, lambda request_id, answers: {
            **answers[0], "request_id": request_id, "model_version": server.version})

    @app.post("/predict/batch", response_model=schemas.batch_response)
    async def predict_batch(body: schemas.batch, request: Request) -> Response:
        """Score a batch (one model call)."""
        return await server.handle(request, "batch", body, lambda request_id, answers: {
            "request_id": request_id, "model_version": server.version, "predictions": answers})

    @app.get("/health/live")
    async def live() -> dict:
        """The process answers (Kubernetes' liveness probe)."""
        return {"live": True}

    @app.get("/health/ready")
    async def ready() -> Response:
        """200 once the model is loaded, 503 before (Kubernetes' readiness probe)."""
        if not server.ready:
            return server.not_ready()
        return JSONResponse({"ready": True, "model_version": server.version})

    @app.get("/metadata")
    async def metadata() -> Response:
        """What is served: kind, registry name, version, run, data version, code version, settings."""
        if not server.ready:
            return server.not_ready()
        return JSONResponse({**server.meta, "settings": server.runtime, "limits": {
            "max_batch": settings.max_batch, "max_chars": settings.max_chars, "max_body_bytes": settings.max_body}})

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        """Prometheus metrics (text format, or OpenMetrics with exemplars when asked for)."""
        text, content_type = server.metrics.text(request.headers.get("accept"))
        return Response(text, media_type=content_type)

    @app.get("/admin/settings")
    async def get_settings() -> dict:
        return server.runtime

    @app.post("/admin/settings")
    async def set_settings(new: RuntimeSettings) -> Response:
        """Change fault injection, micro-batching, the cache or quantization while serving."""
        if not server.ready:
            return server.not_ready()
        try:
            return JSONResponse(server.apply(new))
        except ValueError as exc:
            return JSONResponse({"message": str(exc), "detail": str(exc)}, status_code=422)

    return app
