"""Lesson 00: the lifecycle facts, the tables built from them, the map widget and the loop figure."""

import matplotlib
import numpy as np
import pytest

from mlkit.course.widgets import MAIN_CLASS, MainWidget
from mlkit.overview import lifecycle


def test_six_stages_in_loop_order_each_complete():
    assert [s.name for s in lifecycle.STAGES] == ["Data", "Training", "Evaluation", "Deployment", "Monitoring", "Retraining"]
    for s in lifecycle.STAGES:
        assert s.tools and s.failure_modes and s.infrastructure and s.engineer and s.recommender and s.in_course
        assert s.lesson.startswith(f"0{s.number}_") and f"Lesson 0{s.number}" in s.in_course


def test_stage_lookup_by_number_or_name():
    assert lifecycle.stage(2).name == "Training" and lifecycle.stage("monitoring").number == 5
    with pytest.raises(KeyError, match="the stages are: 1 Data"):
        lifecycle.stage("deploy-it")


def test_card_shows_tools_role_recommender_lesson_and_escapes_html():
    card = lifecycle.stage_card(lifecycle.stage(4))
    assert "<h3>4. Deployment</h3>" in card and "notebooks/04_deployment.ipynb" in card
    assert "canary" in card and "The ML infrastructure engineer" in card and "FastAPI" in card
    odd = lifecycle.Stage(7, "<b>x</b>", "goal", (lifecycle.Tool("a&b", "why"),), "07_x", ("f",), ("i",), ("e",), "r", "c")
    assert "&lt;b&gt;x&lt;/b&gt;" in lifecycle.stage_card(odd) and "a&amp;b" in lifecycle.stage_card(odd)


def test_tables_have_one_row_per_stage_or_item_and_no_truncated_text():
    assert list(lifecycle.stages_table().index) == [f"{s.number}. {s.name}" for s in lifecycle.STAGES]
    recommender = lifecycle.recommender_table()
    assert recommender.loc["4. Deployment", "in a recommendation system"].startswith("The new model first gets 5%")
    assert lifecycle.roles_table().shape == (6, 2)
    challenges = lifecycle.challenges_table()
    assert list(challenges.index) == ["Data volume and velocity", "Compute intensity", "Model versioning",
                                      "Serving latency", "Monitoring complexity"]
    assert "100 ms" in challenges.loc["Serving latency", "problem"]
    assert set(lifecycle.anti_patterns_table().index) == set(lifecycle.ANTI_PATTERNS)


def test_map_is_a_main_widget_that_follows_the_loop_and_wraps_around():
    m = lifecycle.lifecycle_map(start=5)
    assert isinstance(m, MainWidget) and m.classes == (MAIN_CLASS,)
    assert m.first_button is m.next_button and "5. Monitoring" in m.card.value
    text = m.click()
    assert m.picker.value == 6 and "6. Retraining" in m.card.value and "back to the start" in text
    m.click()
    assert m.picker.value == 1 and "1. Data" in m.card.value and "next: Training" in m.text
    m.picker.value = 3
    assert "3. Evaluation" in m.card.value and "Stage 3 of 6" in m.text and m.errors == []


def test_map_refuses_an_unknown_start_stage():
    with pytest.raises(KeyError, match="the stages are"):
        lifecycle.LifecycleMap(start=9)


def test_loop_plot_has_every_stage_and_arrowheads_outside_the_boxes():
    matplotlib.use("Agg")
    fig = lifecycle.plot_loop(highlight=2)
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_bbox_patch() is not None]
    assert [t.get_text().split("\n")[1] for t in labels] == [s.name for s in lifecycle.STAGES]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in labels]
    arrows = [t.arrow_patch for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    assert len(arrows) == 6
    for arrow in arrows:
        points = arrow.get_path().vertices  # display coordinates once drawn
        assert not any(box.contains(x, y) for box in boxes for x, y in points)  # head and tail visible
        assert np.ptp(points[:, 0]) + np.ptp(points[:, 1]) > 20  # a real arrow, not a dot
