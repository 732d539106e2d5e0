"""Fuzz the model server from its own OpenAPI schema, for each kind of model it serves (the spam
classifier, the bike model): hand-made Hypothesis strategies over raw bytes (no input gets a 5xx,
every refusal has a ``message``, the server stays up), and schemathesis over every operation
(responses valid against the schema, every prediction request counted)."""

from __future__ import annotations

import json

import pytest

from mlkit.course import http

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
                    max_leaves=20)
# one valid body per route and kind, always among the inputs: random bodies alone may never be valid
ROW = {"hr": 17, "workingday": 1, "weathersit": "cloudy/misty", "temp": 0.6, "hum": 0.4, "windspeed": 0.3}
GOOD = {"spam": {"/predict": {"text": "WINNER! Claim your free prize now"},
                 "/predict/batch": {"messages": ["see you at lunch", "FREE entry: text WIN to 80086"]}},
        "bike": {"/predict": ROW, "/predict/batch": {"rows": [ROW, {**ROW, "hr": 3}]}}}


def _send(url: str, path: str, data: bytes) -> int:
    """POST ``data``; its status, after checking that a refusal says what to send (``message``)."""
    r = http.client().post(url + path, content=data, headers={"content-type": "application/json"}, timeout=30)
    if 400 <= r.status_code < 500:
        assert isinstance(r.json().get("message"), str) and r.json()["message"], (data[:200], r.text[:300])
    return r.status_code


def _bodies(schema: dict, ref: str):
    """Bodies shaped by a request schema (right keys, any values; sometimes good values), or anything."""
    model = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    props = model["properties"]

    def value(prop):
        if prop.get("type") == "string":
            return st.text(max_size=50) | JSON
        if prop.get("type") == "array":
            return st.lists(st.text(max_size=20) | JSON, max_size=300) | JSON
        if prop.get("type") in ("number", "integer"):
            return st.floats(allow_nan=True, allow_infinity=True) | st.integers() | JSON
        return JSON

    shaped = st.fixed_dictionaries({}, optional={k: value(p) for k, p in props.items()})
    return shaped.map(lambda d: json.dumps(d).encode()) | JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200)


def _fuzz(url: str, path: str, good: dict, bodies, statuses: list[int], examples: int) -> None:
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(data=bodies)
    @example(data=json.dumps(good).encode())
    def fuzz(data):
        status = _send(url, path, data)
        statuses.append(status)
        assert status < 500, (path, data[:200], status)

    fuzz()


@pytest.mark.parametrize("kind, examples", [("spam", 150), ("bike", 60)])
def test_fuzz_from_openapi(request, kind, examples):
    url = request.getfixturevalue("servers")["blue"].url if kind == "spam" else \
        request.getfixturevalue("bike_server")["server"].url
    schema = http.call(url, "/openapi.json")
    targets = []
    for path, ops in schema["paths"].items():
        body = ops.get("post", {}).get("requestBody")
        if body and path.startswith("/predict"):
            targets.append((path, body["content"]["application/json"]["schema"]["$ref"]))
    assert {p for p, _ in targets} == {"/predict", "/predict/batch"}
    statuses: list[int] = []
    for path, ref in targets:
        _fuzz(url, path, GOOD[kind][path], _bodies(schema, ref), statuses, examples)
    assert statuses.count(200) >= 2 and any(400 <= s < 500 for s in statuses)  # the good bodies, and bad ones
    assert http.request("GET", url + "/health/ready").status_code == 200  # still up


# ------------------------------------------------------------------ schemathesis, from the server's own schema
def _counted(url: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(s.value for f in text_string_to_metric_families(http.text(url + "/metrics")) for s in f.samples
               if s.name == "mlkit_requests_total")


def _schemathesis(op, mode, url: str, budget: int, seen: list, failures: list[str]) -> None:
    """Send ``budget`` cases of one operation in one generation mode, with a fixed seed; collect
    each status and each check that failed."""
    from hypothesis import Phase, seed

    @seed(30)
    @settings(max_examples=budget, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(case=op.as_strategy(generation_mode=mode))
    def fuzz(case):
        response = case.call(base_url=url, timeout=60)
        seen.append((op.label, mode.value, response.status_code))
        try:
            case.validate_response(response)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported by the test
            failures.append(f"{op.label} ({mode.value}) -> {response.status_code}: {str(exc)[:400]}")

    fuzz()


@pytest.mark.parametrize("kind, budget", [("spam", 25), ("bike", 15)])
def test_schemathesis_fuzz(request, kind, budget):
    """Every operation of the public schema, valid and invalid inputs (schemathesis, fixed seed, a
    small budget): no 5xx, every response valid against the schema (status, content type, body),
    every prediction request counted, and the server still answers afterwards."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode

    server = request.getfixturevalue("servers")["blue"] if kind == "spam" else \
        request.getfixturevalue("bike_server")["server"]
    url = server.url
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    before = _counted(url)
    seen: list[tuple[str, str, int]] = []
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == {"POST /predict", "POST /predict/batch", "GET /health/live",
                                               "GET /health/ready", "GET /metadata", "GET /metrics"}
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _schemathesis(op, mode, url, budget, seen, failures)
            except Unsatisfiable:  # no invalid input exists for an operation without parameters
                assert mode is GenerationMode.NEGATIVE and not op.label.startswith("POST")
    assert not failures, "\n".join(failures[:5])
    assert not [s for s in seen if s[2] >= 500]
    posts = [s for s in seen if s[0].startswith("POST")]
    assert {s[2] for s in posts if s[1] == "positive"} == {200}  # what the schema allows is accepted
    assert all(400 <= s[2] < 500 for s in posts if s[1] == "negative")  # and what it does not, refused
    assert _counted(url) == before + len(posts)  # every prediction request counted, refused ones too
    assert http.call(url, "/health/live") == {"live": True}
    assert http.call(url, "/predict", GOOD[kind]["/predict"])["model_version"] == "1"  # still scores
