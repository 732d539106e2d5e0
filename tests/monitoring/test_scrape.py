"""Quantiles from buckets follow PromQL's histogram_quantile, and agree with numpy within a bucket."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlkit.monitoring import scrape

INF = math.inf


@pytest.mark.parametrize(("q", "buckets", "want"), [
    (0.5, [(0.1, 10), (0.2, 20), (INF, 20)], 0.1),        # rank 10 lands on the first bucket's top
    (0.75, [(0.1, 10), (0.2, 20), (INF, 20)], 0.15),      # halfway through the second bucket
    (0.25, [(0.1, 10), (0.2, 20), (INF, 20)], 0.05),      # the lowest bucket starts at 0
    (0.9, [(0.1, 5), (INF, 10)], 0.1),                    # rank in +Inf: the highest finite bound
    (0.5, [(-1.0, 6), (0.0, 8), (INF, 10)], -1.0),        # lowest bound <= 0 is returned as is
    (0.99, [(0.001, 0), (0.002, 50), (0.005, 100), (INF, 100)], 0.00494),  # 0.002 + 0.003 * 49/50
])
def test_histogram_quantile_known_cases(q, buckets, want):
    assert scrape.histogram_quantile(q, buckets) == pytest.approx(want)


def test_histogram_quantile_edges():
    b = [(0.1, 10), (INF, 10)]
    assert scrape.histogram_quantile(-0.1, b) == -INF
    assert scrape.histogram_quantile(1.1, b) == INF
    assert math.isnan(scrape.histogram_quantile(0.5, [(0.1, 0), (INF, 0)]))  # no observations
    assert math.isnan(scrape.histogram_quantile(0.5, [(0.1, 3), (0.2, 5)]))  # no +Inf bucket
    assert math.isnan(scrape.histogram_quantile(0.5, [(INF, 5)]))            # one bucket only
    assert scrape.histogram_quantile(0.5, [(INF, 10), (0.1, 10)]) == 0.05     # order does not matter


def _registry_with(values, buckets):
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    reg = CollectorRegistry()
    h = Histogram("t_latency_seconds", "test", ["version"], buckets=buckets, registry=reg)
    c = Counter("t_requests", "test", ["version", "outcome"], registry=reg)
    for i, v in enumerate(values):
        h.labels("1" if i % 2 else "2").observe(v)
        c.labels("1", "error" if i % 10 == 0 else "ok").inc()
    return scrape.parse(generate_latest(reg).decode())


def test_quantiles_from_prometheus_client_agree_with_numpy_within_a_bucket():
    rng = np.random.default_rng(0)
    values = rng.lognormal(np.log(0.002), 0.5, 5000)
    bounds = [i / 4000 for i in range(1, 13)] + [i / 1000 for i in range(4, 11)] + [0.02, 0.05, 0.1]
    snap = _registry_with(values, bounds)
    buckets = snap.buckets("t_latency_seconds")  # summed over the version label
    assert buckets[-1] == (INF, 5000)
    for q in (0.5, 0.95, 0.99):
        est, true = scrape.histogram_quantile(q, buckets), np.percentile(values, 100 * q)
        assert abs(est - true) <= scrape.bucket_width(true, buckets), (q, est, true)


def test_snapshot_values_and_window():
    before = _registry_with([0.001] * 10, [0.005, 0.01])
    after = _registry_with([0.001] * 10 + [0.008] * 10, [0.005, 0.01])
    before.at, after.at = 0.0, 2.0
    assert after.value("t_requests_total") == 20
    assert after.value("t_requests_total", outcome="error") == 2
    assert after.label_values("t_requests_total", "outcome") == ["error", "ok"]
    w = scrape.window(before, after, requests="t_requests_total", latency="t_latency_seconds")
    assert w.requests == 10 and w.request_rate == 5.0
    assert w.errors == 1 and w.error_rate == pytest.approx(0.1)
    assert 5 <= w.p50_ms <= 10  # the new observations all lie in the (5 ms, 10 ms] bucket


def test_increase_survives_a_restart():
    a = scrape.Snapshot([scrape.Sample("x_total", {}, 50.0)], 0)
    b = scrape.Snapshot([scrape.Sample("x_total", {}, 7.0)], 1)
    assert scrape.increase(a, b, "x_total") == 7.0


def test_bucket_width():
    b = [(0.001, 0), (0.002, 0), (0.005, 0), (INF, 0)]
    assert scrape.bucket_width(0.0005, b) == 0.001
    assert scrape.bucket_width(0.003, b) == pytest.approx(0.003)
    assert scrape.bucket_width(1.0, b) == INF
