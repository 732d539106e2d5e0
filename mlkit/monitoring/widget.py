"""Lesson 05's main widget: a drift injector.

A slider shifts the columns of a current window (all of them, or the one picked) by a
multiple of the reference's standard deviation, like sensors drifting out of calibration;
the per-column drift scores and the alert state follow at once. The button adds a quarter
of a standard deviation.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from mlkit.course.widgets import MainWidget
from mlkit.monitoring import drift

if TYPE_CHECKING:
    import pandas as pd


ALL = "all columns"
_DRIFT = "<b style='color:#c00'>drift</b>"


class DriftInjector(MainWidget):
    """Shift a column of ``current`` and watch ``detector`` (its scipy path, the same
    numbers as Evidently's) decide whether to alert.

    Args:
        detector: the drift detector with its reference.
        current: a window with no drift of its own (e.g. fresh rows of the reference period).
        column: the column shifted first (default: all of ``detector.columns`` together).
    """

    def __init__(self, detector: drift.DriftDetector, current: pd.DataFrame, column: str | None = None,
                 max_shift: float = 2.0) -> None:
        import ipywidgets as w

        self.detector, self.current = detector, current
        self.column = w.Dropdown(options=[ALL, *detector.columns], value=column or ALL,
                                 description="column", layout=w.Layout(width="220px"))
        self.shift = w.FloatSlider(value=0.0, min=-max_shift, max=max_shift, step=0.05,
                                   description="shift (σ)", continuous_update=False, readout_format=".2f")
        self.button = w.Button(description="+0.25 σ", tooltip="shift a quarter standard deviation more")
        self.table = w.HTML()
        super().__init__(w.HBox([self.column, self.shift, self.button]), self.table,
                         status="", doing="check drift")
        self.on_change(self.shift, self.update)
        self.on_change(self.column, self.update)
        self.on_click(self.button, self.nudge)
        self.safe(self.update)()

    def nudge(self) -> None:
        """The button: shift a quarter standard deviation further (wraps at the slider's end)."""
        nxt = round(self.shift.value + 0.25, 2)
        self.shift.value = nxt if nxt <= self.shift.max else self.shift.min

    def shifted(self) -> pd.DataFrame:
        """The current window with the chosen column(s) moved by ``shift`` reference std devs."""
        cols = self.detector.columns if self.column.value == ALL else [self.column.value]
        out = self.current.copy()
        for col in cols:
            out[col] = out[col] + self.shift.value * float(self.detector.reference[col].std())
        return out

    def update(self) -> drift.DriftResult:
        """Recompute the scores and redraw the table and the alert line."""
        res = self.detector.quick(self.shifted())
        rows = "".join(
            f"<tr><td>{html.escape(str(c))}{' ⟵ shifted' if self.column.value in (c, ALL) else ''}</td>"
            f"<td>{m}</td><td style='text-align:right'>{s:.3g}</td><td>{'≥' if drift.METHODS[m][1] else '≤'} {t:g}</td>"
            f"<td>{_DRIFT if d else 'ok'}</td></tr>"
            for c, m, s, t, d in res.table[["column", "method", "score", "threshold", "drifted"]].itertuples(index=False))
        self.table.value = ("<table><tr><th>column</th><th>test</th><th>score</th><th>drift if</th><th></th></tr>"
                            f"{rows}</table>")
        state = ("<b style='color:#c00'>ALERT DataDrift firing</b>" if res.drifted
                 else "<b style='color:#080'>no alert</b>")
        self.show(f"shift {self.shift.value:+.2f} σ on <code>{html.escape(self.column.value)}</code>: "
                  f"{res.share:.0%} of columns drifted (alert at ≥ {self.detector.drift_share:.0%}) · {state}")
        self.result = res
        return res
