"""The base of every lesson's main widget (the ``mlkit-main`` contract).

Each lesson shows one interactive widget that the browser tests drive: they find the
element with CSS class ``mlkit-main``, click its first button (or nudge its first
slider) and check that its text changes, and they fail the lesson if a callback raised
in the kernel. :class:`MainWidget` is that contract written once. Lesson helpers
subclass it; they never patch attributes onto ipywidgets objects.
"""

from __future__ import annotations

import functools
import html
import re
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # ipywidgets is imported where a widget is built: `import mlkit` stays cheap
    import ipywidgets

MAIN_CLASS = "mlkit-main"  # the CSS class the browser tests look for

_TAG = re.compile(r"<[^>]+>")


class MainWidget:
    """A lesson's main widget: a ``VBox`` with CSS class ``mlkit-main`` and a status line.

    The contract (CONTRIBUTING, "A lesson notebook"):

    - ``self.box`` is an ``ipywidgets.VBox`` with CSS class ``mlkit-main`` (``self.classes``
      lists the classes put on it); its children are the ``rows`` you pass, then
      ``self.status`` (an ``HTML`` line for messages).
    - The first ``Button`` in ``self.box`` is the one the browser tests click (else its
      first slider); pressing it must visibly change the widget's text.
    - Every callback is wrapped by :meth:`safe` (or attached with :meth:`on_click` /
      :meth:`on_change`, which wrap it): an exception is shown in ``self.status`` as one
      line ("Could not <doing>: ValueError: ...") and appended to ``self.errors``; it
      never reaches the front end.
    - Controls are typed attributes of the subclass (``self.button``, ``self.lr``, ...),
      created before ``super().__init__(...)`` is called with the rows that hold them.
    - The object displays as its box (last expression of a cell, or ``display(obj)``);
      to put it inside another container use ``obj.box``.

    Driving it from a test, with no browser (ipywidgets fires callbacks headless)::

        panel = validation.FaultInjector(raw, suite)
        before = panel.text
        panel.click()                    # the first button, like the browser test
        assert panel.text != before and panel.errors == []

    Args:
        *rows: the widgets shown above the status line, top to bottom.
        status: the status line's first text (HTML).
        doing: what the callbacks do, for error messages ("validate", "train", ...).
        main: False for a lesson's second widget: the same safety, without the class
            ``mlkit-main`` (the browser tests click the lesson's one main widget).
    """

    def __init__(self, *rows: ipywidgets.Widget, status: str = "", doing: str = "run this",
                 main: bool = True) -> None:
        import ipywidgets as w

        self.doing = doing
        self.errors: list[str] = []
        self.status: ipywidgets.HTML = w.HTML(status)
        self.box: ipywidgets.VBox = w.VBox([*rows, self.status])
        self.classes: tuple[str, ...] = (MAIN_CLASS,) if main else ()  # the CSS classes put on the box
        for name in self.classes:
            self.box.add_class(name)

    # ------------------------------------------------------------ callbacks
    def safe(self, callback: Callable[..., Any], doing: str | None = None) -> Callable[..., None]:
        """``callback`` wrapped so that it never raises: an error is shown and recorded.

        Use it for any callback given to ipywidgets (``on_click``, ``observe``,
        ``interactive``); the wrapper passes its arguments through and returns None.
        """
        what = doing or self.doing

        @functools.wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            try:
                callback(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the contract: a widget callback never raises
                self.errors.append("".join(traceback.format_exception(exc)))
                self.show_error(f"Could not {what}: {type(exc).__name__}: {exc}")

        return wrapper

    def on_click(self, button: ipywidgets.Button, callback: Callable[[], Any], doing: str | None = None) -> None:
        """Run ``callback()`` (no arguments) when ``button`` is pressed, through :meth:`safe`."""
        button.on_click(self.safe(lambda _button: callback(), doing))

    def on_change(self, control: ipywidgets.ValueWidget, callback: Callable[[], Any],
                  doing: str | None = None) -> None:
        """Run ``callback()`` (no arguments) when ``control.value`` changes, through :meth:`safe`."""
        control.observe(self.safe(lambda _change: callback(), doing), names="value")

    # ------------------------------------------------------------ messages
    def show(self, message: str) -> None:
        """Put ``message`` (HTML, already escaped where it holds data) in the status line."""
        self.status.value = message

    def show_error(self, message: str) -> None:
        """Put ``message`` (plain text; escaped here) in the status line, in red."""
        self.status.value = f"<b style='color:#c00'>{html.escape(message)}</b>"

    # ------------------------------------------------------------ for tests
    def controls(self) -> Iterator[ipywidgets.Widget]:
        """Every widget inside the box, depth first, in display order."""
        stack = list(reversed(self.box.children))
        while stack:
            widget = stack.pop()
            yield widget
            stack.extend(reversed(getattr(widget, "children", ())))

    @property
    def first_button(self) -> ipywidgets.Button:
        """The button the browser tests click: the first ``Button`` in the box."""
        import ipywidgets as w

        for widget in self.controls():
            if isinstance(widget, w.Button):
                return widget
        raise LookupError(f"{type(self).__name__} has no Button: the browser tests need one to click.")

    def click(self) -> str:
        """Press the first button, as the browser test does; return the text shown afterwards."""
        self.first_button.click()
        return self.text

    @property
    def text(self) -> str:
        """The widget's visible text (HTML, Label and button texts, tags removed), for tests."""
        import ipywidgets as w

        parts = []
        for widget in self.controls():
            if isinstance(widget, (w.HTML, w.HTMLMath, w.Label)):
                parts.append(html.unescape(_TAG.sub(" ", widget.value)))
            elif isinstance(widget, w.Button):
                parts.append(widget.description)
        return " ".join(" ".join(parts).split())

    # ------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.box._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} ({MAIN_CLASS}): {self.text[:60]!r}>"
