"""Every lesson, the way learners meet it: JupyterLab in a real (headless) Chromium.

For each notebook in ``notebooks/`` (found by glob): open it, Run All in fast mode, and
check that no cell shows an error, every widget output rendered, the main widget
(``.mlkit-main``) answers a click, and no widget callback raised in the kernel.
A screenshot and a JSON report per notebook go to ``tests/browser/screenshots/``.

The fixture tests prove the harness itself: a working widget notebook passes, and broken
widgets, a raising button callback, a raising slider observer, a dead button, a plot shown
as text and a failing cell are each caught. See README.md in this folder.

Run: ``scripts/install_browser.sh && .venv/bin/pytest -m browser tests/browser``.
"""

from __future__ import annotations

from pathlib import Path

import key_results
import pytest
from labdriver import check_notebook

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE.parents[1] / "notebooks"
FIXTURES = HERE / "fixtures"

pytestmark = pytest.mark.browser

LESSONS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("lesson", LESSONS or [pytest.param(None, marks=pytest.mark.skip(
    reason="no notebooks in notebooks/ yet"))])  # fmt: skip
def test_lesson_in_jupyterlab(lesson, lab, page, screenshot_dir):
    """The lesson's one execution per test pass (tests/course/test_notebooks.py leaves out the
    lessons run here): it runs clean in JupyterLab and reports key results that meet what its
    prose claims (tests/key_results.py)."""
    report = check_notebook(page, lab, f"notebooks/{lesson}", screenshot_dir)
    print(report.summary())
    assert report.ok, report.summary()
    assert report.results, f"{lesson} reported no key results (call mlkit.report)"
    for note in key_results.check(Path(lesson).stem, report.results):
        print(note)


# ------------------------------------------------------------------ the harness itself


def _fixture(name: str) -> str:
    assert (FIXTURES / name).is_file(), name
    return f"fixtures/{name}"


def test_harness_passes_a_working_widget_notebook(lab, page, screenshot_dir):
    report = check_notebook(page, lab, _fixture("good_widget.ipynb"), screenshot_dir)
    print(report.summary())
    assert report.ok, report.summary()
    # the main widget, an HTML widget, a kept tqdm bar; a closed bar and a closed label are skipped
    assert report.widget_outputs == report.widgets_rendered == 3
    assert report.main_before != report.main_after
    assert "Clicked 1 times" in report.main_after
    assert report.results == {"slept_s": 0.6, "steps": 3}  # read from the page, as the lessons' are
    assert Path(report.screenshot).is_file()


def test_harness_passes_a_widget_built_on_the_main_widget_base(lab, page, screenshot_dir):
    """``mlkit.course.widgets.MainWidget`` meets the contract in a real browser: it renders
    with class mlkit-main, a click changes its text, and an error in its callback (raised on
    purpose in the notebook) is shown in the widget, never raised in the kernel."""
    report = check_notebook(page, lab, _fixture("main_widget.ipynb"), screenshot_dir)
    print(report.summary())
    assert report.ok, report.summary()
    assert "count: 0" in report.main_before and "count: 1" in report.main_after


def test_harness_catches_a_widget_that_does_not_render(lab, page, screenshot_dir):
    report = check_notebook(page, lab, _fixture("broken_widget.ipynb"), screenshot_dir)
    print(report.summary())
    assert not report.ok
    broken = [p for p in report.problems if p.kind == "widget-not-rendered"]
    # a missing view class, a missing model class, a model closed before it was shown
    assert len(broken) == 3, report.summary()
    assert any("model not found" in p.detail for p in broken)
    assert report.widgets_rendered == 1  # the working main widget still renders and is clicked
    assert "main-widget-unresponsive" not in report.kinds()


def test_harness_catches_a_button_callback_that_raises(lab, page, screenshot_dir):
    report = check_notebook(page, lab, _fixture("callback_raises.ipynb"), screenshot_dir)
    print(report.summary())
    assert not report.ok
    errors = [p for p in report.problems if p.kind == "callback-error"]
    assert errors and "ZeroDivisionError" in errors[0].detail, report.summary()
    # the label did change: only the kernel-side check can catch this one
    assert "main-widget-unresponsive" not in report.kinds()
    assert "error-output" not in report.kinds()


def test_harness_catches_a_slider_observer_that_raises(lab, page, screenshot_dir):
    report = check_notebook(page, lab, _fixture("observer_raises.ipynb"), screenshot_dir)
    print(report.summary())
    assert not report.ok
    errors = [p for p in report.problems if p.kind == "callback-error"]
    assert errors and "ValueError" in errors[0].detail, report.summary()


def test_harness_catches_a_dead_button_a_text_figure_and_a_failing_cell(lab, page, screenshot_dir):
    # the dead button never changes anything: wait 5 s for it, not the default 30 s
    nb = _fixture("other_failures.ipynb")
    report = check_notebook(page, lab, nb, screenshot_dir, interaction_timeout=5)
    print(report.summary())
    expected = {"error-output", "not-executed", "main-widget-unresponsive", "figure-not-rendered"}
    assert expected <= report.kinds(), report.summary()
    assert any("this lesson's check fails" in p.detail for p in report.problems)
