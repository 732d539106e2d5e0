"""The Grafana dashboard JSON has the structure Grafana imports; the live panels draw from scrapes."""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")

from mlkit.course.processes import BackgroundServer
from mlkit.monitoring import dashboard, scrape


def test_grafana_dashboard_structure():
    board = json.loads(json.dumps(dashboard.grafana()))  # plain JSON all the way down
    for key in ("title", "uid", "schemaVersion", "panels", "templating", "time"):
        assert key in board
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert board["templating"]["list"][0] == {"name": "datasource", "type": "datasource", "query": "prometheus",
                                              "label": "Prometheus"}
    titles = [p["title"] for p in board["panels"]]
    assert titles == ["Request rate", "Latency quantiles (from buckets)", "Error rate", "Prediction mix",
                      "Firing alerts"]
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    cells = set()
    for p in board["panels"]:
        assert p["type"] == "timeseries" and p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        g = p["gridPos"]
        assert set(g) == {"x", "y", "w", "h"} and g["x"] >= 0 and g["x"] + g["w"] <= 24
        assert (g["x"], g["y"]) not in cells  # no two panels on top of each other
        cells.add((g["x"], g["y"]))
        assert p["targets"] and all(t["expr"] and t["refId"] for t in p["targets"])
        assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    assert "histogram_quantile(0.99, sum by (le) (rate(mlkit_request_latency_seconds_bucket[1m])))" in exprs
    assert all(e.count("(") == e.count(")") for e in exprs)
    assert "Prediction mix" not in [p["title"] for p in dashboard.grafana(predictions=None)["panels"]]


def test_series_and_figure_from_simulated_traffic():
    history = scrape.simulated_history([(5, 0.0, 0.0), (5, 0.5, 0.0)])
    rows = dashboard.series(history, window_s=3)
    assert len(rows) == len(history) - 1
    assert rows[2]["error_rate"] == 0 and rows[-1]["error_rate"] > 0.3
    assert 40 < rows[-1]["rate"] < 60 and 1 < rows[2]["p50"] < 5
    fig = dashboard.figure(history, marks=[(5, "errors")])
    assert [ax.get_title() for ax in fig.axes][:3] == ["request rate (req/s)", "latency (ms, from buckets)",
                                                       "errors (% of requests)"]


EXPORTER = """
import sys, time
from prometheus_client import Counter, start_http_server
c = Counter("mlkit_predictions", "p", ["version", "label"])
start_http_server(int(sys.argv[1]), addr="127.0.0.1")
while True:
    c.labels("1", "spam").inc(); c.labels("1", "ham").inc(3)
    time.sleep(0.05)
"""


def test_live_dashboard_scrapes_in_the_background():
    with BackgroundServer([sys.executable, "-c", EXPORTER, "{port}"], name="exporter", health_path="/metrics") as s:
        dash = dashboard.LiveDashboard(s.url + "/metrics", every=0.2)
        dash.mark("start")
        history = dash.run(1.5, draw=False)
        dash.stop()
    assert len(history) >= 5 and dash.errors == []
    rows = dashboard.series(history, window_s=0.5)
    assert abs(rows[-1]["mix"]["spam"] - 0.25) < 0.05
    assert dash.marks[0][1] == "start"
