"""The model server of lesson 04: FastAPI, run by uvicorn as its own process.

Start it with the course launcher (:func:`mlkit.deployment.serving.start_server` does)::

    BackgroundServer.python("-m", "uvicorn", "mlkit.deployment.server:app", "--host", "127.0.0.1",
                            "--port", "{port}", health_path="/health/ready", env={...}).start()

Settings come from environment variables (a process gets them from whoever starts it):

=========================  ===================================================================
``MLKIT_MODEL_URI``        registry URI to serve (default ``models:/spam-classifier@champion``)
``MLFLOW_TRACKING_URI``    the MLflow store holding the registry
``MLKIT_VERSION_LABEL``    overrides the version label in responses and metrics (e.g. "4-broken")
``MLKIT_INFERENCE_LOG``    a JSON-lines file: one line per scored message (see :data:`LOG_FIELDS`)
``MLKIT_MAX_BATCH``        most messages in one batch request (256)
``MLKIT_MAX_CHARS``        longest message (2,000 characters)
``MLKIT_MAX_BODY``         largest request body in bytes (1,000,000)
``MLKIT_FAULT_LATENCY_MS`` extra latency per request (fault injection; 0)
``MLKIT_FAULT_ERROR_RATE`` share of requests answered 500 (fault injection; 0)
``MLKIT_MICROBATCH_MS``    server-side micro-batching window in ms (0: off)
``MLKIT_CACHE_SIZE``       cached predictions for repeated messages (0: off)
``MLKIT_QUANTIZE``         "int8": dynamic int8 quantization of the MLP's linear layers
``MLKIT_LOG_TEXT``         "1": the inference log also keeps each message's text
=========================  ===================================================================

The same settings (faults, micro-batching, cache, quantization) change at run time with
``POST /admin/settings``; the server binds 127.0.0.1 only, as every course server does.

What lessons 05 and 06 read:

* ``/metrics`` (Prometheus): ``mlkit_requests_total{version, outcome}`` (outcome ``ok``,
  ``invalid`` for a 4xx/413, ``error`` for a 5xx), ``mlkit_request_latency_seconds{version}``
  (histogram, buckets :data:`LATENCY_BUCKETS`), ``mlkit_predictions_total{version, label}``,
  ``mlkit_cache_hits_total{version}``, ``mlkit_model_batch_size{version}`` (histogram) and
  ``mlkit_model_info{version, name, run_id, data_version}`` (gauge, 1).
* the inference log (``$MLKIT_INFERENCE_LOG``, JSON lines, one per scored message; a batch
  request writes one line per message with the same ``request_id``): ``ts`` (unix seconds),
  ``request_id``, ``model_version`` (str), ``endpoint`` ("predict" or "batch"), ``outcome``
  ("ok" or "error"), ``latency_ms`` (of the whole request, in the server), ``n_chars``,
  ``n_words``, ``n_digits``, ``upper_share`` (share of the letters in upper case), ``has_url``,
  ``has_phone`` (these six are :func:`mlkit.data.textstats.summary`, as in lesson 01's
  features), ``tfidf_nnz`` (TF-IDF terms of the message found in the vocabulary; null on error),
  ``spam_probability`` (null on error), ``label`` ("spam"/"ham", null on error), ``cache_hit``.
  Read it with ``pandas.read_json(path, lines=True)``. Message texts are logged (field ``text``,
  last) only with ``MLKIT_LOG_TEXT=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from mlkit.data import textstats

DEFAULT_URI = "models:/spam-classifier@champion"
MAX_BATCH = int(os.environ.get("MLKIT_MAX_BATCH", 256))
MAX_CHARS = int(os.environ.get("MLKIT_MAX_CHARS", 2000))
MAX_BODY = int(os.environ.get("MLKIT_MAX_BODY", 1_000_000))
# Latency buckets (seconds): 0.25 ms steps up to 3 ms, then 1 ms to 10 ms, then coarser. A
# quantile read from them (lesson 05) is right to within one bucket's width.
LATENCY_BUCKETS = (
    [i / 4000 for i in range(1, 13)]                       # 0.25 .. 3 ms
    + [i / 1000 for i in range(4, 11)]                     # 4 .. 10 ms
    + [0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0]
)
LOG_FIELDS = ("ts", "request_id", "model_version", "endpoint", "outcome", "latency_ms", "n_chars", "n_words",
              "n_digits", "upper_share", "has_url", "has_phone", "tfidf_nnz", "spam_probability", "label",
              "cache_hit")

Text = Annotated[str, Field(min_length=1, max_length=MAX_CHARS, description="the SMS message")]
Threshold = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False, description="P(spam) above which 'spam'")]


class PredictRequest(BaseModel):
    """One message to score."""

    model_config = ConfigDict(extra="forbid", strict=True)
    text: Text
    threshold: Threshold = 0.5


class BatchRequest(BaseModel):
    """Several messages to score at once."""

    model_config = ConfigDict(extra="forbid", strict=True)
    messages: Annotated[list[Text], Field(min_length=1, max_length=MAX_BATCH)]
    threshold: Threshold = 0.5


class Prediction(BaseModel):
    label: str = Field(description="'spam' or 'ham'")
    spam_probability: float


class PredictResponse(Prediction):
    request_id: str
    model_version: str


class BatchResponse(BaseModel):
    request_id: str
    model_version: str
    predictions: list[Prediction]


class Settings(BaseModel):
    """Run-time settings (``POST /admin/settings``); fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")
    fault_latency_ms: Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)] | None = None
    fault_error_rate: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    microbatch_ms: Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)] | None = None
    cache_size: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    quantize: bool | None = None


