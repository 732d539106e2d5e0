"""Send a stream of messages to the model server, one request each, with our own request ids
(lesson 05): the inference log then joins with labels that arrive later, by request id.
Every request goes through the course's one HTTP client, :mod:`mlkit.course.http`."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlkit.course import http


def predict(url: str, text: str, request_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """POST one message to ``url/predict`` with header ``x-request-id``; the JSON answer
    (``label``, ``spam_probability``, ``model_version``, ``request_id``), or the error status."""
    response = http.request("POST", url.rstrip("/") + "/predict", json={"text": text},
                            headers={"x-request-id": request_id}, timeout=timeout)
    if response.status_code >= 400:
        return {"request_id": request_id, "status": response.status_code}
    return response.json()


def send(url: str, texts: Sequence[str], request_ids: Sequence[str], workers: int = 4) -> list[dict[str, Any]]:
    """Score every text (``workers`` requests in flight); answers in the order of ``texts``."""
    if len(texts) != len(request_ids):
        raise ValueError(f"{len(texts)} texts but {len(request_ids)} request ids: give one id per text.")
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda pair: predict(url, *pair), zip(texts, request_ids)))


def set_faults(url: str, *, latency_ms: float = 0.0, error_rate: float = 0.0, featurize_ms: float = 0.0
               ) -> dict[str, Any]:
    """Switch the server's fault injection (``POST /admin/settings``, lesson 04's server): extra
    latency per request, a share of failing requests, extra time in the featurize step."""
    return http.call(url, "/admin/settings", {"fault_latency_ms": latency_ms, "fault_error_rate": error_rate,
                                              "fault_featurize_ms": featurize_ms})
