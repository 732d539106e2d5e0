"""mlkit.deployment.server, as real uvicorn processes: endpoints, 4xx answers, metrics, the inference log,
fault injection, the cache, micro-batching and quantization; the spam classifier and the bike model
through the same server (one adapter each)."""

from __future__ import annotations

import json
import threading

import pandas as pd
import pytest

from mlkit.course import http
from mlkit.data import textstats
from mlkit.deployment import launch
from mlkit.deployment.server import inference_log, metrics
from mlkit.deployment.server.adapters import BikeAdapter, SpamAdapter
from mlkit.training import bike
from mlkit.training.tracking import SPAM_MODEL


def post(url, path, data: bytes, **headers):
    r = http.client().post(url + path, content=data, headers={"content-type": "application/json", **headers})
    return r.status_code, r.json()


def metric(url, name, **labels):
    from prometheus_client.parser import text_string_to_metric_families

    return sum(s.value for f in text_string_to_metric_families(http.text(url + "/metrics")) for s in f.samples
               if s.name == name and labels.items() <= s.labels.items())


def last_lines(path, n):
    return pd.read_json(path, lines=True).tail(n).reset_index(drop=True)


def test_health_metadata_predict(servers):
    blue = servers["blue"].url
    assert http.call(blue, "/health/live") == {"live": True}
    assert http.call(blue, "/health/ready")["ready"] is True
    meta = http.call(blue, "/metadata")
    assert meta["name"] == SPAM_MODEL and meta["alias"] == "champion" and meta["version"] == "1"
    assert meta["kind"] == "spam" and meta["run_id"] and meta["data_version"]
    one = http.call(blue, "/predict", {"text": "WINNER!! claim your free prize, call 09061701461"})
    assert one["label"] in ("spam", "ham") and 0 <= one["spam_probability"] <= 1 and one["model_version"] == "1"
    batch = http.call(blue, "/predict/batch", {"messages": ["see you at 6", "free entry to win cash"]})
    assert len(batch["predictions"]) == 2
    green = http.call(servers["green"].url, "/predict", {"text": "see you at 6"})
    assert green["model_version"] == "2"


def test_model_served_is_the_registered_one(servers):
    from mlkit.training import tracking

    clf = tracking.load_spam_model(f"models:/{SPAM_MODEL}@champion")
    texts = ["see you at 6", "URGENT! You have won a 1 week FREE membership", "ok lar"]
    got = http.call(servers["blue"].url, "/predict/batch", {"messages": texts})["predictions"]
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
    ("/predict", json.dumps({"text": "x" * 7_000_000}).encode(), 413, "over the limit"),
])
def test_bad_input_gets_a_clear_4xx_and_is_counted(servers, path, body, status, says):
    blue = servers["blue"].url
    before = {o: metric(blue, "mlkit_requests_total", outcome=o) for o in ("ok", "invalid", "error")}
    got, answer = post(blue, path, body)
    assert got == status, answer
    assert says in (answer.get("message") or answer.get("detail")), answer
    after = {o: metric(blue, "mlkit_requests_total", outcome=o) for o in ("ok", "invalid", "error")}
    assert after == {**before, "invalid": before["invalid"] + 1}  # counted once, as invalid


def test_metrics_and_inference_log(servers):
    blue = servers["blue"].url
    before = metric(blue, "mlkit_requests_total", version="1", outcome="ok")
    hist_before = metric(blue, "mlkit_request_latency_seconds_count", version="1")
    spam_before = metric(blue, "mlkit_predictions_total", version="1", label="spam")
    for text in ("hello there", "win cash now", "hello there"):
        http.call(blue, "/predict", {"text": text})
    assert metric(blue, "mlkit_requests_total", version="1", outcome="ok") == before + 3
    assert metric(blue, "mlkit_request_latency_seconds_count", version="1") == hist_before + 3
    text = "CALL 0800 169 6031 NOW or see win.com"
    answer = http.call(blue, "/predict", {"text": text, "threshold": 0.0}, headers={"x-request-id": "req-abc"})
    assert answer["label"] == "spam" and answer["request_id"] == "req-abc"  # threshold 0: everything is spam
    assert metric(blue, "mlkit_predictions_total", version="1", label="spam") >= spam_before + 1
    log = pd.read_json(servers["log"], lines=True)
    assert list(log.columns) == list(inference_log.fields(SpamAdapter))
    from mlkit.deployment import server  # what lesson 05's reader imports: the same fields, in order

    assert inference_log.fields(SpamAdapter) == server.LOG_FIELDS
    last = log.iloc[-1]
    assert last.request_id == "req-abc" and str(last.model_version) == "1" and last.endpoint == "predict"
    assert last.outcome == "ok" and last.label == "spam" and not last.cache_hit
    assert last.spam_probability == pytest.approx(answer["spam_probability"], abs=1e-12)
    assert last.tfidf_nnz >= 1 and last.latency_ms > 0
    assert {k: last[k] for k in textstats.FIELDS} == textstats.summary(text)  # lesson 01's features, one definition
    assert last.upper_share == round(7 / 18, 4) and last.has_phone and last.has_url


