"""Lesson 02's live training panel: pick a learning rate and a number of epochs, press Train,
watch the loss curves grow epoch by epoch (a :class:`~mlkit.training.loop.Trainer` callback draws them)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from mlkit.course.widgets import MainWidget
from mlkit.training.loop import Data, Trainer


class LivePanel(MainWidget):
    """The lesson's live training panel (lesson 02): pick a learning rate and a number of
    epochs, press Train, watch the loss curves grow epoch by epoch.

    Attributes: ``lr`` (FloatLogSlider), ``epochs`` (IntSlider), ``button`` (Button),
    ``plot`` (Output); the runs so far and any message appear in ``status``;
    ``runs`` lists one line per finished run.
    """

    def __init__(
        self, make_model: Callable[[], nn.Module], train: Data, val: Data, *, device: str = "cpu", seed: int = 0,
        lr: float = 1e-3, epochs: int = 5, max_epochs: int = 30, batch_size: int = 64,
    ) -> None:
        import ipywidgets as w

        self.make_model, self.train, self.val = make_model, train, val
        self.device, self.seed, self.batch_size = device, seed, batch_size
        self.runs: list[str] = []
        self.lr = w.FloatLogSlider(value=lr, base=10, min=-4, max=-0.5, step=0.25, description="learning rate",
                                   readout_format=".0e", style={"description_width": "initial"})
        self.epochs = w.IntSlider(value=epochs, min=1, max=max_epochs, description="epochs")
        self.button = w.Button(description="Train", button_style="primary", icon="play")
        self.plot = w.Output()
        super().__init__(w.HBox([self.lr, self.epochs, self.button]), self.plot,
                         status="Pick a learning rate and a number of epochs, then press <b>Train</b>.",
                         doing="train")
        self.on_click(self.button, self.run)

    def _draw(self, records: list[dict[str, float]], title: str) -> None:
        from IPython.display import clear_output, display

        from mlkit.training.plots import curves_figure

        with self.plot:
            clear_output(wait=True)
            display(curves_figure(records, title))

    def run(self) -> None:
        """Train a fresh model with the chosen settings, drawing the curves after each epoch."""
        import html

        records: list[dict[str, float]] = []
        title = f"lr={self.lr.value:.0e}, {self.epochs.value} epochs"
        self.button.disabled, self.button.description = True, "Training..."
        try:
            self.show(f"Training with {html.escape(title)}...")
            torch.manual_seed(self.seed)
            trainer = Trainer(
                self.make_model(), device=self.device, lr=float(self.lr.value), epochs=int(self.epochs.value),
                seed=self.seed, batch_size=self.batch_size, progress=False,
                callbacks=[lambda r: (records.append(r), self._draw(records, title))],
            )
            trainer.fit(self.train, self.val)
            last = trainer.history.last
            if not math.isfinite(last["train_loss"]):
                self.show(f"<b>{html.escape(title)}</b>: the loss diverged (NaN/inf); try a smaller learning rate.")
            else:
                self.runs.append(f"{title}: val accuracy {last.get('val_accuracy', float('nan')):.3f}")
                self.show("<br>".join(html.escape(r) for r in self.runs[-5:]))
        finally:
            self.button.disabled, self.button.description = False, "Train again"


def live_panel(make_model: Callable[[], nn.Module], train: Data, val: Data, **kwargs: Any) -> LivePanel:
    """The live training panel of lesson 02 (see :class:`LivePanel`)."""
    return LivePanel(make_model, train, val, **kwargs)
