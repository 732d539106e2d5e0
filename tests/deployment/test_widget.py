"""mlkit.deployment.widget: the rollout panel answers clicks and never raises."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("ipywidgets")

from mlkit.deployment import launch, widget


def test_panel_drives_the_router(servers, messages):
    with launch.start_router({"blue": servers["blue"].url, "green": servers["green"].url}, "blue") as router:
        panel = widget.RolloutPanel(router.url, "green", messages, seconds=1.0, concurrency=2)
        before = panel.text
        assert "primary blue" in before
        after = panel.click()  # Send load
        assert after != before and panel.errors == []
        panel.run.wait()
        time.sleep(0.3)
        assert "answered" in panel.text
        panel.slider.value = 20
        assert "canary green at 20%" in panel.text
        panel.promote_button.click()
        assert "primary green" in panel.text and panel.slider.value == 0
        panel.rollback_button.click()
        assert "primary blue" in panel.text and panel.errors == []


def test_panel_without_router_shows_a_message():
    panel = widget.RolloutPanel("http://127.0.0.1:9", "green", ["hi"])
    before = panel.text
    after = panel.click()
    assert after != before and "router is not running" in after and panel.errors == []
    panel.promote_button.click()
    panel.slider.value = 10
    assert "router is not running" in panel.text and panel.errors == []
