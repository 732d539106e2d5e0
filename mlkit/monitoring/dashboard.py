"""Dashboards for the model server (lesson 05): live in the notebook, and as Grafana JSON.

:class:`LiveDashboard` scrapes ``/metrics`` once a second while load runs and redraws four
panels in place: request rate, latency p50/p95/p99 (from the histogram's buckets), error
rate, and the prediction mix (from the inference log). :func:`grafana` writes the same
panels as a Grafana dashboard (PromQL against a Prometheus data source) for users who
run Grafana; it is generated and checked for structure, not run here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from mlkit.monitoring import metrics

# --------------------------------------------------------------------------- series from scrapes


def series(history: Sequence[metrics.Snapshot], window_s: float = 3.0, **names: str) -> list[dict[str, float]]:
    """For every snapshot after the first: the window stats over the last ``window_s``
    seconds, with ``t`` = seconds since the first snapshot."""
    rows = []
    for i in range(1, len(history)):
        end = history[i]
        start = next((s for s in reversed(history[:i]) if end.at - s.at >= window_s - 1e-6), history[0])
        w = metrics.window(start, end, **names)
        rows.append({"t": end.at - history[0].at, "rate": w.request_rate, "error_rate": w.error_rate,
                     "p50": w.p50_ms, "p95": w.p95_ms, "p99": w.p99_ms})
    return rows


def figure(history: Sequence[metrics.Snapshot], mix: Any = None, window_s: float = 3.0,
           title: str = "model server", **names: str) -> Any:
    """The four panels as one matplotlib figure. ``mix``: a DataFrame of prediction counts
    per time bucket (columns = predicted labels), e.g. from ``inference_log.over_time``."""
    import matplotlib.pyplot as plt

    rows = series(history, window_s, **names)
    fig, axes = plt.subplots(1, 4, figsize=(14, 2.8))
    t = [r["t"] for r in rows]
    axes[0].plot(t, [r["rate"] for r in rows], color="tab:blue")
    axes[0].set(title="request rate (req/s)", xlabel="s")
    for q, style in (("p50", ":"), ("p95", "--"), ("p99", "-")):
        axes[1].plot(t, [r[q] for r in rows], style, color="tab:purple", label=q)
    axes[1].set(title="latency (ms, from buckets)", xlabel="s")
    axes[1].legend(fontsize=7, loc="upper left")
    axes[2].plot(t, [100 * r["error_rate"] for r in rows], color="tab:red")
    axes[2].set(title="errors (% of requests)", xlabel="s", ylim=(0, None))
    if mix is not None and len(mix):
        shares = mix.div(mix.sum(axis=1).where(lambda s: s > 0), axis=0) * 100
        x = (shares.index - shares.index[0]).total_seconds()
        axes[3].stackplot(x, shares.fillna(0).T.values, labels=[str(c) for c in shares.columns], alpha=0.8)
        axes[3].legend(fontsize=7, loc="lower left")
    axes[3].set(title="prediction mix (%)", xlabel="s", ylim=(0, 100))
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


class LiveDashboard:
    """Four panels that redraw in place from ``/metrics`` (and the inference log) once a second.

    Args:
        metrics_url: the server's ``/metrics`` URL.
        mix: a function returning the prediction-mix DataFrame (or None), called per frame.
        window_s: the sliding window of rates and quantiles.
    """

    def __init__(self, metrics_url: str, mix: Callable[[], Any] | None = None, window_s: float = 3.0,
                 title: str = "model server, live", **names: str) -> None:
        self.metrics_url, self.mix, self.window_s, self.title, self.names = metrics_url, mix, window_s, title, names
        self.history: list[metrics.Snapshot] = []
        self._handle = None

    def scrape(self) -> metrics.Snapshot:
        snap = metrics.scrape(self.metrics_url)
        self.history.append(snap)
        return snap

    def draw(self) -> None:
        """Redraw the panels in the cell's output (replacing the previous frame)."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig = figure(self.history, self.mix() if self.mix else None, self.window_s, self.title, **self.names)
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)

    def run(self, seconds: float, every: float = 1.0, until: Callable[[], bool] | None = None) -> list[metrics.Snapshot]:
        """Scrape and redraw every ``every`` seconds for ``seconds`` (or until ``until()``)."""
        end = time.monotonic() + seconds
        self.scrape()
        while time.monotonic() < end and not (until and until()):
            time.sleep(every)
            self.scrape()
            self.draw()
        return self.history


# --------------------------------------------------------------------------- Grafana


def grafana(title: str = "mlkit model server", *, requests: str = "mlkit_requests_total",
            latency: str = "mlkit_request_latency_seconds",
            predictions: str | None = None, outcome_label: str = "outcome", error_value: str = "error",
            window: str = "1m") -> dict[str, Any]:
    """A Grafana dashboard (JSON model, schema 39) with the live dashboard's panels plus the
    firing alerts, querying a Prometheus data source chosen when it is imported.
    ``predictions``: a counter with a ``label`` label for the prediction-mix panel."""
    ds = {"type": "prometheus", "uid": "${datasource}"}
    rate = f"sum(rate({requests}[{window}]))"
    panels = [
        ("Request rate", "reqps", [(rate, "requests/s")]),
        ("Latency quantiles (from buckets)", "s",
         [(f"histogram_quantile({q}, sum by (le) (rate({latency}_bucket[{window}])))", f"p{round(q * 100)}")
          for q in (0.5, 0.95, 0.99)]),
        ("Error rate", "percentunit",
         [(f'sum(rate({requests}{{{outcome_label}="{error_value}"}}[{window}])) / {rate}', "errors")]),
    ]
    if predictions:
        panels.append(("Prediction mix", "percentunit",
                       [(f"sum by (label) (rate({predictions}[{window}])) / ignoring(label) group_left "
                         f"sum(rate({predictions}[{window}]))", "{{label}}")]))
    panels.append(("Firing alerts", "none", [('ALERTS{alertstate="firing"}', "{{alertname}}")]))
    out = []
    for i, (name, unit, targets) in enumerate(panels):
        out.append({
            "id": i + 1, "type": "timeseries", "title": name, "datasource": ds,
            "gridPos": {"x": 12 * (i % 2), "y": 8 * (i // 2), "w": 12, "h": 8},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": chr(ord("A") + j), "expr": expr, "legendFormat": legend, "datasource": ds}
                        for j, (expr, legend) in enumerate(targets)],
        })
    return {
        "title": title, "uid": "mlkit-model-server", "schemaVersion": 39, "version": 1, "editable": True,
        "time": {"from": "now-15m", "to": "now"}, "refresh": "5s", "tags": ["mlkit", "lesson05"],
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "label": "Prometheus"}]},
        "panels": out,
    }
