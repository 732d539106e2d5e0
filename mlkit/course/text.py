"""Terminal text made readable in a notebook or a summary: ANSI escape codes removed.

Used by the batch runner (tracebacks of failed cells), the browser tests (kernel errors)
and lesson 01's DVC output. One definition, so that every place strips the same codes.
"""

from __future__ import annotations

import re

# CSI sequences: colours (ESC[31m), cursor moves and erases (ESC[2K, ESC[?25l); and OSC
# sequences such as terminal hyperlinks (ESC]8;;url ESC\ or BEL).
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape codes (colours, cursor moves, hyperlinks)."""
    return ANSI.sub("", text)
