"""mlkit.training.widget: lesson 02's live training panel, driven headless."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("ipywidgets")

from mlkit.training import widget  # noqa: E402


def test_live_panel_click_trains_and_updates_the_text(toy):
    pytest.importorskip("ipywidgets")
    X, y = toy.data()
    panel = widget.live_panel(lambda: toy.model(), (X, y), (X, y), epochs=2, max_epochs=3)
    assert isinstance(panel, widget.LivePanel) and panel.classes == ("mlkit-main",)
    assert panel.first_button is panel.button
    before = panel.text
    after = panel.click()
    assert after != before and "val accuracy" in after and panel.errors == []
    assert panel.button.description == "Train again" and not panel.button.disabled
    assert len(panel.runs) == 1 and panel.runs[0].startswith("lr=1e-03, 2 epochs")


def test_live_panel_callback_never_raises(toy):
    pytest.importorskip("ipywidgets")
    X, y = toy.data()

    def broken():
        raise ValueError("no model today")

    panel = widget.live_panel(broken, (X, y), (X, y))
    text = panel.click()  # must not raise
    assert "Could not train" in text and "no model today" in text and len(panel.errors) == 1
    assert panel.button.description == "Train again" and not panel.button.disabled
    panel = widget.live_panel(lambda: toy.model(), (X, y), (X, y), epochs=1)
    panel.lr.value = 10 ** -0.5
    panel.click()
    assert panel.button.description == "Train again" and panel.errors == []
