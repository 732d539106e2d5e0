"""The rollout panel, lesson 04's main widget: drive the router while load runs.

A traffic slider (the canary's share of users), **Send load**, **Promote** and **Roll back**
buttons, and per-version stats (requests, errors, p50/p99, req/s) that update about four
times a second while the load generator runs. Every button calls the router's admin API
over HTTP, as an operator's tool would.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from mlkit.course import http
from mlkit.course.widgets import MainWidget
from mlkit.deployment import loadgen


class RolloutPanel(MainWidget):
    """The rollout panel for a router in front of a ``primary`` and a ``canary`` backend.

    Args:
        router_url: the router's address (``router.url``).
        canary: the backend the slider sends traffic to.
        messages: the texts the load generator sends.
        seconds: how long one press of **Send load** sends load.
        concurrency: the load generator's workers.
    """

    def __init__(self, router_url: str, canary: str, messages: Sequence[str], *, seconds: float = 3.0,
                 concurrency: int = 4) -> None:
        import ipywidgets as w

        self.router_url, self.canary, self.messages = router_url, canary, list(messages)
        self.seconds, self.concurrency = seconds, concurrency
        self.run: loadgen.LoadRun | None = None
        self.load_button = w.Button(description=f"Send load ({seconds:g} s)", icon="play", button_style="primary")
        self.promote_button = w.Button(description="Promote canary", icon="arrow-up")
        self.rollback_button = w.Button(description="Roll back", icon="undo", button_style="warning")
        self.slider = w.IntSlider(value=0, min=0, max=100, step=5, description="canary %",
                                  continuous_update=False, style={"description_width": "initial"})
        self.state = w.HTML()
        self.stats = w.HTML("<i>No load sent yet: press Send load.</i>")
        super().__init__(w.HBox([self.load_button, self.promote_button, self.rollback_button]), self.slider,
                         self.state, self.stats, doing="change the rollout")
        self.on_click(self.load_button, self.send_load, "send load")
        self.on_click(self.promote_button, self.promote, "promote")
        self.on_click(self.rollback_button, self.rollback, "roll back")
        self.on_change(self.slider, self.set_weight, "set the canary weight")
        self._progress = self.safe(self._show_result, "update the stats")
        self.refresh()

    # ------------------------------------------------------------ actions
    def send_load(self) -> None:
        if self.run is not None and self.run.running:
            self.show("Load is already running: wait for it to finish.")
            return
        if self._status() is None:
            return
        self.show(f"Sending load for {self.seconds:g} s at concurrency {self.concurrency} ...")
        self.run = loadgen.start(self.router_url, self.messages, concurrency=self.concurrency,
                                 duration=self.seconds, on_progress=self._progress)

    def set_weight(self) -> None:
        if self._status() is None:
            return
        status = http.call(self.router_url, "/admin/canary",
                           {"backend": self.canary, "weight": self.slider.value / 100})
        self.show(f"{self.slider.value}% of users now go to <b>{html.escape(self.canary)}</b> (sticky by user key).")
        self._show_state(status)

    def promote(self) -> None:
        status = self._status()
        if status is None:
            return
        if status["canary"]:
            status = http.call(self.router_url, "/admin/promote", {})
        elif status["primary"] != self.canary:  # no split yet: a blue-green switch
            status = http.call(self.router_url, "/admin/switch", {"to": self.canary})
        else:
            self.show(f"{html.escape(self.canary)} already takes all traffic.")
            self._show_state(status)
            return
        self.show(f"Promoted: all traffic now goes to <b>{html.escape(status['primary'])}</b>.")
        self._set_slider(0)
        self._show_state(status)

    def rollback(self) -> None:
        if self._status() is None:
            return
        status = http.call(self.router_url, "/admin/rollback", {})
        self.show(f"Rolled back: all traffic goes to <b>{html.escape(status['primary'])}</b>.")
        self._set_slider(0)
        self._show_state(status)

    def refresh(self) -> None:
        """Show the router's current state (a message instead when it is not running)."""
        try:
            self._show_state(http.call(self.router_url, "/admin/status", timeout=2))
        except http.HttpError as exc:
            self.state.value = f"<i>{html.escape(str(exc))}</i>"

    def _status(self) -> dict | None:
        """The router's status, or None (and a message saying what to do) when it is not running."""
        try:
            return http.call(self.router_url, "/admin/status", timeout=2)
        except http.HttpError:
            self.show("<b>The router is not running</b>: the lesson's last cell stops every server. Run the "
                      "cells from section 1 (start the servers) and section 3 (the router) again, then this one.")
            return None

    # ------------------------------------------------------------ display
    def _set_slider(self, value: int) -> None:
        with self.slider.hold_trait_notifications():
            self.slider.unobserve_all("value")
            self.slider.value = value
        self.on_change(self.slider, self.set_weight, "set the canary weight")

    def _show_state(self, status: dict) -> None:
        canary = (f" · canary <b>{html.escape(status['canary'])}</b> at {status['weight']:.0%}"
                  if status.get("canary") else " · no canary")
        self.state.value = f"Router: primary <b>{html.escape(status['primary'])}</b>{canary}"

    def _show_result(self, result: loadgen.LoadResult) -> None:
        rows = "".join(
            f"<tr><td>{html.escape(v)}</td><td>{s['requests']}</td><td>{s['errors']}</td><td>{s['p50_ms']:.1f}</td>"
            f"<td>{s['p99_ms']:.1f}</td><td>{s['req_per_s']:.0f}</td></tr>"
            for v, s in result.by_version().items())
        state = "done" if result.done else "running"
        self.stats.value = (
            f"<table><tr><th>model version</th><th>requests</th><th>errors</th><th>p50 ms</th><th>p99 ms</th>"
            f"<th>req/s</th></tr>{rows}</table><small>load {state}: {result.sent} sent, {result.answered} answered in "
            f"{result.wall_s:.1f} s · load generator CPU {result.client_cpu:.0%} of a core</small>")
        if result.done:
            if result.error:
                self.show_error(f"The load run failed: {result.error}")
            else:
                self.show(f"Load done: {result.answered} of {result.sent} answered.")
            self.refresh()
