"""Tracing (lesson 05): spans written by the real OpenTelemetry SDK, one trace across processes
joined by the traceparent header, parents before children, self times, the slowest step, and the
request id in the span, the exemplar and the OpenMetrics exposition."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from mlkit.monitoring import tracing


def _one_request(tmp_path, featurize_s: float = 0.0, request_id: str = "req-1") -> list:
    """What the router and the model server record for one request: two tracers, two files, the
    headers passed from one to the other as the router passes them."""
    router = tracing.Tracing(tmp_path / "router.jsonl", "router")
    server = tracing.Tracing(tmp_path / "server.jsonl", "model server")
    outgoing = {"x-request-id": request_id}
    with router.proxy({}, outgoing, backend="blue"), \
            server.request("model server", outgoing, outgoing["x-request-id"], endpoint="predict"):
        with server.step("featurize", items=1):
            time.sleep(featurize_s)
        with server.step("predict", items=1):
            pass
    router.close()
    server.close()
    assert not server.active
    return [router.path, server.path]


def test_one_request_is_one_trace_across_two_files_parent_before_child(tmp_path):
    spans = tracing.read(_one_request(tmp_path))
    assert len(spans) == 5 and spans.trace_id.nunique() == 1
    trace = tracing.trace_of(spans, "req-1")
    assert list(trace.name) == ["router", "forward", "model server", "featurize", "predict"]
    assert list(trace.depth) == [0, 1, 2, 3, 3]
    by_name = trace.set_index("name")
    assert by_name.loc["router", "parent_id"] is None
    for child, parent in [("forward", "router"), ("model server", "forward"), ("featurize", "model server"),
                          ("predict", "model server")]:
        assert by_name.loc[child, "parent_id"] == by_name.loc[parent, "span_id"], child
        assert by_name.loc[parent, "start_ns"] <= by_name.loc[child, "start_ns"]
        assert by_name.loc[child, "end_ns"] <= by_name.loc[parent, "end_ns"]
    assert set(by_name.service) == {"router", "model server"}
    assert by_name.loc["model server", "kind"] == "server" and by_name.loc["forward", "kind"] == "client"
    assert set(trace.request_id.dropna()) == {"req-1"}  # the request's spans carry its id


def test_the_slow_step_is_found_by_self_time_not_by_duration(tmp_path):
    trace = tracing.trace_of(tracing.read(_one_request(tmp_path, featurize_s=0.03)), "req-1")
    own = tracing.self_times(trace)
    assert tracing.slowest_step(trace) == "featurize"
    assert own["featurize"] >= 25 and own["router"] < own["featurize"]  # the router lasts longer, but it waits
    assert trace.set_index("name").ms["router"] > own["featurize"]
    assert own.sum() == pytest.approx(trace.ms.iloc[0], rel=1e-6)  # own times add up to the root's duration


def test_self_times_count_overlapping_children_once():
    base = {"trace_id": "t", "kind": "internal", "service": "s", "status": "unset", "request_id": None,
            "attributes": {}}
    spans = tracing.frame([
        {**base, "span_id": "a", "parent_id": None, "name": "root", "start_ns": 0, "end_ns": 10_000_000},
        {**base, "span_id": "b", "parent_id": "a", "name": "x", "start_ns": 1_000_000, "end_ns": 5_000_000},
        {**base, "span_id": "c", "parent_id": "a", "name": "y", "start_ns": 3_000_000, "end_ns": 6_000_000},
    ])
    own = tracing.self_times(tracing.tree(spans))
    assert own.to_dict() == pytest.approx({"root": 5.0, "x": 4.0, "y": 3.0})
    assert tracing.slowest_step(tracing.tree(spans)) == "root"


def test_a_caller_outside_the_files_makes_the_router_the_root(tmp_path):
    from opentelemetry.propagate import inject
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    router = tracing.Tracing(tmp_path / "router.jsonl", "router")
    with provider.get_tracer("test").start_as_current_span("client"):
        incoming: dict[str, str] = {}
        inject(incoming)
        with router.proxy(incoming, {}):
            pass
    router.close()
    files = tracing.read([router.path])
    rid = files.request_id.iloc[0]
    assert len(rid) == 32  # the router made a request id: the client sent none
    alone = tracing.trace_of(files, rid)
    assert alone.name.iloc[0] == "router" and alone.depth.iloc[0] == 0  # its parent is not in the file
    both = tracing.trace_of(pd.concat([files, tracing.frame(memory.get_finished_spans())]), rid)
    assert list(both.name) == ["client", "router", "forward"]


def test_without_a_file_tracing_is_off_and_costs_nothing(tmp_path):
    off = tracing.Tracing(None, "model server")
    assert not off.active
    outgoing: dict[str, str] = {}
    with off.proxy({}, outgoing), off.request("x", {}, "r"), off.step("featurize"):
        pass
    assert outgoing == {}  # no traceparent, no request id added
    assert off.exemplar("r" * 100) == {"request_id": "r" * 64}  # cut to fit OpenMetrics' 128 characters


def test_unknown_request_id_says_what_to_check(tmp_path):
    spans = tracing.read(_one_request(tmp_path))
    with pytest.raises(KeyError, match="tracing was on"):
        tracing.trace_of(spans, "nobody")
    assert tracing.read([tmp_path / "missing.jsonl"]).empty


def test_the_exemplar_joins_the_metric_to_the_trace_and_only_openmetrics_shows_it(tmp_path):
    from mlkit.deployment.server.metrics import ServerMetrics

    metrics = ServerMetrics()
    server = tracing.Tracing(tmp_path / "server.jsonl", "model server")
    with server.request("model server", {}, "slow-1"):
        metrics.request("1", "ok", 0.034, server.exemplar("slow-1"))
    server.close()
    metrics.request("1", "ok", 0.0012, server.exemplar("fast-1"))
    text, content_type = metrics.text(tracing.OPENMETRICS)
    assert content_type.startswith("application/openmetrics-text")
    found = tracing.exemplars(text.decode()).set_index("request_id")
    assert set(found.index) == {"slow-1", "fast-1"}
    assert found.loc["slow-1", "le"] == 0.04 and found.loc["slow-1", "ms"] == pytest.approx(34)
    span = tracing.read([server.path]).iloc[0]
    assert found.loc["slow-1", "trace_id"] == span.trace_id and span.request_id == "slow-1"
    assert pd.isna(found.loc["fast-1", "trace_id"])  # observed outside any span: no trace to point to
    plain, plain_type = metrics.text()
    assert plain_type.startswith("text/plain") and b"slow-1" not in plain
    assert b"process_cpu_seconds_total" in plain  # the server's own CPU and memory (the process collector)


def test_waterfall_draws_a_bar_per_span(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    trace = tracing.trace_of(tracing.read(_one_request(tmp_path)), "req-1")
    ax = tracing.waterfall(trace, title="one request")
    assert len(ax.patches) == 5 and ax.get_title() == "one request"
    assert ax.get_xlim()[1] == pytest.approx(trace.end_ms.max() * 1.25)
    import matplotlib.pyplot as plt

    _, (top, bottom) = plt.subplots(2, 1, sharex=True)
    tracing.waterfall(trace, top)
    tracing.waterfall(trace.assign(end_ms=trace.end_ms / 10), bottom)  # a shorter trace drawn second
    assert top.get_xlim()[1] == pytest.approx(trace.end_ms.max() * 1.25)  # the longer one still fits
    assert [t.get_text().strip() for t in ax.get_yticklabels()][0] == "router: router"


def test_the_router_process_writes_its_spans_and_passes_the_trace_on(tmp_path):
    """A real router process (lesson 04's, started with a trace file) in front of a plain HTTP
    server: the router's two spans land in the file with the request id it made, and the request
    the backend receives carries that id and a traceparent naming the forward span."""
    from mlkit.course import http, processes
    from mlkit.deployment import launch

    seen = tmp_path / "seen.json"
    backend = processes.BackgroundServer.python(
        "-c", "import http.server, json, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self): self.send_response(200); self.end_headers()\n"
        "    def do_POST(self):\n"
        "        open(sys.argv[2], 'w').write(json.dumps(dict(self.headers)))\n"
        "        self.send_response(200); self.send_header('content-type', 'application/json'); self.end_headers()\n"
        "        self.wfile.write(b'{}')\n"
        "    def log_message(self, *a): pass\n"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
        "{port}", str(seen), name="plain backend", health_path="/")
    with backend, launch.start_router({"blue": backend.url}, "blue", trace_file=tmp_path / "router.jsonl") as router:
        assert http.request("POST", router.url + "/predict", json={"text": "hi"}).status_code == 200
    spans = tracing.read([tmp_path / "router.jsonl"])
    assert list(spans.name) == ["forward", "router"]  # written as each ends: the child first
    forwarded = {k.lower(): v for k, v in json.loads(seen.read_text()).items()}
    rid = forwarded["x-request-id"]
    trace = tracing.trace_of(spans, rid)
    assert list(trace.name) == ["router", "forward"] and set(trace.request_id) == {rid}
    version, trace_id, parent, _ = forwarded["traceparent"].split("-")
    forward = trace.set_index("name").loc["forward"]
    assert (version, trace_id, parent) == ("00", forward.trace_id, forward.span_id)
