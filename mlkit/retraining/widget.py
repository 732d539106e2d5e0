"""Lesson 06's main widget: the timeline explorer. Choose a policy and a threshold, press
"Simulate the year", and see the served model's error week by week and when it was retrained."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from mlkit.course.widgets import MainWidget
from mlkit.retraining import policies

if TYPE_CHECKING:
    import pandas as pd

# what the slider means for each policy: (label, min, max, step, default)
SLIDER = {"never": ("(no threshold)", 0.0, 1.0, 0.1, 0.0),
          "scheduled": ("every N weeks", 1.0, 12.0, 1.0, 4.0),
          "drift_triggered": ("drift threshold", 0.2, 3.0, 0.1, 1.0),
          "performance_triggered": ("error threshold", 0.1, 1.0, 0.05, 0.3)}


class TimelineExplorer(MainWidget):
    """Policy dropdown, threshold slider, a button; the plot and a one-line summary (lesson 06)."""

    def __init__(self, stream: pd.DataFrame | policies.Encoded | None = None, policy: str = "drift_triggered",
                 **simulate_kwargs: Any) -> None:
        import ipywidgets as w

        from mlkit.retraining import replay

        self.data = stream if isinstance(stream, policies.Encoded) else policies.Encoded(
            replay.load_stream() if stream is None else stream)
        self.kwargs = simulate_kwargs
        self.button = w.Button(description="Simulate the year", button_style="primary")
        self.policy = w.Dropdown(options=list(SLIDER), value=policy, description="policy")
        label, lo, hi, step, value = SLIDER[policy]
        self.threshold = w.FloatSlider(value=value, min=lo, max=hi, step=step, description=label,
                                       style={"description_width": "initial"})
        self.summary = w.HTML("Pick a policy and a threshold, then simulate.")
        self.plot = w.Output()
        self.history: list[policies.Simulation] = []
        super().__init__(w.HBox([self.policy, self.threshold, self.button]), self.summary, self.plot,
                         doing="simulate the year")
        self.on_click(self.button, self.run)
        self.on_change(self.policy, self._policy_changed)

    def _policy_changed(self) -> None:
        label, lo, hi, step, value = SLIDER[self.policy.value]
        self.threshold.min, self.threshold.max = min(lo, self.threshold.min), max(hi, self.threshold.max)
        self.threshold.min, self.threshold.max, self.threshold.step = lo, hi, step
        self.threshold.value, self.threshold.description = value, label

    def run(self) -> policies.Simulation:
        """Simulate the chosen policy; update the summary and the plot."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        name = self.policy.value
        policy = policies.make(name, None if name == "never" else self.threshold.value)
        sim = policies.simulate(policy, self.data, **self.kwargs)
        self.history.append(sim)
        weeks = ", ".join(map(str, sim.retrain_weeks)) or "none"
        self.summary.value = (f"<b>{html.escape(name)}</b> ({html.escape(repr(policy))}): mean error "
                              f"<b>{sim.mae:.1f}</b> bikers per hour, <b>{sim.retrains}</b> retrains "
                              f"(weeks {html.escape(weeks)}).")
        self.plot.clear_output(wait=True)
        with self.plot:
            fig = policies.figure({name: sim})
            display(fig)
            plt.close(fig)
        self.show(f"Simulated {len(sim.weekly)} weeks.")
        return sim


def timeline_explorer(stream: pd.DataFrame | policies.Encoded | None = None, **kwargs: Any) -> TimelineExplorer:
    """The lesson's main widget (see :class:`TimelineExplorer`)."""
    return TimelineExplorer(stream, **kwargs)
