"""The main-widget base: the mlkit-main contract, and callbacks that never raise."""

from __future__ import annotations

import ipywidgets as w
import pytest

from mlkit.course.widgets import MAIN_CLASS, MainWidget


class Counter(MainWidget):
    """A minimal main widget, written the way a lesson helper writes one."""

    def __init__(self, fail_at: int | None = None, main: bool = True) -> None:
        self.button = w.Button(description="Count")
        self.step = w.IntSlider(value=1, min=1, max=5, description="step")
        self.count = 0
        self.fail_at = fail_at
        super().__init__(w.HBox([self.step, self.button]), status="count: 0", doing="count", main=main)
        self.on_click(self.button, self.add)
        self.on_change(self.step, self.add)

    def add(self) -> None:
        if self.count + self.step.value == self.fail_at:
            raise ValueError(f"{self.fail_at} is unlucky")
        self.count += self.step.value
        self.show(f"count: <b>{self.count}</b>")


def test_box_has_the_css_class_and_the_rows_then_the_status_line(tmp_path):
    from ipywidgets.embed import dependency_state, embed_minimal_html

    c = Counter()
    assert MAIN_CLASS == "mlkit-main" and c.classes == (MAIN_CLASS,)
    embed_minimal_html(tmp_path / "page.html", views=[c.box], state=dependency_state([c.box]))  # the page a browser gets: the class is in it
    assert f'"{MAIN_CLASS}"' in (tmp_path / "page.html").read_text()
    second = Counter(main=False)  # a lesson's second widget: the same safety, not the one the browser tests click
    assert second.classes == ()
    embed_minimal_html(tmp_path / "second.html", views=[second.box], state=dependency_state([second.box]))
    assert MAIN_CLASS not in (tmp_path / "second.html").read_text()
    assert isinstance(c.box, w.VBox) and c.box.children[-1] is c.status
    assert c.first_button is c.button


def test_click_changes_the_text_like_the_browser_test():
    c = Counter()
    before = c.text
    assert before == "Count count: 0"
    after = c.click()
    assert after != before and "count: 1" in after and c.count == 1 and c.errors == []
    c.step.value = 3  # on_change fires headless
    assert c.count == 4 and "count: 4" in c.text


def test_a_failing_callback_shows_the_error_and_never_raises():
    c = Counter(fail_at=2)
    c.click()
    text = c.click()  # would reach 2: raises inside the callback
    assert "Could not count: ValueError: 2 is unlucky" in text
    assert len(c.errors) == 1 and "Traceback" in c.errors[0] and "ValueError" in c.errors[0]
    assert c.count == 1
    c.step.value = 2  # 1 + 2 = 3: works again after an error
    assert c.count == 3 and "count: 3" in c.text


def test_error_text_is_escaped():
    c = MainWidget(status="")
    c.safe(lambda: (_ for _ in ()).throw(RuntimeError("<script>x</script>")))()
    assert "<script>" not in c.status.value and "&lt;script&gt;" in c.status.value


def test_safe_passes_arguments_through_and_keeps_the_name():
    c = MainWidget()
    seen = []

    def handler(change, extra=None):
        seen.append((change, extra))

    wrapped = c.safe(handler)
    assert wrapped("a", extra=2) is None and seen == [("a", 2)] and wrapped.__name__ == "handler"


def test_a_widget_without_button_says_so():
    c = MainWidget(w.HTML("just text"))
    with pytest.raises(LookupError, match="no Button"):
        c.click()


def test_displays_as_its_box():
    c = Counter()
    bundle = c._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == c.box.model_id
