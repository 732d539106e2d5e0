"""mlkit.deployment.server, as a real uvicorn process: endpoints, 4xx answers, metrics, the inference log,
fault injection."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pandas as pd
import pytest

from mlkit.data import textstats
from mlkit.deployment import server, serving


def post(url, path, data: bytes):
    req = urllib.request.Request(url + path, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def metric(url, name, **labels):
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(url + "/metrics").read().decode()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name and labels.items() <= s.labels.items())


def test_health_metadata_predict(servers):
    blue = servers["blue"].url
    assert serving.call(blue, "/health/live") == {"live": True}
    assert serving.call(blue, "/health/ready")["ready"] is True
    meta = serving.call(blue, "/metadata")
    assert meta["name"] == "spam-classifier" and meta["alias"] == "champion" and meta["version"] == "1"
    assert meta["run_id"] and meta["data_version"]
    one = serving.call(blue, "/predict", {"text": "WINNER!! claim your free prize, call 09061701461"})
    assert one["label"] in ("spam", "ham") and 0 <= one["spam_probability"] <= 1 and one["model_version"] == "1"
    batch = serving.call(blue, "/predict/batch", {"messages": ["see you at 6", "free entry to win cash"]})
    assert len(batch["predictions"]) == 2
    green = serving.call(servers["green"].url, "/predict", {"text": "see you at 6"})
    assert green["model_version"] == "2"


def test_model_served_is_the_registered_one(servers):
    from mlkit.training import tracking

    clf = tracking.load_spam_model("models:/spam-classifier@champion")
    texts = ["see you at 6", "URGENT! You have won a 1 week FREE membership", "ok lar"]
    got = serving.call(servers["blue"].url, "/predict/batch", {"messages": texts})["predictions"]
    assert [p["spam_probability"] for p in got] == pytest.approx(clf.predict_proba(texts).tolist(), abs=1e-6)


@pytest.mark.parametrize("path, body, status, says", [
    ("/predict", b'{"text": "hi"', 400, "not valid JSON"),
    ("/predict", b"", 400, "body is empty"),
    ("/predict", b'{"text": 42}', 422, "text"),
    ("/predict", b'{"text": ""}', 422, "text"),
    ("/predict", b'{"text": "hi", "threshold": NaN}', 422, "NaN"),
    ("/predict", b'{"text": "hi", "threshold": 2}', 422, "threshold"),
    ("/predict", b'{"text": "hi", "extra": 1}', 422, "extra"),
    ("/predict", b'["hi"]', 422, "body"),
    ("/predict/batch", b'{"messages": []}', 422, "messages"),
    ("/predict/batch", json.dumps({"messages": ["hi"] * 257}).encode(), 422, "at most 256"),
    ("/predict/batch", b'{"messages": ["ok", null]}', 422, "messages.1"),
    ("/predict", json.dumps({"text": "x" * 2001}).encode(), 422, "2000 characters"),
    ("/predict", json.dumps({"text": "x" * 1_100_000}).encode(), 413, "over the limit"),
])
def test_bad_input_gets_a_clear_4xx(servers, path, body, status, says):
    got, answer = post(servers["blue"].url, path, body)
    assert got == status, answer
    assert says in (answer.get("message") or answer.get("detail")), answer


def test_metrics_and_inference_log(servers):
    blue = servers["blue"].url
    before = metric(blue, "mlkit_requests_total", version="1", outcome="ok")
    hist_before = metric(blue, "mlkit_request_latency_seconds_count", version="1")
    for text in ("hello there", "win cash now", "hello there"):
        serving.call(blue, "/predict", {"text": text})
    assert metric(blue, "mlkit_requests_total", version="1", outcome="ok") == before + 3
    assert metric(blue, "mlkit_request_latency_seconds_count", version="1") == hist_before + 3
    assert metric(blue, "mlkit_requests_total", version="1", outcome="invalid") >= 0
    text = "CALL 0800 169 6031 NOW or see win.com"
    serving.call(blue, "/predict", {"text": text})
    log = pd.read_json(servers["log"], lines=True)
    assert list(log.columns) == list(server.LOG_FIELDS)
    last = log.iloc[-1]
    assert last.model_version == 1 or str(last.model_version) == "1"
    assert last.outcome == "ok" and last.label in ("spam", "ham")
    assert {k: last[k] for k in textstats.FIELDS} == textstats.summary(text)  # lesson 01's features, one definition
    assert last.upper_share == round(7 / 18, 4) and last.has_phone and last.has_url


def test_latency_buckets_resolve_percentiles():
    edges = [0.0, *server.LATENCY_BUCKETS]
    widths = [b - a for a, b in zip(edges, edges[1:])]
    assert max(w for e, w in zip(server.LATENCY_BUCKETS, widths) if e <= 0.003) <= 0.00025 + 1e-12  # 0.25 ms to 3 ms
    assert max(w for e, w in zip(server.LATENCY_BUCKETS, widths) if e <= 0.01) <= 0.001 + 1e-12


def test_fault_injection_cache_and_microbatching(servers):
    green = servers["green"].url
    try:
        serving.call(green, "/admin/settings", {"fault_error_rate": 1.0})
        status, body = post(green, "/predict", b'{"text": "hi"}')
        assert status == 500 and "injected" in body["detail"]
        assert metric(green, "mlkit_requests_total", version="2", outcome="error") >= 1
        serving.call(green, "/admin/settings", {"fault_error_rate": 0.0, "cache_size": 10, "microbatch_ms": 1})
        first = serving.call(green, "/predict", {"text": "cache me"})
        second = serving.call(green, "/predict", {"text": "cache me"})
        assert first["spam_probability"] == second["spam_probability"]
        assert metric(green, "mlkit_cache_hits_total", version="2") >= 1
        serving.call(green, "/admin/settings", {"quantize": True})
        assert serving.call(green, "/metadata")["settings"]["quantize"] is True
        assert serving.call(green, "/predict", {"text": "win a prize"})["label"] in ("spam", "ham")
        with pytest.raises(RuntimeError, match="422"):
            serving.call(green, "/admin/settings", {"fault_error_rate": 2})
    finally:
        serving.call(green, "/admin/settings", {"fault_error_rate": 0.0, "cache_size": 0, "microbatch_ms": 0,
                                                "quantize": False})
