import pytest

from mlkit.overview import lifecycle


def test_six_stages_in_loop_order_each_with_tools_lesson_and_failures():
    assert [s.name for s in lifecycle.STAGES] == ["Data", "Training", "Evaluation", "Deployment", "Monitoring", "Retraining"]
    for s in lifecycle.STAGES:
        assert s.tools and s.failure_modes and s.infrastructure and s.lesson.startswith(f"0{s.number}_")


def test_stage_lookup_by_number_or_name():
    assert lifecycle.stage(2).name == "Training" and lifecycle.stage("monitoring").number == 5
    with pytest.raises(KeyError, match="the stages are: 1 Data"):
        lifecycle.stage("deploy-it")


def test_card_names_tools_lesson_and_escapes_html():
    card = lifecycle.stage_card(lifecycle.stage(1))
    assert "Great Expectations" in card and "notebooks/01_data.ipynb" in card and "<h3>1. Data</h3>" in card


def test_map_widget_follows_the_loop_and_wraps_around():
    box = lifecycle.lifecycle_map(start=5)
    button, picker, card = box.children
    assert "mlkit-main" in box._dom_classes and "5. Monitoring" in card.value
    button.click()
    assert picker.value == 6 and "6. Retraining" in card.value
    button.click()
    assert picker.value == 1 and "1. Data" in card.value  # back to data: it is a loop
    picker.value = 3
    assert "3. Evaluation" in card.value


def test_loop_plot_has_every_stage():
    fig = lifecycle.plot_loop(highlight=2)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert all(any(s.name in t for t in texts) for s in lifecycle.STAGES)