def test_latency_buckets_resolve_percentiles():
    edges = [0.0, *metrics.LATENCY_BUCKETS]
    widths = [b - a for a, b in zip(edges, edges[1:])]
    assert max(w for e, w in zip(metrics.LATENCY_BUCKETS, widths) if e <= 0.003) <= 0.00025 + 1e-12  # 0.25 ms to 3 ms
    assert max(w for e, w in zip(metrics.LATENCY_BUCKETS, widths) if e <= 0.01) <= 0.001 + 1e-12


def test_faults_are_real_and_counted(servers):
    green = servers["green"].url
    clean = http.call(green, "/predict", {"text": "see you at 6"})["spam_probability"]
    errors = metric(green, "mlkit_requests_total", version="2", outcome="error")
    try:
        launch.admin(servers["green"], {"fault_error_rate": 1.0})
        status, body = post(green, "/predict", b'{"text": "hi"}')
        assert status == 500 and "injected" in body["detail"]
        assert metric(green, "mlkit_requests_total", version="2", outcome="error") == errors + 1
        failed = last_lines(servers["green_log"], 1).iloc[0]
        assert failed.outcome == "error" and pd.isna(failed.spam_probability) and failed.request_id == body["request_id"]
        launch.admin(servers["green"], {"fault_error_rate": 0.0, "fault_bad_output_rate": 1.0})
        flipped = http.call(green, "/predict", {"text": "see you at 6"})["spam_probability"]
        assert flipped == pytest.approx(1 - clean, abs=1e-9)  # the spam adapter's wrong answer: spam and ham swapped
        launch.admin(servers["green"], {"fault_bad_output_rate": 0.0, "fault_latency_ms": 300})
        slow = http.request("POST", green + "/predict", json={"text": "hi"}).elapsed.total_seconds()
        assert slow >= 0.3
        with pytest.raises(http.HttpError, match="422"):
            launch.admin(servers["green"], {"fault_error_rate": 2})
    finally:
        launch.admin(servers["green"], {"fault_error_rate": 0.0, "fault_bad_output_rate": 0.0,
                                             "fault_latency_ms": 0})


