"""System metrics from a ``/metrics`` endpoint, the way Prometheus computes them (lesson 05).

A scrape is parsed with the Prometheus client's own text parser into a :class:`Snapshot`.
Two snapshots give rates (counters only go up: a rate is a difference over time), and a
histogram's cumulative buckets give quantiles by the same linear interpolation that
PromQL's ``histogram_quantile`` uses. The Python path of the lesson (no Prometheus
installed) computes every number from these functions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

INF = float("inf")


@dataclass(frozen=True)
class Sample:
    """One line of the exposition format: ``name{labels} value``."""

    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Snapshot:
    """All samples of one scrape, with the time it was taken (``time.monotonic()``)."""

    samples: list[Sample]
    at: float = field(default_factory=time.monotonic)

    def select(self, name: str, **labels: str) -> list[Sample]:
        """The samples called ``name`` whose labels include ``labels``."""
        return [s for s in self.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the matching samples (0.0 when none match): ``sum(name{labels})``."""
        return float(sum(s.value for s in self.select(name, **labels)))

    def buckets(self, name: str, **labels: str) -> list[tuple[float, float]]:
        """Cumulative histogram buckets ``[(le, count), ...]`` of histogram ``name`` (without
        the ``_bucket`` suffix), summed over every other label, sorted by ``le``:
        ``sum by (le) (name_bucket{labels})``."""
        total: dict[float, float] = {}
        for s in self.select(f"{name}_bucket", **labels):
            le = float(s.labels["le"])
            total[le] = total.get(le, 0.0) + s.value
        return sorted(total.items())

    def label_values(self, name: str, label: str) -> list[str]:
        """The values ``label`` takes on samples called ``name``."""
        return sorted({s.labels[label] for s in self.samples if s.name == name and label in s.labels})


def parse(text: str, at: float | None = None) -> Snapshot:
    """Parse Prometheus exposition text with ``prometheus_client.parser`` (lesson 05)."""
    from prometheus_client.parser import text_string_to_metric_families

    samples = [Sample(s.name, dict(s.labels), float(s.value))
               for family in text_string_to_metric_families(text) for s in family.samples]
    return Snapshot(samples, time.monotonic() if at is None else at)


def scrape(url: str, timeout: float = 5.0) -> Snapshot:
    """GET ``url`` (a ``/metrics`` endpoint) and parse it (lesson 05)."""
    from mlkit.course import http

    return parse(http.text(url, timeout=timeout))


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """The ``q``-quantile of cumulative buckets ``[(le, count), ...]``, as PromQL computes it.

    Same rules as Prometheus' ``bucketQuantile``: the rank ``q * total`` falls in the first
    bucket whose cumulative count reaches it; the value is interpolated linearly between
    that bucket's lower and upper bound (the lowest bucket starts at 0); a rank in the
    ``+Inf`` bucket returns the highest finite bound; no observations gives NaN; q < 0
    gives -Inf and q > 1 gives +Inf.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -INF
    if q > 1:
        return INF
    buckets = sorted((float(le), float(c)) for le, c in buckets)
    if len(buckets) < 2 or buckets[-1][0] != INF:
        return math.nan  # Prometheus needs at least two buckets, the last one +Inf
    total = buckets[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    i = next(i for i, (_, count) in enumerate(buckets) if count >= rank)
    if i == len(buckets) - 1:
        return buckets[-2][0]
    if i == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, before = (0.0, 0.0) if i == 0 else buckets[i - 1]
    end, count = buckets[i]
    if count == before:  # only q == 0 on an empty lowest bucket: 0/0, NaN in Prometheus too
        return math.nan
    return start + (end - start) * (rank - before) / (count - before)


def bucket_width(value: float, buckets: Sequence[tuple[float, float]]) -> float:
    """The width of the (finite) bucket that holds ``value``: the resolution a quantile
    from these buckets can have there (lesson 05's "within one bucket" check)."""
    bounds = [0.0] + sorted(float(le) for le, _ in buckets if float(le) != INF)
    for lo, hi in zip(bounds, bounds[1:]):
        if value <= hi:
            return hi - lo
    return INF


def increase(before: Snapshot, after: Snapshot, name: str, **labels: str) -> float:
    """How much counter ``name{labels}`` grew between two scrapes (a restart counts from 0)."""
    a, b = before.value(name, **labels), after.value(name, **labels)
    return b if b < a else b - a


def bucket_increase(before: Snapshot, after: Snapshot, name: str, **labels: str) -> list[tuple[float, float]]:
    """The buckets of histogram ``name`` for the observations made between two scrapes."""
    old = dict(before.buckets(name, **labels))
    return [(le, c - old.get(le, 0.0)) for le, c in after.buckets(name, **labels)]


@dataclass(frozen=True)
class WindowStats:
    """What happened between two scrapes: request and error rates, latency quantiles (ms)."""

    seconds: float
    requests: float
    errors: float
    request_rate: float
    error_rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def window(before: Snapshot, after: Snapshot, *, requests: str = "mlkit_requests_total",
           latency: str = "mlkit_request_latency_seconds", outcome_label: str = "outcome",
           error_value: str = "error") -> WindowStats:
    """Rates and p50/p95/p99 between two scrapes, as ``rate()`` and ``histogram_quantile``
    over that window would give them (lesson 05's Python path)."""
    seconds = max(after.at - before.at, 1e-9)
    n = increase(before, after, requests)
    errors = increase(before, after, requests, **{outcome_label: error_value})
    b = bucket_increase(before, after, latency)
    p = [histogram_quantile(q, b) * 1000 for q in (0.5, 0.95, 0.99)]
    return WindowStats(seconds, n, errors, n / seconds, errors / n if n else 0.0, *p)


def simulated_history(phases: Sequence[tuple[float, float, float]], *, rate: float = 50.0, seed: int = 0,
                      buckets: Sequence[float] = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
                      ) -> list[Snapshot]:
    """Scrapes, one per simulated second, of a real ``prometheus_client`` registry fed with
    synthetic traffic (for exercise checks and tests, where no server runs).

    ``phases``: ``(seconds, error_rate, extra_latency_s)`` one after the other; latencies are
    log-normal around 2 ms plus the extra latency. Metric names are the model server's.
    """
    import numpy as np
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    rng = np.random.default_rng(seed)
    reg = CollectorRegistry()
    requests = Counter("mlkit_requests", "requests", ["version", "outcome"], registry=reg)
    latency = Histogram("mlkit_request_latency_seconds", "latency", ["version"], buckets=buckets, registry=reg)
    history, t = [parse(generate_latest(reg).decode(), at=0.0)], 0
    for seconds, error_rate, extra in phases:
        for _ in range(int(seconds)):
            t += 1
            n = rng.poisson(rate)
            for lat, err in zip(rng.lognormal(np.log(0.002), 0.4, n) + extra, rng.random(n) < error_rate):
                requests.labels("1", "error" if err else "ok").inc()
                latency.labels("1").observe(lat)
            history.append(parse(generate_latest(reg).decode(), at=float(t)))
    return history
