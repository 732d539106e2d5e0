"""Text made readable in a notebook or a summary.

- :func:`strip_ansi`: terminal text without ANSI escape codes. Used by the batch runner
  (tracebacks of failed cells), the browser tests (kernel errors) and lesson 01's DVC output.
  One definition, so that every place strips the same codes.
- :func:`show_source`: a definition of the package, displayed in a lesson.
"""

from __future__ import annotations

import re

# CSI sequences: colours (ESC[31m), cursor moves and erases (ESC[2K, ESC[?25l); and OSC
# sequences such as terminal hyperlinks (ESC]8;;url ESC\ or BEL).
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape codes (colours, cursor moves, hyperlinks)."""
    return ANSI.sub("", text)


def show_source(obj: object) -> object:
    """The source of a function or class, for a notebook to display: IPython's ``Code``, highlighted
    in JupyterLab, plain text in a terminal. A lesson shows a definition that the package holds
    this way (lesson 01's expectation suite, lesson 02's plain training loop), so it is written once."""
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
