"""The model server's Prometheus metrics (``GET /metrics``), what lesson 05 scrapes and alerts on.

* ``mlkit_requests_total{version, outcome}``: prediction requests; outcome ``ok``, ``invalid``
  (a 4xx or 413) or ``error`` (a 5xx);
* ``mlkit_request_latency_seconds{version}``: time to answer, in the server (histogram with
  :data:`LATENCY_BUCKETS`);
* ``mlkit_predictions_total{version, label}``: items scored, by the adapter's label ("spam"/"ham";
  "count" for the bike model);
* ``mlkit_cache_hits_total{version}``: items answered from the cache;
* ``mlkit_model_batch_size{version}``: items per model call (micro-batching; histogram);
* ``mlkit_model_info{version, name, run_id, data_version}``: the model served (value 1);
* ``process_*``: the server process's CPU seconds, memory, open files (prometheus_client's
  process collector; lesson 05 compares them with a trainer's).

Each latency observation carries an exemplar, the request id (and the trace id when tracing),
shown when the scraper asks for the OpenMetrics format (Prometheus does).
"""

from __future__ import annotations

from typing import Any

# Latency buckets (seconds): 0.25 ms steps up to 3 ms, then 1 ms to 10 ms, then coarser. A
# quantile read from them (lesson 05) is right to within one bucket's width.
LATENCY_BUCKETS = (
    [i / 4000 for i in range(1, 13)]                       # 0.25 .. 3 ms
    + [i / 1000 for i in range(4, 11)]                     # 4 .. 10 ms
    + [0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0]
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServerMetrics:
    """The collectors, in a registry of their own (one per server process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

        self.registry = CollectorRegistry()
        self.requests = Counter("mlkit_requests", "Prediction requests by model version and outcome "
                                "(ok, invalid, error)", ["version", "outcome"], registry=self.registry)
        self.latency = Histogram("mlkit_request_latency_seconds", "Time to answer a prediction request, "
                                 "in the server", ["version"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.predictions = Counter("mlkit_predictions", "Items scored, by predicted label",
                                   ["version", "label"], registry=self.registry)
        self.cache_hits = Counter("mlkit_cache_hits", "Items answered from the cache", ["version"],
                                  registry=self.registry)
        self.batch_size = Histogram("mlkit_model_batch_size", "Items per model call (micro-batching)",
                                    ["version"], buckets=BATCH_BUCKETS, registry=self.registry)
        self.info = Gauge("mlkit_model_info", "The model served (value 1)", ["version", "name", "run_id",
                          "data_version"], registry=self.registry)
        ProcessCollector(registry=self.registry)

    def request(self, version: str, outcome: str, seconds: float | None = None,
                exemplar: dict[str, str] | None = None) -> None:
        """Count one request (and its latency, when it reached the model, with its exemplar)."""
        self.requests.labels(version, outcome).inc()
        if seconds is not None:
            self.latency.labels(version).observe(seconds, exemplar)

    def text(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition and its content type: the text format, or OpenMetrics (with the
        exemplars) when the ``Accept`` header asks for it."""
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def served(self, version: str, meta: dict[str, Any]) -> None:
        """Set ``mlkit_model_info`` for the model just loaded."""
        self.info.labels(version, meta.get("name", ""), meta.get("run_id", ""), meta.get("data_version", "")).set(1)
