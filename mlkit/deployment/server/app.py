"""The model server's application: its endpoints, on :class:`mlkit.deployment.server.state.Server`.

uvicorn builds it in its own process (:func:`create_app` is the factory;
:func:`mlkit.deployment.launch.start_server` starts it)::

    python -m uvicorn mlkit.deployment.server.app:create_app --factory --host 127.0.0.1 --port 8000

Public endpoints, all in the OpenAPI document (``/openapi.json``) with every status they can
answer: ``POST /predict`` (one item) and ``POST /predict/batch`` (typed by the model adapter's
schemas), ``GET /health/live``, ``GET /health/ready`` (200 once the model is loaded; it lists
any injected fault), ``GET /metadata``, ``GET /metrics`` (Prometheus text).

The admin surface, ``GET``/``POST /admin/settings`` (fault injection, micro-batching, the
cache, quantization, where the model runs), is not in the document and answers only a client
that sends ``Authorization: Bearer $MLKIT_ADMIN_TOKEN``; with no token set it refuses everyone.

This module evaluates its annotations at definition time (no ``from __future__ import
annotations``): the endpoints' request types are the adapter's schemas, made per server.
"""

import contextlib
import secrets
import sys
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from mlkit.deployment.server import errors
from mlkit.deployment.server import settings as settings_module
from mlkit.deployment.server.settings import RuntimeSettings, ServerSettings
from mlkit.deployment.server.state import Server

RequestId = Annotated[str | None, Header(
    alias="x-request-id", description="your id for this request, echoed and logged when it is 1-64 characters "
    "of A-Z, a-z, 0-9 and . _ : - (starting with a letter or digit); any other value is replaced by a new id")]


class Live(BaseModel):
    live: bool


class Ready(BaseModel):
    ready: bool
    model_version: str
    faults: dict[str, float]
    message: str | None = None


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """The model server for ``settings`` (default: read from the environment, :mod:`.settings`)."""
    settings = settings or settings_module.read()
    server = Server(settings)
    schemas = server.kind.schemas(settings)
    limits = (f"Limits, one set: at most {settings.max_batch} {server.kind.noun}s per batch "
              f"({server.kind.size_hint(settings)}); a body of at most {server.max_body:,} bytes, which the "
              "largest valid request fits in any script and JSON spelling. Errors: one shape, `message` says "
              "what to send.")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sys.setswitchinterval(settings.switch_interval_s)  # see ServerSettings
        threading.Thread(target=server.load, name="model-load", daemon=True).start()  # /health/ready waits
        yield

    app = FastAPI(title=server.kind.title, version="1.0", lifespan=lifespan,
                  description=f"Lesson 04's model server: the registered {server.kind.kind} model behind typed "
                              f"endpoints. {limits}")
    app.state.server = server
    app.add_middleware(errors.Guard, server=server)
    app.add_exception_handler(RequestValidationError, errors.validation_handler(server))
    app.add_exception_handler(HTTPException, errors.http_handler(server))
    app.add_exception_handler(Exception, errors.crash_handler)

    @app.post("/predict", response_model=schemas.predict_response, responses=errors.PREDICT)
    async def predict(body: schemas.predict, request: Request, x_request_id: RequestId = None) -> Response:
        """Score one item."""
        return await server.handle(request, "predict", body, lambda request_id, answers: {
            **answers[0], "request_id": request_id, "model_version": server.version})

    @app.post("/predict/batch", response_model=schemas.batch_response, responses=errors.PREDICT)
    async def predict_batch(body: schemas.batch, request: Request, x_request_id: RequestId = None) -> Response:
        """Score a batch (one model call)."""
        return await server.handle(request, "batch", body, lambda request_id, answers: {
            "request_id": request_id, "model_version": server.version, "predictions": answers})

    @app.get("/health/live", response_model=Live)
    async def live() -> dict:
        """The process answers (Kubernetes' liveness probe); the model runs off the event loop, so
        this answers at once even while large batches are scored."""
        return {"live": True}

    @app.get("/health/ready", response_model=Ready, responses=errors.documented(503))
    async def ready() -> Response:
        """200 once the model is loaded, 503 before (Kubernetes' readiness probe). Injected faults
        are listed in ``faults`` (they are a test the operator asked for, so the server stays in
        rotation: a canary under test must still get its traffic)."""
        if not server.ready:
            return server.not_ready()
        faults = server.faults_on()
        body: dict[str, Any] = {"ready": True, "model_version": server.version, "faults": faults}
        if faults:
            body["message"] = ("faults are injected: " + ", ".join(f"{k}={v:g}" for k, v in faults.items())
                               + " (set them to 0 with POST /admin/settings)")
        return JSONResponse(body)

    @app.get("/metadata", response_model=dict[str, Any], responses=errors.documented(503))
    async def metadata() -> Response:
        """What is served: kind, registry name, version, run, data version, code version, settings, limits."""
        if not server.ready:
            return server.not_ready()
        return JSONResponse({**server.meta, "settings": server.runtime, "limits": {
            "max_batch": settings.max_batch, "max_chars": settings.max_chars, "max_body_bytes": server.max_body}})

    @app.get("/metrics", response_class=Response, responses={200: {
        "description": "Prometheus metrics (text exposition format; OpenMetrics, with exemplars, when asked for)",
        "content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def metrics(request: Request) -> Response:
        """Prometheus metrics (text format, or OpenMetrics with exemplars when asked for)."""
        text, content_type = server.metrics.text(request.headers.get("accept"))
        return Response(text, media_type=content_type)

    async def admin_settings(request: Request) -> Response:
        """``GET``: the run-time settings; ``POST`` a JSON object to change some (faults, micro-batching,
        the cache, quantization, where the model runs). Needs ``Authorization: Bearer <token>``."""
        token = settings.admin_token
        if not token:
            return errors.response(403, "the admin surface is off: start the server with MLKIT_ADMIN_TOKEN set "
                                        "(the course's launcher makes one per server)")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), token.encode()):
            return errors.response(401, "send the server's admin token as 'Authorization: Bearer <token>' "
                                        "(launch.admin(server, ...) does)", headers={"www-authenticate": "Bearer"})
        if request.method == "GET":
            return JSONResponse(server.runtime)
        if not server.ready:
            return server.not_ready()
        raw = await request.body()
        if not raw.strip():
            return errors.response(400, 'the body is empty: send a JSON object of settings, e.g. '
                                        '{"fault_error_rate": 0.1}')
        try:
            new = RuntimeSettings.model_validate_json(raw)
        except ValidationError as exc:
            problems = exc.errors(include_url=False)
            status = 400 if any(e["type"] == "json_invalid" for e in problems) else 422
            detail = [{"type": e["type"], "loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in problems]
            return errors.response(status, settings_module.explain(problems), detail=detail)
        try:
            return JSONResponse(server.apply(new))
        except ValueError as exc:
            return errors.response(422, str(exc))

    app.add_api_route("/admin/settings", admin_settings, methods=["GET", "POST"], include_in_schema=False)
    return app
