"""Fuzz the model server from its own OpenAPI schema (hypothesis): no input gets a 5xx, and the
server stays up."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
                    max_leaves=20)
# one valid body per route, always among the inputs: random bodies alone may never be valid
GOOD = {"/predict": {"text": "WINNER! Claim your free prize now"},
        "/predict/batch": {"messages": ["see you at lunch", "FREE entry: text WIN to 80086"]}}


def _send(url: str, path: str, data: bytes) -> int:
    req = urllib.request.Request(url + path, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _bodies(schema: dict, ref: str):
    """Bodies shaped by a request schema (right keys, any values; sometimes good values), or anything."""
    model = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    props = model["properties"]

    def value(prop):
        if prop.get("type") == "string":
            return st.text(max_size=50) | JSON
        if prop.get("type") == "array":
            return st.lists(st.text(max_size=20) | JSON, max_size=300) | JSON
        if prop.get("type") == "number":
            return st.floats(allow_nan=True, allow_infinity=True) | JSON
        return JSON

    shaped = st.fixed_dictionaries({}, optional={k: value(p) for k, p in props.items()})
    return shaped.map(lambda d: json.dumps(d).encode()) | JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200)


def _fuzz(url: str, path: str, bodies, statuses: list[int]) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(data=bodies)
    @example(data=json.dumps(GOOD[path]).encode())
    def fuzz(data):
        status = _send(url, path, data)
        statuses.append(status)
        assert status < 500, (path, data[:200], status)

    fuzz()


def test_fuzz_from_openapi(servers):
    url = servers["blue"].url
    schema = json.loads(urllib.request.urlopen(url + "/openapi.json").read())
    targets = []
    for path, ops in schema["paths"].items():
        body = ops.get("post", {}).get("requestBody")
        if body and path.startswith("/predict"):
            targets.append((path, body["content"]["application/json"]["schema"]["$ref"]))
    assert {p for p, _ in targets} == {"/predict", "/predict/batch"}
    statuses: list[int] = []
    for path, ref in targets:
        _fuzz(url, path, _bodies(schema, ref), statuses)
    assert statuses.count(200) >= 2 and any(400 <= s < 500 for s in statuses)  # the good bodies, and bad ones
    assert urllib.request.urlopen(url + "/health/ready").status == 200  # still up
