"""Dashboards for the model server (lesson 05): live in the notebook, and as Grafana JSON.

:class:`LiveDashboard` scrapes ``/metrics`` once a second while load runs and redraws four
panels in place: request rate, latency p50/p95/p99 (from the histogram's buckets), error
rate, and the prediction mix (from the server's ``mlkit_predictions_total`` counter). :func:`grafana` writes the same
panels as a Grafana dashboard (PromQL against a Prometheus data source) for users who
run Grafana; it is generated and checked for structure, not run here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from mlkit.monitoring import scrape

PREDICTIONS = "mlkit_predictions_total"

# --------------------------------------------------------------------------- series from scrapes


def series(history: Sequence[scrape.Snapshot], window_s: float = 3.0, predictions: str = PREDICTIONS,
           **names: str) -> list[dict[str, Any]]:
    """For every snapshot after the first: the window stats over the last ``window_s``
    seconds (``t`` = seconds since the first snapshot), and ``mix``: the share of each
    predicted label, from the counter ``predictions`` (labelled ``label``)."""
    rows = []
    for i in range(1, len(history)):
        end = history[i]
        start = next((s for s in reversed(history[:i]) if end.at - s.at >= window_s - 1e-6), history[0])
        w = scrape.window(start, end, **names)
        labels = {lab: scrape.increase(start, end, predictions, label=lab)
                  for lab in end.label_values(predictions, "label")}
        rows.append({"t": end.at - history[0].at, "rate": w.request_rate, "error_rate": w.error_rate,
                     "p50": w.p50_ms, "p95": w.p95_ms, "p99": w.p99_ms,
                     "mix": {k: v / sum(labels.values()) for k, v in labels.items()} if sum(labels.values()) else {}})
    return rows


def figure(history: Sequence[scrape.Snapshot], window_s: float = 3.0, title: str = "model server",
           marks: Sequence[tuple[float, str]] = (), **names: str) -> Any:
    """The four panels as one matplotlib figure; ``marks``: ``(t, text)`` vertical lines
    (e.g. where a fault was switched on)."""
    import matplotlib.pyplot as plt

    rows = series(history, window_s, **names)
    fig, axes = plt.subplots(1, 4, figsize=(14, 2.8))
    t = [r["t"] for r in rows]
    axes[0].plot(t, [r["rate"] for r in rows], color="tab:blue")
    axes[0].set(title="request rate (req/s)", ylim=(0, None))
    for q, style in (("p50", ":"), ("p95", "--"), ("p99", "-")):
        axes[1].plot(t, [r[q] for r in rows], style, color="tab:purple", label=q)
    axes[1].set(title="latency (ms, from buckets)", yscale="log")
    axes[1].legend(fontsize=7, loc="upper left")
    axes[2].plot(t, [100 * r["error_rate"] for r in rows], color="tab:red")
    axes[2].set(title="errors (% of requests)", ylim=(0, 100))
    labels = sorted({k for r in rows for k in r["mix"]})
    if labels:
        axes[3].stackplot(t, [[100 * r["mix"].get(k, 0.0) for r in rows] for k in labels], labels=labels,
                          alpha=0.8, colors=["tab:green", "tab:orange", "tab:gray"][:len(labels)])
        axes[3].legend(fontsize=7, loc="lower left")
    axes[3].set(title="prediction mix (%)", ylim=(0, 100))
    for ax in axes:
        ax.set_xlabel("s")
        ax.grid(alpha=0.3)
        for x, text in marks:
            ax.axvline(x, color="k", lw=0.8, alpha=0.5)
            ax.text(x, 0.98, f" {text}", transform=ax.get_xaxis_transform(), fontsize=7, va="top")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


class LiveDashboard:
    """Four panels that redraw in place from ``/metrics`` (lesson 05).

    A background thread scrapes once a second, as Prometheus would, however long a redraw
    takes; ``history`` keeps every scrape for the Python alert path. ``run(seconds)`` redraws
    while it waits; ``mark(text)`` draws a line at the current time (a fault switched on).
    """

    def __init__(self, metrics_url: str, window_s: float = 3.0, every: float = 1.0,
                 title: str = "model server, live", **names: str) -> None:
        self.metrics_url, self.window_s, self.every, self.title, self.names = (
            metrics_url, window_s, every, title, names)
        self.history: list[scrape.Snapshot] = []
        self.marks: list[tuple[float, str]] = []
        self.errors: list[str] = []
        self._handle: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def scrape(self) -> scrape.Snapshot:
        snap = scrape.scrape(self.metrics_url)
        self.history.append(snap)
        return snap

    def start(self) -> LiveDashboard:
        """Start scraping in the background (``run`` calls it)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            if not self.history:
                self.scrape()
            self._thread = threading.Thread(target=self._loop, name="mlkit-dashboard", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        next_at = self.history[-1].at + self.every
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.every
            try:
                self.scrape()
            except OSError as exc:  # the server went away: keep the history, note why
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        """Stop the background scrapes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def mark(self, text: str) -> None:
        """A vertical line at the current time, labelled ``text``."""
        self.start()
        self.marks.append((time.monotonic() - self.history[0].at, text))

    def draw(self) -> None:
        """Redraw the panels in the cell's output (replacing the previous frame)."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig = figure(list(self.history), self.window_s, self.title, self.marks, **self.names)
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)

    def run(self, seconds: float, draw: bool = True) -> list[scrape.Snapshot]:
        """Keep scraping for ``seconds``, redrawing about once a second; returns the history."""
        self.start()
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(self.every, left))
            if draw and len(self.history) > 1:
                self.draw()
        return self.history


# --------------------------------------------------------------------------- Grafana


def grafana(title: str = "mlkit model server", *, requests: str = "mlkit_requests_total",
            latency: str = "mlkit_request_latency_seconds",
            predictions: str | None = PREDICTIONS, outcome_label: str = "outcome", error_value: str = "error",
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
