import pytest

from mlkit.retraining import policies, replay, widget


@pytest.fixture(scope="module")
def data():
    return policies.Encoded(replay.load_stream())


def test_click_simulates_and_changes_text(data):
    panel = widget.TimelineExplorer(data)
    before = panel.text
    after = panel.click()
    assert after != before and panel.errors == []
    assert "retrains" in after and panel.history[-1].retrains > 0


def test_policy_change_and_never(data):
    panel = widget.TimelineExplorer(data)
    panel.policy.value = "scheduled"
    assert panel.threshold.description == "every N weeks" and panel.threshold.value == 4
    panel.policy.value = "never"
    panel.click()
    assert panel.history[-1].retrains == 0 and panel.errors == []


def test_callback_errors_are_shown_not_raised(data):
    panel = widget.TimelineExplorer(data, initial_weeks=0)  # a bad setting: shown, never raised
    panel.click()
    assert panel.errors and "Could not simulate" in panel.text
