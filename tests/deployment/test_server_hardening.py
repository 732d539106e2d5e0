"""Lesson 04's server in front of users (issue 30): what it refuses, one table row per bad input,
grouped by the issue's bullets, on real uvicorn processes.

* the admin surface: a token from the environment, out of the public schema, settings checked
  against their range and unit, injected faults visible in ``/health/ready``;
* scoring off the event loop: ``/health/live`` answers while the largest batches are scored;
* one set of limits: the largest request the schema allows is accepted in any script, anything
  larger is refused with the schema's own numbers;
* errors that match the schema: every status documented with its body, 415 for a wrong content
  type, one ``message`` shape for every 4xx, every refused request counted;
* bounds: cache size, request ids (replaced, never echoed), memory returned when the cache shrinks.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlkit.course import http
from mlkit.deployment import launch, loadgen
from mlkit.deployment.server import state

TOKEN = "<the server's token>"  # replaced by the green server's own admin token


def counts(url):
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[tuple, float] = {}
    for family in text_string_to_metric_families(http.text(url + "/metrics")):
        for s in family.samples:
            if s.name in ("mlkit_requests_total", "mlkit_refused_total"):
                out[(s.name, *sorted(s.labels.items()))] = s.value
    return out


def send(server, method, path, body=None, headers=None):
    headers = dict(headers or {})
    if headers.get("authorization") == TOKEN:
        headers["authorization"] = f"Bearer {server.env['MLKIT_ADMIN_TOKEN']}"
    if isinstance(body, (dict, list)):
        body, headers = json.dumps(body).encode(), {"content-type": "application/json", **headers}
    return http.client().request(method, server.url + path, content=body, headers=headers, timeout=60)


JSON = {"content-type": "application/json"}
ADMIN = {"authorization": TOKEN}
ROWS = [  # bullet, method, path, body, headers, status, the message says
    ("admin", "GET", "/admin/settings", None, {}, 401, "Authorization: Bearer"),
    ("admin", "POST", "/admin/settings", {"fault_error_rate": 0.99999}, {"authorization": "Bearer guess"}, 401,
     "admin token"),
    ("admin", "POST", "/admin/settings", {"fault_error_rate": 2}, ADMIN, 422, "a share from 0 to 1"),
    ("admin", "POST", "/admin/settings", {"fault_latency_ms": 60_000}, ADMIN, 422, "milliseconds from 0 to 10,000"),
    ("admin", "POST", "/admin/settings", {"microbatch_ms": -1}, ADMIN, 422, "milliseconds from 0 (off) to 1,000"),
    ("admin", "POST", "/admin/settings", {"quantize": "yes"}, ADMIN, 422, "true (int8 weights) or false"),
    ("admin", "POST", "/admin/settings", {"fault_rate": 0.1}, ADMIN, 422, "not a setting"),
    ("admin", "POST", "/admin/settings", b"{", {**ADMIN, **JSON}, 400, "JSON object of settings"),
    ("admin", "OPTIONS", "/admin/settings", None, {}, 405, "use GET, POST"),
    ("bounds", "POST", "/admin/settings", {"cache_size": 10**9}, ADMIN, 422, "from 0 (off) to 10,000"),
    ("bounds", "POST", "/admin/settings", {"cache_size": 1.5}, ADMIN, 422, "whole number of entries"),
    ("limits", "POST", "/predict/batch", {"messages": ["hi"] * 257}, {}, 422, "at most 256"),
    ("limits", "POST", "/predict", {"text": "é" * 2001}, {}, 422, "at most 2000 characters"),
    ("limits", "POST", "/predict", "OVER", JSON, 413, "256 messages of at most 2000 characters each"),
    ("errors", "POST", "/predict", b'{"text": "hi"}', {"content-type": "text/plain"}, 415,
     "Content-Type: application/json"),
    ("errors", "POST", "/predict", b'{"text": "hi"}', {}, 415, "without a Content-Type"),
    ("errors", "POST", "/predict", b'{"text": "hi"}', {"content-type": "application/json; charset=latin-1"}, 415,
     "UTF-8"),
    ("errors", "POST", "/predict", b'{"text": "\xff\xfe"}', JSON, 400, "not valid UTF-8"),
    ("errors", "POST", "/predict", b"[" * 50_000 + b"]" * 50_000, JSON, 400, "nested too deeply"),
    ("errors", "POST", "/predict", b'{"text": "hi", "threshold": ' + b"1" * 5000 + b"}", JSON, 400, "cannot be read"),
    ("errors", "POST", "/predict", b'{"text": "hi"', JSON, 400, "not valid JSON"),
    ("errors", "POST", "/predict/batch", b"", JSON, 400, "body is empty"),
    ("errors", "GET", "/predict", None, {}, 405, "use POST"),
    ("errors", "GET", "/predict/nothing", None, {}, 404, "the endpoints are"),
]


@pytest.mark.parametrize("bullet, method, path, body, headers, status, says", ROWS,
                         ids=[f"{r[0]}-{r[5]}-{i}" for i, r in enumerate(ROWS)])
def test_refused_with_one_message_shape_and_counted(servers, bullet, method, path, body, headers, status, says):
    green = servers["green"]
    if body == "OVER":  # one byte over the limit that the largest valid request fits
        body = b" " * (http.call(green.url, "/metadata")["limits"]["max_body_bytes"] + 1)
    before = counts(green.url)
    r = send(green, method, path, body, headers)
    answer = r.json()
    assert r.status_code == status, answer
    assert set(answer) <= {"message", "detail", "request_id"} and isinstance(answer["message"], str), answer
    assert says in answer["message"], answer
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"
    if status == 405:
        assert set(r.headers["allow"].replace(" ", "").split(",")) >= set(says.removeprefix("use ").split(", "))
    after = counts(green.url)
    changed = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    if path.startswith("/predict"):
        assert changed == {("mlkit_requests_total", ("outcome", "invalid"), ("version", "2")): 1}, changed
    else:
        endpoint = path.strip("/").split("/")[0]
        assert changed == {("mlkit_refused_total", ("endpoint", endpoint), ("status", str(status))): 1}, changed


def test_admin_is_out_of_the_schema_and_every_status_is_in_it(servers):
    schema = http.call(servers["blue"].url, "/openapi.json")
    assert not [p for p in schema["paths"] if p.startswith("/admin")]
    for path in ("/predict", "/predict/batch"):
        responses = schema["paths"][path]["post"]["responses"]
        assert set(responses) == {"200", "400", "413", "415", "422", "500", "503"}
        for status, doc in responses.items():
            if status != "200":
                assert doc["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert set(schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    assert "6,161,408 bytes" in schema["info"]["description"]  # the body limit, stated where clients read


@pytest.mark.filterwarnings("ignore:Using `httpx`")  # starlette.testclient suggests httpx2, not installed
def test_admin_is_off_without_a_token():
    from fastapi.testclient import TestClient

    from mlkit.deployment.server.app import create_app
    from mlkit.deployment.server.settings import ServerSettings

    client = TestClient(create_app(ServerSettings(admin_token=None)))  # no lifespan: no model needed
    r = client.post("/admin/settings", json={"fault_error_rate": 0.5}, headers={"authorization": "Bearer " + "x" * 20})
    assert r.status_code == 403 and "MLKIT_ADMIN_TOKEN" in r.json()["message"]
    with pytest.raises(ValueError, match="16"):
        ServerSettings(admin_token="short")


def test_ready_reports_an_injected_fault(servers):
    green = servers["green"]
    try:
        launch.admin(green, fault_error_rate=0.99999)
        ready = http.request("GET", green.url + "/health/ready")
        assert ready.status_code == 200  # still in rotation: the fault is a test the operator asked for
        assert ready.json()["faults"] == {"fault_error_rate": 0.99999} and "fault_error_rate" in ready.json()["message"]
    finally:
        launch.admin(green, fault_error_rate=0.0)
    assert http.call(green.url, "/health/ready")["faults"] == {}


@pytest.mark.parametrize("script", ["x", "é", "字", "😀", "😀 escaped"])
def test_the_largest_valid_batch_is_accepted_in_any_script(servers, script):
    url = servers["blue"].url
    limits = http.call(url, "/metadata")["limits"]
    texts = [f"{i:03d}" + script[0] * (limits["max_chars"] - 3) for i in range(limits["max_batch"])]
    body = json.dumps({"messages": texts}, ensure_ascii=script.endswith("escaped")).encode()
    assert len(body) <= limits["max_body_bytes"]
    r = http.client().post(url + "/predict/batch", content=body, headers={"content-type": "application/json"},
                           timeout=120)
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["predictions"]) == limits["max_batch"]


@pytest.mark.parametrize("sent, echoed", [
    ("msg-12-day3", True), ("0b4f2a8c-5a1e-4c55-9a8e-3b0a5f0e7d11", True), ("a" * 64, True),
    ("a" * 65, False), ("x" * 10_000, False), ("two words", False), ("<script>", False), ("-leading", False),
    ("", False),
])
def test_request_ids_are_bounded_and_never_echoed_when_bad(servers, sent, echoed):
    r = http.client().post(servers["blue"].url + "/predict", json={"text": "see you at 6"},
                           headers={"x-request-id": sent})
    got = r.json()["request_id"]
    assert r.status_code == 200 and state.REQUEST_ID.fullmatch(got) and r.headers["x-request-id"] == got
    assert (got == sent) is echoed
    assert pd.read_json(servers["log"], lines=True).iloc[-1].request_id == got  # the log keeps what was answered


def test_cache_memory_returns_when_it_shrinks(servers):
    import psutil

    green = servers["green"]
    proc = next(p for p in psutil.Process(green.pid).children(recursive=True) if "uvicorn" in " ".join(p.cmdline()))
    try:
        launch.admin(green, cache_size=10_000)
        base = proc.memory_info().rss
        for b in range(12):  # 3,072 distinct messages of 2,000 four-byte characters: about 25 MB of keys
            texts = [f"{b}-{i}-" + chr(0x1F600 + (b * 256 + i) % 80) * 1990 for i in range(256)]
            http.call(green.url, "/predict/batch", {"messages": texts}, timeout=120)
        full = proc.memory_info().rss
        launch.admin(green, cache_size=0)
        emptied = proc.memory_info().rss
    finally:
        launch.admin(green, cache_size=0)
    grown = full - base
    assert grown > 15e6, f"the cache grew the server by only {grown / 1e6:.1f} MB"
    assert full - emptied > 0.5 * grown, (base, full, emptied)


def test_liveness_answers_while_the_largest_batches_are_scored(servers):
    green = servers["green"]
    limits = http.call(green.url, "/metadata")["limits"]
    body = loadgen.largest_batch(limits["max_batch"], limits["max_chars"])
    try:
        launch.admin(green, scoring="loop")
        on_loop = loadgen.liveness_under_load(green.url, body, concurrency=3, duration=2.5)
        launch.admin(green, scoring="thread")
        in_thread = loadgen.liveness_under_load(green.url, body, concurrency=3, duration=2.5)
    finally:
        launch.admin(green, scoring="thread")
    assert on_loop.batches and in_thread.batches and not on_loop.failed and not in_thread.failed
    # scored on the loop, a probe waits for whole batches (hundreds of ms); in a thread it does not
    assert in_thread.percentile(50) * 5 < on_loop.percentile(50), (in_thread.summary(), on_loop.summary())
    assert len(in_thread.probe_ms) > 3 * len(on_loop.probe_ms)