def test_cache_microbatching_and_quantization(servers):
    import torch

    from mlkit.training import tracking

    green = servers["green"].url
    try:
        hits = metric(green, "mlkit_cache_hits_total", version="2")
        launch.admin(servers["green"], {"cache_size": 10})
        first = http.call(green, "/predict", {"text": "cache me"})
        second = http.call(green, "/predict", {"text": "cache me"})
        assert first["spam_probability"] == second["spam_probability"]
        assert metric(green, "mlkit_cache_hits_total", version="2") == hits + 1
        assert list(last_lines(servers["green_log"], 2).cache_hit) == [False, True]

        launch.admin(servers["green"], {"cache_size": 0, "microbatch_ms": 200})
        calls, items = (metric(green, f"mlkit_model_batch_size_{s}", version="2") for s in ("count", "sum"))
        threads = [threading.Thread(target=http.call, args=(green, "/predict", {"text": f"message {i}"}))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert metric(green, "mlkit_model_batch_size_sum", version="2") == items + 8
        assert metric(green, "mlkit_model_batch_size_count", version="2") < calls + 8  # some shared a model call

        launch.admin(servers["green"], {"microbatch_ms": 0, "quantize": True})
        assert http.call(green, "/metadata")["settings"]["quantize"] is True
        clf = tracking.load_spam_model(f"models:/{SPAM_MODEL}@challenger")
        text = "win a prize"
        fp32 = float(clf.predict_proba([text])[0])
        clf.model = torch.ao.quantization.quantize_dynamic(clf.model, {torch.nn.Linear}, dtype=torch.qint8)
        int8 = float(clf.predict_proba([text])[0])
        assert abs(int8 - fp32) > 1e-7  # the two models differ, so the server's answer says which it used
        assert http.call(green, "/predict", {"text": text})["spam_probability"] == pytest.approx(int8, abs=1e-6)
    finally:
        launch.admin(servers["green"], {"cache_size": 0, "microbatch_ms": 0, "quantize": False})


# ------------------------------------------------------------------------ the bike model, same server
ROW = {"hr": 8, "workingday": 1, "weathersit": "clear", "temp": 0.3, "hum": 0.5, "windspeed": 0.1}


def test_bike_model_served_is_the_registered_one(registry, bike_server):
    url = bike_server["server"].url
    meta = http.call(url, "/metadata")
    assert meta["kind"] == "bike" and meta["name"] == bike.BIKE_MODEL and meta["version"] == "1"
    rows = [ROW, {**ROW, "hr": 17, "workingday": 0, "weathersit": "light rain/snow"}, {**ROW, "hr": 3}]
    want = bike.BikeModel.load(f"models:/{bike.BIKE_MODEL}@champion").predict(pd.DataFrame(rows))
    one = http.call(url, "/predict", rows[0])
    assert one["bikers"] == pytest.approx(want[0], rel=1e-12) and one["model_version"] == "1"
    batch = http.call(url, "/predict/batch", {"rows": rows})["predictions"]
    assert [p["bikers"] for p in batch] == pytest.approx(list(want), rel=1e-12)
    assert want[0] > 2 * want[2]  # 8:00 on a working day is busier than 3:00
    log = pd.read_json(bike_server["log"], lines=True, precise_float=True)
    assert list(log.columns) == list(inference_log.fields(BikeAdapter))
    assert log.iloc[-3:][list(bike.INPUTS)].to_dict("records") == rows
    assert log.iloc[-1].bikers == pytest.approx(want[2], rel=1e-12)


@pytest.mark.parametrize("body, says", [
    ({**ROW, "hr": 24}, "hr: Input should be less than or equal to 23"),
    ({**ROW, "weathersit": "snow"}, "weathersit"),
    ({**ROW, "workingday": 2}, "workingday"),
    ({k: v for k, v in ROW.items() if k != "temp"}, "temp: Field required"),
    ({**ROW, "text": "hi"}, "text: Extra inputs are not permitted"),
])
def test_bike_bad_rows_get_a_clear_422(bike_server, body, says):
    got, answer = post(bike_server["server"].url, "/predict", json.dumps(body).encode())
    assert got == 422 and says in answer["message"], answer


def test_bike_faults_and_refused_settings(bike_server):
    url = bike_server["server"].url
    try:
        launch.admin(bike_server["server"], {"fault_bad_output_rate": 1.0})
        assert http.call(url, "/predict", ROW)["bikers"] < 0  # the bike adapter's wrong answer: a negative count
        with pytest.raises(http.HttpError, match="422.*spam MLP only"):
            launch.admin(bike_server["server"], {"quantize": True})
        assert launch.admin(bike_server["server"])["quantize"] is False
    finally:
        launch.admin(bike_server["server"], {"fault_bad_output_rate": 0.0})


def test_settings_from_the_environment(monkeypatch):
    from mlkit.deployment.server import settings

    monkeypatch.setenv("MLKIT_QUANTIZE", "int8")
    monkeypatch.setenv("MLKIT_CACHE_SIZE", "100")
    monkeypatch.setenv("MLKIT_MODEL_KIND", "bike")
    got = settings.read()
    assert got.quantize is True and got.cache_size == 100 and got.model_kind == "bike"
    assert got.runtime()["cache_size"] == 100
    monkeypatch.setenv("MLKIT_FAULT_ERROR_RATE", "2")
    with pytest.raises(SystemExit, match="MLKIT_FAULT_ERROR_RATE"):
        settings.read()


def test_an_unknown_kind_is_refused():
    from mlkit.deployment.server import adapters

    with pytest.raises(ValueError, match="MLKIT_MODEL_KIND must be one of"):
        adapters.adapter_for("speech")
