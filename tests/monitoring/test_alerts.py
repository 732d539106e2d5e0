"""Burn-rate rules: each fault fires its own alert, healthy traffic and a blip fire none, in
Python; and in a real Prometheus when it is installed."""

from __future__ import annotations

import sys

import pytest

from mlkit.course.processes import BackgroundServer
from mlkit.monitoring import alerts, prom, scrape

RULES = alerts.default_rules(0.05)
HEALTHY = (20, 0.0, 0.0)


@pytest.mark.parametrize(("fault", "expected"), [
    ((15, 0.0, 0.0), set()),
    ((15, 0.3, 0.0), {"ErrorBudgetBurn"}),
    ((15, 0.0, 0.2), {"LatencyBudgetBurn"}),
    ((1, 1.0, 0.0), set()),  # a one-second blip: the long window ignores it
])
def test_each_fault_fires_its_alert_in_python(fault, expected):
    history = scrape.simulated_history([HEALTHY, fault])
    assert alerts.fired_during(RULES, history[:21]) == set()
    assert alerts.fired_during(RULES, history) == expected


def test_an_alert_stops_after_the_fault():
    history = scrape.simulated_history([HEALTHY, (15, 0.3, 0.0), (15, 0.0, 0.0)])
    assert alerts.evaluate(RULES, history[:36])["ErrorBudgetBurn"]
    assert not alerts.evaluate(RULES, history)["ErrorBudgetBurn"]  # the short window cleared it


def test_no_traffic_is_no_alert():
    history = scrape.simulated_history([(5, 0.0, 0.0)], rate=0)
    assert alerts.evaluate(RULES, history) == {"LatencyBudgetBurn": False, "ErrorBudgetBurn": False}


def test_burn_rates_and_promql():
    rule = RULES[1]
    history = scrape.simulated_history([(15, 0.1, 0.0)])
    long, short = rule.burn_rates(history)
    assert 5 < long < 15 and 0 < short < 25  # 10 % errors on a 1 % budget: burn rate ~10
    assert 'le="0.05"' in RULES[0].promql() and "[12s]" in RULES[0].promql() and "[3s]" in RULES[0].promql()
    with pytest.raises(ValueError, match="fraction"):
        alerts.SLO("errors", 99)
    with pytest.raises(ValueError, match="latency_s"):
        alerts.SLO("latency", 0.99)


# An exporter with live traffic: 50 requests/s; the error share is read from a file.
EXPORTER = """
import random, sys, time
from pathlib import Path
from prometheus_client import Counter, Histogram, start_http_server
c = Counter("mlkit_requests", "r", ["version", "outcome"])
h = Histogram("mlkit_request_latency_seconds", "l", ["version"], buckets=(0.001, 0.005, 0.05, 0.1))
start_http_server(int(sys.argv[1]), addr="127.0.0.1")
while True:
    share = float(Path(sys.argv[2]).read_text() or 0)
    for _ in range(5):
        c.labels("1", "error" if random.random() < share else "ok").inc()
        h.labels("1").observe(0.002)
    time.sleep(0.1)
"""


@pytest.mark.skipif(not prom.available(), reason=prom.missing_message())
def test_error_fault_fires_in_a_real_prometheus(tmp_path):
    share = tmp_path / "share"
    share.write_text("0")
    rules = tmp_path / "rules.yml"
    rules.write_text(alerts.rules_yaml(RULES))
    prom.check_rules(rules)
    with BackgroundServer([sys.executable, "-c", EXPORTER, "{port}", str(share)], name="exporter",
                          health_path="/metrics") as exporter:
        config = prom.write_config(tmp_path, {"model": f"127.0.0.1:{exporter.port}"}, rule_files=[rules])
        with prom.start(config, tmp_path / "tsdb") as server:
            assert prom.wait_until(lambda: prom.value(server.url, "sum(mlkit_requests_total)") > 0, 30)
            import time

            time.sleep(5)
            assert prom.firing(server.url) == set()  # healthy
            share.write_text("0.5")
            assert prom.wait_until(lambda: prom.firing(server.url), timeout=30) == {"ErrorBudgetBurn"}