def _env_float(name: str) -> float:
    return float(os.environ.get(name) or 0)


class State:
    """Everything the server holds: the model, its metadata, settings, metrics, the log."""

    def __init__(self) -> None:
        self.uri = os.environ.get("MLKIT_MODEL_URI") or DEFAULT_URI
        self.ready = False
        self.load_error: str | None = None
        self.meta: dict[str, Any] = {"uri": self.uri}
        self.version = "loading"
        self.clf: Any = None
        self.fp32: Any = None
        self.settings = {
            "fault_latency_ms": _env_float("MLKIT_FAULT_LATENCY_MS"),
            "fault_error_rate": _env_float("MLKIT_FAULT_ERROR_RATE"),
            "microbatch_ms": _env_float("MLKIT_MICROBATCH_MS"),
            "cache_size": int(_env_float("MLKIT_CACHE_SIZE")),
            "quantize": os.environ.get("MLKIT_QUANTIZE", "") == "int8",
        }
        self.cache: OrderedDict[str, float] = OrderedDict()
        self.pending: list[tuple[str, asyncio.Future]] = []
        self.flush_handle: asyncio.TimerHandle | None = None
        path = os.environ.get("MLKIT_INFERENCE_LOG")
        self.log_text = os.environ.get("MLKIT_LOG_TEXT") == "1"
        self.log = open(path, "ab", buffering=0) if path else None  # noqa: SIM115 - open while serving; one write() per batch of lines
        self._metrics()

    def _metrics(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("mlkit_requests", "Prediction requests by model version and outcome "
                                "(ok, invalid, error)", ["version", "outcome"], registry=self.registry)
        self.latency = Histogram("mlkit_request_latency_seconds", "Time to answer a prediction request, "
                                 "in the server", ["version"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.predictions = Counter("mlkit_predictions", "Messages scored, by predicted label",
                                   ["version", "label"], registry=self.registry)
        self.cache_hits = Counter("mlkit_cache_hits", "Messages answered from the cache", ["version"],
                                  registry=self.registry)
        self.batch_size = Histogram("mlkit_model_batch_size", "Messages per model call (micro-batching)",
                                    ["version"], buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=self.registry)
        self.info = Gauge("mlkit_model_info", "The model served (value 1)", ["version", "name", "run_id",
                          "data_version"], registry=self.registry)

    # ------------------------------------------------------------------ model
    def load(self) -> None:
        """Load the model by its registry URI (runs in a thread at start-up: /health/ready waits)."""
        try:
            import torch

            torch.set_num_threads(int(os.environ.get("MLKIT_THREADS") or 1))
            from mlkit.deployment import serving

            self.clf = serving.load_model(self.uri)
            self.fp32 = self.clf.model
            self.meta = serving.model_metadata(self.uri)
            self.version = os.environ.get("MLKIT_VERSION_LABEL") or str(self.meta.get("version"))
            self.meta["version_label"] = self.version
            self._check_scoring()
            if self.settings["quantize"]:
                self.set_quantized(True)
            self.info.labels(self.version, self.meta.get("name", ""), self.meta.get("run_id", ""),
                             self.meta.get("data_version", "")).set(1)
            self.ready = True
        except Exception as exc:  # shown by /health/ready and in the log
            self.load_error = f"{type(exc).__name__}: {exc}"
            raise

    def _check_scoring(self) -> None:
        """The server scores with the pipeline's parts; make sure that equals ``predict_proba``."""
        import numpy as np

        texts = ["WIN a free prize now, call 0800 123", "see you at 6 at the station"]
        got, _ = self.score(texts)
        want = np.asarray(self.clf.predict_proba(texts), dtype=float)
        if not np.allclose(got, want, atol=1e-5):
            raise RuntimeError(f"server scoring {got} differs from predict_proba {want}")

    def set_quantized(self, on: bool) -> None:
        import torch
        from torch import nn

        if on:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from torch.ao.quantization import quantize_dynamic

                self.clf.model = quantize_dynamic(self.fp32, {nn.Linear}, dtype=torch.qint8)
        else:
            self.clf.model = self.fp32
        self.settings["quantize"] = on
        self.cache.clear()

    def score(self, texts: list[str]) -> tuple[list[float], list[int]]:
        """P(spam) for each text, and the number of TF-IDF terms each has in the vocabulary."""
        import torch

        X = self.clf.vectorizer.transform(texts)
        with torch.inference_mode():
            logits = self.clf.model(torch.from_numpy(X.toarray().astype("float32")))
            proba = torch.softmax(logits, dim=1)[:, 1].tolist()
        return proba, [int(n) for n in X.getnnz(axis=1)]

    # ------------------------------------------------------------------ request path
    async def predict(self, texts: list[str]) -> tuple[list[float], list[int], list[bool]]:
        """Score texts through the cache and the micro-batcher (when they are on)."""
        size = self.settings["cache_size"]
        hits = [False] * len(texts)
        proba: list[float | None] = [None] * len(texts)
        nnz = [-1] * len(texts)
        if size:
            for i, t in enumerate(texts):
                p = self.cache.get(t)
                if p is not None:
                    self.cache.move_to_end(t)
                    proba[i], hits[i] = p, True
        todo = [i for i, h in enumerate(hits) if not h]
        if todo:
            if self.settings["microbatch_ms"] > 0 and len(todo) == 1:
                p, n = await self._batched(texts[todo[0]])
                scored = ([p], [n])
            else:
                scored = self.score([texts[i] for i in todo])
                self.batch_size.labels(self.version).observe(len(todo))
            for i, p, n in zip(todo, *scored):
                proba[i], nnz[i] = p, n
                if size:
                    self.cache[texts[i]] = p
            while size and len(self.cache) > size:
                self.cache.popitem(last=False)
        if any(hits):
            self.cache_hits.labels(self.version).inc(sum(hits))
        return proba, nnz, hits  # type: ignore[return-value]

    def _batched(self, text: str) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.pending.append((text, fut))
        if len(self.pending) >= 32:
            self._flush()
        elif self.flush_handle is None:
            self.flush_handle = loop.call_later(self.settings["microbatch_ms"] / 1000, self._flush)
        return fut

    def _flush(self) -> None:
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            proba, nnz = self.score([t for t, _ in batch])
            self.batch_size.labels(self.version).observe(len(batch))
            for (_, fut), p, n in zip(batch, proba, nnz):
                if not fut.done():
                    fut.set_result((p, n))
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)

    def write_log(self, request_id: str, endpoint: str, outcome: str, latency_ms: float, texts: list[str],
                  proba: list[float] | None, nnz: list[int] | None, hits: list[bool] | None,
                  threshold: float) -> None:
        """One JSON line per message: request, model version, latency, a summary of the input, the output."""
        if self.log is None:
            return
        now = time.time()
        lines = []
        for i, t in enumerate(texts):
            p = proba[i] if proba else None
            lines.append(orjson.dumps({
                "ts": now, "request_id": request_id, "model_version": self.version, "endpoint": endpoint,
                "outcome": outcome, "latency_ms": round(latency_ms, 4), **textstats.summary(t),
                "tfidf_nnz": nnz[i] if nnz else None, "spam_probability": p,
                "label": (None if p is None else ("spam" if p >= threshold else "ham")),
                "cache_hit": bool(hits[i]) if hits else False,
                **({"text": t} if self.log_text else {}),
            }))
        self.log.write(b"\n".join(lines) + b"\n")


state = State()


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    threading.Thread(target=state.load, name="model-load", daemon=True).start()  # /health/ready waits for it
    yield


app = FastAPI(title="mlkit spam classifier", version="1.0", lifespan=_lifespan,
              description="Lesson 04's model server: the registered spam classifier behind typed endpoints.")


class BodyLimit:
    """Pure ASGI middleware: 413 for a body larger than MAX_BODY (declared or streamed)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > MAX_BODY:
                if int(length) <= 16 * MAX_BODY:  # read it first: a client still sending would see a broken pipe
                    more = True
                    while more:
                        msg = await receive()
                        more = msg.get("more_body", False) and msg.get("type") == "http.request"
                return await _too_large(scope, send, int(length))
            if length is None:  # chunked: read it all, then replay it
                body, more = b"", True
                while more:
                    msg = await receive()
                    body += msg.get("body", b"")
                    more = msg.get("more_body", False)
                    if len(body) > MAX_BODY:
                        return await _too_large(scope, send, len(body))
                done = False

                async def replay() -> dict:
                    nonlocal done
                    if done:
                        return await receive()
                    done = True
                    return {"type": "http.request", "body": body, "more_body": False}

                return await self.app(scope, replay, send)
        await self.app(scope, receive, send)


async def _too_large(scope: dict, send: Any, size: int) -> None:
    state.requests.labels(state.version, "invalid").inc()
    response = JSONResponse({"detail": f"Request body of {size:,} bytes is over the limit of {MAX_BODY:,} bytes: "
                             f"send at most {MAX_BATCH} messages of at most {MAX_CHARS} characters."}, 413)
    await response(scope, None, send)


app.add_middleware(BodyLimit)


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) if parts else "the request body"


@app.exception_handler(RequestValidationError)
async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    """400 (not JSON) or 422 (wrong fields), with one readable sentence per problem in ``message``
    (plus FastAPI's usual ``detail`` list)."""
    errors = exc.errors()
    if request.url.path.startswith("/predict"):
        state.requests.labels(state.version, "invalid").inc()
    problems = []
    for e in errors:
        if e.get("type") == "json_invalid":
            problems.append(f"the body is not valid JSON ({e.get('ctx', {}).get('error', 'parse error')}); "
                            'send e.g. {"text": "see you at 6"}')
        elif e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",):
            problems.append('the body is empty: send a JSON object, e.g. {"text": "see you at 6"}')
        elif e.get("type") == "finite_number":
            problems.append(f"{_where(e['loc'])}: NaN and infinity are not allowed; send a number between 0 and 1")
        else:
            problems.append(f"{_where(e['loc'])}: {e.get('msg')}")
    detail = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in errors]
    malformed = all(e.get("type") == "json_invalid" or tuple(e.get("loc", ())) == ("body",) and e.get("type") == "missing"
                    for e in errors)  # not JSON at all, or no body: 400; else 422
    return JSONResponse({"message": "; ".join(problems), "detail": detail}, status_code=400 if malformed else 422)


def _not_ready() -> JSONResponse:
    return JSONResponse({"detail": f"model not loaded yet ({state.load_error or 'loading'})"}, status_code=503)


async def _faults() -> None:
    s = state.settings
    if s["fault_latency_ms"]:
        await asyncio.sleep(s["fault_latency_ms"] / 1000)
    if s["fault_error_rate"] and random.random() < s["fault_error_rate"]:
        raise _Injected()


class _Injected(Exception):
    pass


def _error(request_id: str, endpoint: str, texts: list[str], t0: float, threshold: float) -> JSONResponse:
    seconds = time.perf_counter() - t0
    state.requests.labels(state.version, "error").inc()
    state.latency.labels(state.version).observe(seconds)
    state.write_log(request_id, endpoint, "error", seconds * 1000, texts, None, None, None, threshold)
    return JSONResponse({"detail": "injected fault: the server is set to fail some requests",
                         "request_id": request_id}, status_code=500,
                        headers={"x-model-version": state.version})


async def _score(request: Request, endpoint: str, texts: list[str], threshold: float,
                 body: Callable[[str, list[dict]], dict]) -> Response:
    """The one request path of both endpoints: faults, model, metrics, inference log, response."""
    t0 = time.perf_counter()
    if not state.ready:
        return _not_ready()
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    try:
        await _faults()
        proba, nnz, hits = await state.predict(texts)
    except _Injected:
        return _error(request_id, endpoint, texts, t0, threshold)
    preds = [{"label": "spam" if p >= threshold else "ham", "spam_probability": p} for p in proba]
    seconds = time.perf_counter() - t0
    state.requests.labels(state.version, "ok").inc()
    state.latency.labels(state.version).observe(seconds)
    for label in ("spam", "ham"):
        n = sum(p["label"] == label for p in preds)
        if n:
            state.predictions.labels(state.version, label).inc(n)
    state.write_log(request_id, endpoint, "ok", seconds * 1000, texts, proba, nnz, hits, threshold)
    return Response(orjson.dumps(body(request_id, preds)), media_type="application/json",
                    headers={"x-model-version": state.version})


@app.post("/predict", response_model=PredictResponse)
async def predict(req: PredictRequest, request: Request) -> Response:
    """Score one message."""
    return await _score(request, "predict", [req.text], req.threshold, lambda request_id, preds: {
        **preds[0], "request_id": request_id, "model_version": state.version})


@app.post("/predict/batch", response_model=BatchResponse)
async def predict_batch(req: BatchRequest, request: Request) -> Response:
    """Score a batch of messages (one model call)."""
    return await _score(request, "batch", req.messages, req.threshold, lambda request_id, preds: {
        "request_id": request_id, "model_version": state.version, "predictions": preds})


@app.get("/health/live")
async def live() -> dict:
    """The process answers (Kubernetes' liveness probe)."""
    return {"live": True}


@app.get("/health/ready")
async def ready() -> Response:
    """200 once the model is loaded, 503 before (Kubernetes' readiness probe)."""
    if not state.ready:
        return _not_ready()
    return JSONResponse({"ready": True, "model_version": state.version})


@app.get("/metadata")
async def metadata() -> Response:
    """What is served: registry name, version, run, data version, code version, settings."""
    if not state.ready:
        return _not_ready()
    return JSONResponse({**state.meta, "settings": state.settings, "limits": {
        "max_batch": MAX_BATCH, "max_chars": MAX_CHARS, "max_body_bytes": MAX_BODY}})


@app.get("/metrics")
async def metrics() -> Response:
    """Prometheus metrics (text format)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)


@app.get("/admin/settings")
async def get_settings() -> dict:
    return state.settings


@app.post("/admin/settings")
async def set_settings(new: Settings) -> dict:
    """Change fault injection, micro-batching, the cache or quantization while serving."""
    if not state.ready:
        return _not_ready()
    values = {k: v for k, v in new.model_dump().items() if v is not None}
    if "quantize" in values and values["quantize"] != state.settings["quantize"]:
        state.set_quantized(values.pop("quantize"))
    if values.get("cache_size") == 0:
        state.cache.clear()
    state.settings.update({k: v for k, v in values.items() if k != "quantize"})
    if not state.settings["microbatch_ms"]:
        state._flush()
    return state.settings
