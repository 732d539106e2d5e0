"""Tracing one request through the router and the model server with OpenTelemetry (lesson 05).

Each process that traces has a :class:`Tracing`: an OpenTelemetry ``TracerProvider`` whose spans
go, one JSON line each, to a file of its own (the SDK's ``ConsoleSpanExporter`` writing to that
file through :func:`span_line`, every span written as it ends). Without a file it does nothing
and costs nothing. The router (:mod:`mlkit.deployment.router`) and the model server
(:mod:`mlkit.deployment.server`) turn it on with ``MLKIT_ROUTER_TRACE_FILE`` and
``MLKIT_TRACE_FILE`` (``launch.start_router(..., trace_file=...)``, ``launch.start_server(...,
trace_file=...)``). One request then leaves these spans, joined into one trace by the W3C
``traceparent`` header that each hop passes on:

* ``router`` (the router's handler) and its child ``forward`` (the HTTP call to a backend);
* ``model server`` (the server's handler), and its children ``featurize`` and ``predict``.

The spans of a request (``router``, ``forward``, ``model server``) carry its request id (attribute
:data:`REQUEST_ID`), which is also in the inference log's line and in the latency histogram's
exemplar: the three join on it. The steps inside are found through their trace.

Reading back: :func:`read` (the files) and :func:`frame` (spans held in memory, e.g. by the SDK's
``InMemorySpanExporter``) give one row per span; :func:`tree` orders one trace parent first,
:func:`self_times` says how long each span spent outside its children, :func:`slowest_step`
names the span with the most time of its own, and :func:`waterfall` draws a trace.
:func:`exemplars` reads the request ids that a ``/metrics`` endpoint attaches to its latency
buckets (OPENMETRICS is the ``Accept`` header that asks for them).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

REQUEST_ID = "mlkit.request_id"  # the span attribute that holds the request id
OPENMETRICS = "application/openmetrics-text; version=1.0.0"  # the Accept header that gets exemplars
COLUMNS = ("trace_id", "span_id", "parent_id", "name", "kind", "service", "start_ns", "end_ns", "status",
           "request_id", "attributes")


def span_record(span: Any) -> dict[str, Any]:
    """One finished span (an SDK ``ReadableSpan``) as a plain dict: ids in hex, times in ns."""
    ctx, parent = span.context, span.parent
    attributes = dict(span.attributes or {})
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}",
            "parent_id": f"{parent.span_id:016x}" if parent is not None else None,
            "name": span.name, "kind": span.kind.name.lower(),
            "service": span.resource.attributes.get("service.name", ""),
            "start_ns": span.start_time, "end_ns": span.end_time, "status": span.status.status_code.name.lower(),
            "request_id": attributes.get(REQUEST_ID), "attributes": attributes}


def span_line(span: Any) -> str:
    """The exporter's formatter: one span, one JSON line."""
    return json.dumps(span_record(span), separators=(",", ":")) + "\n"


