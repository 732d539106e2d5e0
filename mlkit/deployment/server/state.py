"""What one model server process holds, and the one path every prediction takes (lesson 04).

:class:`Server`: the settings, the model adapter once loaded, the run-time settings, the
metrics, the prediction cache, the micro-batcher and the inference log; :meth:`Server.handle`
is the request path both prediction endpoints share (faults, cache and micro-batcher, model,
metrics, inference log, response). The endpoints are in :mod:`mlkit.deployment.server.app`.

Upward import: mlkit.monitoring.tracing, because lesson 05 traces each request through the server
(a span per request and per step, featurize and predict, when ``MLKIT_TRACE_FILE`` is set).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from mlkit.deployment.server import inference_log, registry
from mlkit.deployment.server.adapters import ModelAdapter, Scored, adapter_for
from mlkit.deployment.server.batcher import MicroBatcher
from mlkit.deployment.server.cache import PredictionCache
from mlkit.deployment.server.metrics import ServerMetrics
from mlkit.deployment.server.settings import RuntimeSettings, ServerSettings
from mlkit.monitoring.tracing import Tracing


class Injected(Exception):
    """The error-rate fault fired: this request is answered 500."""


class Server:
    """What one server process holds: its settings, the model adapter once loaded, the run-time
    settings, the metrics, the cache, the micro-batcher and the inference log."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.kind = adapter_for(settings.model_kind)
        self.uri = settings.model_uri or self.kind.default_uri
        self.adapter: ModelAdapter | None = None
        self.ready = False
        self.load_error: str | None = None
        self.meta: dict[str, Any] = {"uri": self.uri, "kind": self.kind.kind}
        self.version = "loading"
        self.runtime = settings.runtime()
        self.metrics = ServerMetrics()
        self.cache = PredictionCache(self.runtime["cache_size"])
        self.batcher = MicroBatcher(self.score)
        self.batcher.window_ms = self.runtime["microbatch_ms"]
        self.log = inference_log.InferenceLog(settings.inference_log, keep_raw=settings.log_text)
        self.faults = random.Random(0)  # the injected faults, reproducible for a given order of requests
        self.tracing = Tracing(settings.trace_file, "model server")

    # ------------------------------------------------------------------ model
    def load(self) -> None:
        """Load the model by its registry URI (in a thread at start-up: /health/ready waits for it)."""
        try:
            adapter = self.kind.load(self.uri, self.settings)
            self.meta = {**registry.metadata(self.uri), "kind": self.kind.kind}
            self.version = self.settings.version_label or str(self.meta.get("version"))
            self.meta["version_label"] = self.version
            adapter.check()
            if self.runtime["quantize"]:
                adapter.set_quantized(True)
            self.adapter = adapter
            self.metrics.served(self.version, self.meta)
            self.ready = True
        except Exception as exc:  # shown by /health/ready and in the log
            self.load_error = f"{type(exc).__name__}: {exc}"
            raise

    def score(self, items: Sequence[Any]) -> list[Scored]:
        """One model call (featurize, predict) for a batch; its size goes to the metrics."""
        assert self.adapter is not None
        with self.tracing.step("featurize", items=len(items)):
            if self.runtime["fault_featurize_ms"]:  # the slow-featurizer fault (lesson 05 finds it in a trace)
                time.sleep(self.runtime["fault_featurize_ms"] / 1000)
            features = self.adapter.featurize(items)
        with self.tracing.step("predict", items=len(items)):
            scored = self.adapter.predict(features)
        self.metrics.batch_size.labels(self.version).observe(len(items))
        return scored

    async def predict(self, items: Sequence[Any]) -> tuple[list[Scored], list[bool]]:
        """Score items through the cache and the micro-batcher (when they are on); return the
        scores and which came from the cache."""
        assert self.adapter is not None
        keys = [self.adapter.cache_key(item) for item in items]
        scored: list[Scored | None] = [self.cache.get(k) for k in keys]
        hits = [s is not None for s in scored]
        todo = [i for i, hit in enumerate(hits) if not hit]
        if todo:
            if self.batcher.window_ms > 0 and len(todo) == 1:
                fresh = [await self.batcher.submit(items[todo[0]])]
            else:
                fresh = self.score([items[i] for i in todo])
            for i, s in zip(todo, fresh):
                scored[i] = s
                self.cache.put(keys[i], s)
        if any(hits):
            self.metrics.cache_hits.labels(self.version).inc(sum(hits))
        return scored, hits  # type: ignore[return-value]

    # ------------------------------------------------------------------ faults and settings
    async def inject(self) -> None:
        """The latency fault, then the error fault (raises :class:`Injected`)."""
        if self.runtime["fault_latency_ms"]:
            await asyncio.sleep(self.runtime["fault_latency_ms"] / 1000)
        if self.runtime["fault_error_rate"] and self.faults.random() < self.runtime["fault_error_rate"]:
            raise Injected()

    def spoil(self, scored: list[Scored]) -> list[Scored]:
        """The bad-output fault: a share of the answers replaced by the adapter's badly wrong one."""
        rate = self.runtime["fault_bad_output_rate"]
        if not rate:
            return scored
        assert self.adapter is not None
        return [self.adapter.corrupt(s) if self.faults.random() < rate else s for s in scored]

    def apply(self, new: RuntimeSettings) -> dict[str, Any]:
        """Change run-time settings; return them all."""
        assert self.adapter is not None
        values = new.changes()
        if "quantize" in values and values["quantize"] != self.runtime["quantize"]:
            self.adapter.set_quantized(values["quantize"])
            self.cache.clear()
        if "cache_size" in values:
            self.cache.resize(values["cache_size"])
        self.runtime.update(values)
        self.batcher.window_ms = self.runtime["microbatch_ms"]
        if not self.batcher.window_ms:
            self.batcher.flush()
        return self.runtime

    # ------------------------------------------------------------------ the request path
    def write_log(self, request_id: str, endpoint: str, outcome: str, seconds: float, items: Sequence[Any],
                  scored: Sequence[Scored] | None, hits: Sequence[bool] | None, options: dict[str, Any]) -> None:
        """The request's lines in the inference log (when there is one): the adapter's record of each item."""
        if not self.log.active:
            return
        assert self.adapter is not None
        records = [self.adapter.log_record(item, scored[i] if scored else None, options) for i, item in enumerate(items)]
        raws = [self.adapter.raw(item) for item in items] if self.log.keep_raw else None
        self.log.write(request_id=request_id, version=self.version, endpoint=endpoint, outcome=outcome,
                       latency_ms=seconds * 1000, records=records, hits=hits, raws=raws)

    def not_ready(self) -> JSONResponse:
        return JSONResponse({"detail": f"model not loaded yet ({self.load_error or 'loading'})"}, status_code=503)

    async def handle(self, request: Request, endpoint: str, body: Any,
                     respond: Callable[[str, list[dict[str, Any]]], dict[str, Any]]) -> Response:
        """Both prediction endpoints: faults, model, metrics, inference log, response (in a span
        that carries the request id, when tracing is on)."""
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        with self.tracing.request("model server", request.headers, request_id, endpoint=endpoint):
            return await self.serve(request_id, endpoint, body, respond)

    async def serve(self, request_id: str, endpoint: str, body: Any,
                    respond: Callable[[str, list[dict[str, Any]]], dict[str, Any]]) -> Response:
        """One prediction request, once its id is known (:meth:`handle`)."""
        t0 = time.perf_counter()
        if not self.ready or self.adapter is None:
            return self.not_ready()
        adapter = self.adapter
        items, options = adapter.unpack(body)
        try:
            await self.inject()
            scored, hits = await self.predict(items)
        except Injected:
            seconds = time.perf_counter() - t0
            self.metrics.request(self.version, "error", seconds, self.tracing.exemplar(request_id))
            self.write_log(request_id, endpoint, "error", seconds, items, None, None, options)
            return JSONResponse({"detail": "injected fault: the server is set to fail some requests",
                                 "request_id": request_id}, status_code=500,
                                headers={"x-model-version": self.version})
        scored = self.spoil(scored)
        seconds = time.perf_counter() - t0
        self.metrics.request(self.version, "ok", seconds, self.tracing.exemplar(request_id))
        labels: dict[str, int] = {}
        for s in scored:
            label = adapter.label(s, options)
            labels[label] = labels.get(label, 0) + 1
        for label, n in labels.items():
            self.metrics.predictions.labels(self.version, label).inc(n)
        self.write_log(request_id, endpoint, "ok", seconds, items, scored, hits, options)
        answers = [adapter.answer(s, options) for s in scored]
        return Response(orjson.dumps(respond(request_id, answers)), media_type="application/json",
                        headers={"x-model-version": self.version})
