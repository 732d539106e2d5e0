"""A real Prometheus scrapes a prometheus_client endpoint, and its PromQL agrees with the Python
path; rule files pass promtool; without Prometheus the learner gets the install line."""

from __future__ import annotations

import math
import os
import sys

import psutil
import pytest

from mlkit.course.errors import MlkitError
from mlkit.course.processes import BackgroundServer
from mlkit.monitoring import alerts, prom, scrape

needs_prometheus = pytest.mark.skipif(not prom.available(), reason=prom.missing_message())

# A tiny exporter: a histogram with known observations and a counter, on 127.0.0.1.
EXPORTER = """
import sys, time
from prometheus_client import Counter, Histogram, start_http_server
h = Histogram("demo_latency_seconds", "demo", buckets=(0.001, 0.002, 0.005, 0.01))
c = Counter("demo_requests", "demo", ["outcome"])
for v in [0.0005] * 40 + [0.0015] * 40 + [0.003] * 15 + [0.008] * 4 + [0.02]:
    h.observe(v)
    c.labels("ok").inc()
c.labels("error").inc(5)
start_http_server(int(sys.argv[1]), addr="127.0.0.1")
while True:
    time.sleep(1)
"""


@pytest.fixture
def exporter():
    with BackgroundServer([sys.executable, "-c", EXPORTER, "{port}"], name="exporter",
                          health_path="/metrics") as server:
        yield server


def _children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.is_running()]


@pytest.fixture(scope="module", autouse=True)
def earlier_processes() -> set[int]:
    """What was running before this module: other modules' session fixtures (JupyterLab, servers)."""
    return {p.pid for p in _children()}


def test_rules_pass_promtool(tmp_path):
    if prom.binary("promtool") is None:
        pytest.skip(prom.missing_message())
    path = tmp_path / "rules.yml"
    path.write_text(alerts.rules_yaml(alerts.default_rules(0.05)))
    assert "SUCCESS: 2 rules found" in prom.check_rules(path)
    path.write_text("groups:\n- name: x\n  rules:\n  - alert: Bad\n    expr: rate(x[5m]\n")
    with pytest.raises(MlkitError, match="promtool rejected"):
        prom.check_rules(path)


@needs_prometheus
def test_real_prometheus_scrapes_and_agrees_with_python(tmp_path, exporter):
    rules = tmp_path / "rules.yml"
    rules.write_text(alerts.rules_yaml([alerts.BurnRateRule(
        "DemoErrors", alerts.SLO("errors", 0.99, requests="demo_requests_total"))]))
    config = prom.write_config(tmp_path, {"demo": f"127.0.0.1:{exporter.port}"}, rule_files=[rules])
    server = prom.start(config, tmp_path / "tsdb")
    try:
        up = prom.wait_until(lambda: prom.value(server.url, 'up{job="demo"}') == 1.0, timeout=30)
        assert up, "Prometheus did not scrape the exporter"
        snap = scrape.scrape(exporter.url + "/metrics")
        for q in (0.5, 0.9, 0.99):
            promql = f"histogram_quantile({q}, sum by (le) (demo_latency_seconds_bucket))"
            assert prom.value(server.url, promql) == pytest.approx(
                scrape.histogram_quantile(q, snap.buckets("demo_latency_seconds")))
        assert prom.value(server.url, 'sum(demo_requests_total{outcome="error"})') == 5
        assert prom.query(server.url, "no_such_metric") == []
        assert math.isnan(prom.value(server.url, "no_such_metric"))
        with pytest.raises(MlkitError, match="bad_data"):
            prom.query(server.url, "rate(")
        assert isinstance(prom.alerts(server.url), list)  # counters are flat: no rate, no alert
    finally:
        server.stop()
    assert not server.running


def test_without_prometheus_the_learner_gets_the_install_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # no /usr/bin: no prometheus
    assert not prom.available()
    assert prom.binary("promtool") is None
    assert "sudo apt-get install -y prometheus prometheus-alertmanager" in prom.missing_message()
    with pytest.raises(MlkitError, match="apt-get install"):
        prom.start(tmp_path / "prometheus.yml", tmp_path / "tsdb")
    with pytest.raises(MlkitError, match="apt-get install"):
        prom.check_rules(tmp_path / "rules.yml")


def test_config_is_valid_yaml_with_targets_and_rules(tmp_path):
    import yaml

    path = prom.write_config(tmp_path, {"model": "127.0.0.1:8000"}, rule_files=[tmp_path / "r.yml"],
                             alertmanager="127.0.0.1:9093")
    cfg = yaml.safe_load(path.read_text())
    assert cfg["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:8000"]
    assert cfg["rule_files"] == [str((tmp_path / "r.yml").resolve())]
    assert cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]
    if prom.binary("promtool"):
        import subprocess

        (tmp_path / "r.yml").write_text("groups: []\n")
        done = subprocess.run([prom.binary("promtool"), "check", "config", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


@needs_prometheus
def test_alertmanager_routes_to_the_webhook(tmp_path):
    from mlkit.monitoring import webhook

    out = tmp_path / "received.jsonl"
    hook = BackgroundServer.python("-m", "mlkit.monitoring.webhook", "--port", "{port}", "--out", str(out),
                                   name="webhook", health_path="/").start()
    if prom.binary("alertmanager") is None:
        hook.stop()
        pytest.skip("Alertmanager is not installed")
    am = prom.start_alertmanager(tmp_path / "am", hook.url + "/")
    try:
        from mlkit.course import http

        http.call(am.url, "/api/v2/alerts", [{"labels": {"alertname": "TestAlert", "severity": "page"}}])
        got = prom.wait_until(lambda: webhook.received(out), timeout=20)
        assert got and got[0]["alerts"][0]["labels"]["alertname"] == "TestAlert"
    finally:
        am.stop()
        hook.stop()


def test_no_process_left_behind(earlier_processes):
    left = [p for p in _children() if p.pid not in earlier_processes]
    assert left == [], [p.cmdline() for p in left]
