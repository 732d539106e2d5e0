"""Fuzz the model server from its own OpenAPI schema (hypothesis): no input gets a 5xx, and the
server stays up; for each kind of model it serves (the spam classifier, the bike model)."""

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
    return http.client().post(url + path, content=data, headers={"content-type": "application/json"},
                              timeout=30).status_code


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