class Tracing:
    """The spans of one process, written to ``path`` (JSON lines); does nothing when ``path`` is None."""

    def __init__(self, path: str | os.PathLike | None, service: str) -> None:
        self.path = Path(path) if path else None
        self.service = service
        self.tracer: Any = None
        if self.path is None:
            return
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open while the process serves
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=self.file, formatter=span_line)))
        self.tracer = self.provider.get_tracer("mlkit")

    def close(self) -> None:
        """Stop recording and close the file (a process that ends needs no call)."""
        if self.tracer is not None:
            self.provider.shutdown()
            self.file.close()
            self.tracer = None

    @property
    def active(self) -> bool:
        """Whether spans are recorded (a file was given)."""
        return self.tracer is not None

    def request(self, name: str, headers: Mapping[str, str], request_id: str, **attributes: Any
                ) -> contextlib.AbstractContextManager:
        """A server span for one incoming request, the child of the caller's span when the
        request's ``headers`` carry a ``traceparent``."""
        if self.tracer is None:
            return contextlib.nullcontext()
        from opentelemetry.propagate import extract
        from opentelemetry.trace import SpanKind

        return self.tracer.start_as_current_span(name, context=extract(headers), kind=SpanKind.SERVER,
                                                 attributes={REQUEST_ID: request_id, **attributes})

    def step(self, name: str, **attributes: Any) -> contextlib.AbstractContextManager:
        """A span for one step inside the current one (``featurize``, ``predict``)."""
        if self.tracer is None:
            return contextlib.nullcontext()
        return self.tracer.start_as_current_span(name, attributes=attributes)

    @contextlib.contextmanager
    def proxy(self, incoming: Mapping[str, str], outgoing: MutableMapping[str, str], **attributes: Any
              ) -> Iterator[None]:
        """The router's two spans: ``router`` for the request it received and ``forward`` for the
        call it makes. Sets a request id in ``outgoing`` when the client sent none, and the
        ``traceparent`` of the ``forward`` span, so the model server's span becomes its child."""
        if self.tracer is None:
            yield
            return
        import uuid

        from opentelemetry.propagate import inject
        from opentelemetry.trace import SpanKind

        request_id = outgoing.setdefault("x-request-id", uuid.uuid4().hex)
        with self.request("router", incoming, request_id, **attributes), \
                self.tracer.start_as_current_span("forward", kind=SpanKind.CLIENT,
                                                  attributes={REQUEST_ID: request_id, **attributes}):
            inject(outgoing)
            yield

    def exemplar(self, request_id: str) -> dict[str, str]:
        """The exemplar of a latency observation: the request id, and the trace id when tracing
        (OpenMetrics allows 128 characters of exemplar labels: a long client id is cut)."""
        labels = {"request_id": request_id[:64]}
        if self.tracer is not None:
            from opentelemetry import trace

            ctx = trace.get_current_span().get_span_context()
            if ctx.is_valid:
                labels["trace_id"] = f"{ctx.trace_id:032x}"
        return labels


# ---------------------------------------------------------------------- reading traces back
def frame(records: Iterable[Mapping[str, Any] | Any]) -> pd.DataFrame:
    """Spans as a DataFrame, one row each (``start_ms``/``end_ms`` from the earliest span, and
    ``ms``, the duration). Takes span dicts (:func:`span_record`) or the SDK's finished spans."""
    import pandas as pd

    rows = [r if isinstance(r, Mapping) else span_record(r) for r in records]
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    t0 = df.start_ns.min() if len(df) else 0
    return df.assign(start_ms=(df.start_ns - t0) / 1e6, end_ms=(df.end_ns - t0) / 1e6,
                     ms=(df.end_ns - df.start_ns) / 1e6)


