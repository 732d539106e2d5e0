"""The main widget of lesson 03: choose the decision threshold and see what it costs.

:class:`ThresholdExplorer` shows, for the threshold on the slider, the spam champion's
confusion matrix, precision and recall with 95% (Wilson) intervals, the review workload
per 1,000 messages, and, at the same threshold, the Adult model's selection rate per group.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np

from mlkit.course.widgets import MainWidget
from mlkit.evaluation import fairness, metrics

STEP = 0.05


def _wilson(successes: int, total: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (statsmodels' ``proportion_confint``); (0, 1)
    when nothing was counted (no message flagged: the precision is unknown)."""
    if total == 0:
        return 0.0, 1.0
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, total, alpha=0.05, method="wilson")
    return float(low), float(high)


def _bar(value: float, colour: str = "#4a7") -> str:
    width = max(0.0, min(1.0, value)) * 120
    return (f"<span style='display:inline-block;width:{width:.0f}px;height:10px;background:{colour};"
            f"vertical-align:middle'></span> {value:.1%}")


class ThresholdExplorer(MainWidget):
    """A threshold slider with two buttons, updating every number live (lesson 03).

    Args:
        y_true: 0/1 spam labels of the test messages.
        proba: the champion's P(spam) for them.
        adult_proba: the Adult model's P(>50K) on its test set (optional).
        adult_groups: {"sex": array, "race": array} aligned with ``adult_proba``.
        threshold: where the slider starts.
    """

    def __init__(self, y_true: Any, proba: Any, adult_proba: Any = None,
                 adult_groups: Mapping[str, Any] | None = None, threshold: float = 0.5) -> None:
        import ipywidgets as w

        self.y_true = np.asarray(y_true).astype(int)
        self.proba = np.asarray(proba, dtype=float)
        if self.y_true.shape != self.proba.shape:
            raise ValueError(f"{len(self.y_true)} labels but {len(self.proba)} probabilities.")
        self.adult_proba = None if adult_proba is None else np.asarray(adult_proba, dtype=float)
        self.adult_groups = dict(adult_groups or {})
        self.lower = w.Button(description=f"− {STEP:g} (flag more)", layout=w.Layout(width="150px"))
        self.higher = w.Button(description=f"+ {STEP:g} (flag less)", layout=w.Layout(width="150px"))
        self.slider = w.FloatSlider(value=threshold, min=0.01, max=0.99, step=0.01, description="threshold",
                                    readout_format=".2f", continuous_update=False)
        self.spam_view = w.HTML()
        self.adult_view = w.HTML()
        super().__init__(w.HBox([self.slider, self.lower, self.higher]),
                         w.HBox([self.spam_view, self.adult_view], layout=w.Layout(gap="32px")),
                         doing="update the threshold")
        self.on_click(self.lower, lambda: self.nudge(-STEP))
        self.on_click(self.higher, lambda: self.nudge(+STEP))
        self.on_change(self.slider, self.refresh)
        self.refresh()

    @property
    def threshold(self) -> float:
        return float(self.slider.value)

    def nudge(self, delta: float) -> None:
        """Move the threshold by ``delta`` (kept inside the slider's range)."""
        target = round(min(self.slider.max, max(self.slider.min, self.threshold + delta)), 2)
        if target == self.threshold:
            self.show(f"The threshold is already at its {'lowest' if delta < 0 else 'highest'} value.")
            return
        self.slider.value = target  # fires refresh()

    def numbers(self) -> dict[str, float]:
        """Everything the widget shows for the current threshold (for tests and the curious)."""
        t = self.threshold
        row = {k: v[0] for k, v in metrics.at_threshold(self.y_true, self.proba, [t]).items()}
        p_low, p_high = _wilson(row["tp"], row["tp"] + row["fp"])
        r_low, r_high = _wilson(row["tp"], row["tp"] + row["fn"])
        return {**{k: float(v) for k, v in row.items()}, "precision_low": p_low, "precision_high": p_high,
                "recall_low": r_low, "recall_high": r_high, "review_per_1000": 1000 * float(row["flagged_rate"]),
                "spam_per_1000_reviewed": 1000 * float(row["precision"])}

    def refresh(self) -> None:
        n = self.numbers()
        tp, fp, fn, tn = (int(n[k]) for k in ("tp", "fp", "fn", "tn"))
        cell = "style='padding:2px 10px;text-align:right'"
        self.spam_view.value = (
            f"<b>Spam champion at threshold {self.threshold:.2f}</b>"
            f"<table><tr><td></td><td {cell}><i>flagged</i></td><td {cell}><i>passed</i></td></tr>"
            f"<tr><td>spam</td><td {cell}>{tp}</td><td {cell}>{fn}</td></tr>"
            f"<tr><td>ham</td><td {cell}>{fp}</td><td {cell}>{tn}</td></tr></table>"
            f"precision {n['precision']:.3f} (95% CI {n['precision_low']:.3f} to {n['precision_high']:.3f})<br>"
            f"recall {n['recall']:.3f} (95% CI {n['recall_low']:.3f} to {n['recall_high']:.3f})<br>"
            f"review workload: <b>{n['review_per_1000']:.0f} per 1,000 messages</b> "
            f"({fn} spam missed, {fp} ham flagged)")
        parts = []
        if self.adult_proba is not None:
            for name, groups in self.adult_groups.items():
                rates = fairness.selection_rates(self.adult_proba, groups, self.threshold)
                rows = "".join(f"<tr><td>{html.escape(str(g))}</td><td>{_bar(r)}</td></tr>" for g, r in rates.items())
                parts.append(f"<i>by {html.escape(name)}</i> (gap {rates.max() - rates.min():.1%})"
                             f"<table>{rows}</table>")
            self.adult_view.value = (f"<b>Adult model: selection rate (P(&gt;50K) ≥ {self.threshold:.2f})</b><br>"
                                     + "".join(parts))
        self.show(f"Threshold {self.threshold:.2f}: move the slider or press a button.")