def read(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """The spans written to trace files (missing files count as empty), as :func:`frame` gives them."""
    records = []
    for path in paths:
        if Path(path).exists():
            with open(path, encoding="utf-8") as f:
                records.extend(json.loads(line) for line in f if line.strip())
    return frame(records)


def trace_of(spans: pd.DataFrame, request_id: str) -> pd.DataFrame:
    """The whole trace (every span, of every process) of the request ``request_id``, parents first."""
    ids = spans.loc[spans.request_id == request_id, "trace_id"].unique()
    if len(ids) == 0:
        raise KeyError(f"no span carries request id {request_id!r}: was it sent while tracing was on?")
    return tree(spans[spans.trace_id == ids[0]])


def tree(trace: pd.DataFrame) -> pd.DataFrame:
    """One trace's spans in depth-first order, each after its parent (siblings by start time),
    with ``depth`` (0 for the root) and times re-based on the root's start."""
    trace = trace.reset_index(drop=True)
    children: dict[Any, list[Any]] = {}
    known = set(trace.span_id)
    for idx, row in trace.sort_values("start_ns").iterrows():
        parent = row.parent_id if row.parent_id in known else None  # a caller outside the files is the root
        children.setdefault(parent, []).append(idx)
    order: list[tuple[Any, int]] = []

    def visit(parent: Any, depth: int) -> None:
        for idx in children.get(parent, []):
            order.append((idx, depth))
            visit(trace.at[idx, "span_id"], depth + 1)

    visit(None, 0)
    out = trace.loc[[i for i, _ in order]].assign(depth=[d for _, d in order])
    t0 = out.start_ns.min()
    return out.assign(start_ms=(out.start_ns - t0) / 1e6, end_ms=(out.end_ns - t0) / 1e6).reset_index(drop=True)


def self_times(trace: pd.DataFrame) -> pd.Series:
    """Each span's own time in ms: its duration less the time its children cover (overlapping
    children counted once), indexed by span name."""
    import pandas as pd

    own = []
    for _, span in trace.iterrows():
        kids = trace[trace.parent_id == span.span_id].sort_values("start_ns")
        covered, end = 0, span.start_ns
        for _, k in kids.iterrows():
            start, stop = max(k.start_ns, end), min(k.end_ns, span.end_ns)
            if stop > start:
                covered += stop - start
                end = stop
        own.append((span.end_ns - span.start_ns - covered) / 1e6)
    return pd.Series(own, index=list(trace.name), name="self_ms")


def slowest_step(trace: pd.DataFrame) -> str:
    """The name of the span that spent the most time of its own (not in its children)."""
    return str(self_times(trace).idxmax())


def waterfall(trace: pd.DataFrame, ax: Axes | None = None, title: str = "") -> Axes:
    """Draw one trace (:func:`tree`'s order) as a waterfall: a bar per span, from its start to its
    end, indented under its parent, labelled with its process, name and duration."""
    import matplotlib.pyplot as plt

    trace = tree(trace) if "depth" not in trace else trace
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.45 * len(trace) + 1))
        ax.figure.subplots_adjust(left=0.25)  # room for the span names
    colours = {s: plt.cm.tab10(i) for i, s in enumerate(dict.fromkeys(trace.service))}
    for y, span in enumerate(trace.itertuples()):
        ax.barh(y, max(span.end_ms - span.start_ms, 0.01), left=span.start_ms, color=colours[span.service])
        ax.text(span.end_ms, y, f"  {span.end_ms - span.start_ms:.2f} ms", va="center", fontsize=8)
    ax.set_yticks(range(len(trace)), [f"{'  ' * s.depth}{s.service}: {s.name}" for s in trace.itertuples()],
                  fontsize=8)
    ax.invert_yaxis()
    right = trace.end_ms.max() * 1.25
    if not ax.get_autoscalex_on():  # an axis shared with a waterfall drawn before: keep room for both
        right = max(right, ax.get_xlim()[1])
    ax.set_xlim(0, right)
    ax.set(xlabel="ms since the trace began", title=title)
    return ax


def exemplars(text: str, histogram: str = "mlkit_request_latency_seconds") -> pd.DataFrame:
    """The exemplars of a histogram's buckets in an OpenMetrics exposition: one row per bucket that
    has one, with the bucket's bound ``le`` (s), the observed value in ms, the request id, the
    trace id (when tracing) and the time of the observation (unix seconds)."""
    import pandas as pd
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    rows = [{"le": float(s.labels["le"]), "ms": s.exemplar.value * 1000, "request_id": s.exemplar.labels.get("request_id"),
             "trace_id": s.exemplar.labels.get("trace_id"),
             "t": float(s.exemplar.timestamp) if s.exemplar.timestamp is not None else None, **{
                 k: v for k, v in s.labels.items() if k != "le"}}
            for family in text_string_to_metric_families(text) if family.name == histogram
            for s in family.samples if s.name == f"{histogram}_bucket" and s.exemplar is not None]
    return pd.DataFrame(rows, columns=["le", "ms", "request_id", "trace_id", "t", "version"])
