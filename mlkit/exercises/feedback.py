"""How a check's result reaches the learner: a coloured box in a notebook, plain text elsewhere,
and one readable line for an error raised by the learner's code (never a traceback)."""

from __future__ import annotations

import html
import sys
import traceback
from pathlib import Path

_PKG_DIR = str(Path(__file__).resolve().parents[1])


def show(kind: str, title: str, body: str = "", code: str | None = None) -> None:
    """Show feedback: rich HTML in a notebook, plain text elsewhere.

    kind is "ok", "fail", "todo", "hint" or "info" (it picks the colour and the symbol).
    """
    colours = {"ok": "#1a7f37", "fail": "#cf222e", "todo": "#9a6700", "hint": "#0969da", "info": "#57606a"}
    symbols = {"ok": "✔", "fail": "✘", "todo": "…", "hint": "?", "info": "i"}
    text = f"{symbols.get(kind, '')} {title}" + (f"\n{body}" if body else "")
    if code:
        text += "\n\n" + code
    rich = (
        f'<div class="mlkit-feedback mlkit-{kind}" style="border-left:4px solid {colours.get(kind)};'
        f'padding:4px 10px;margin:4px 0">'
        f'<b style="color:{colours.get(kind)}">{symbols.get(kind, "")} {html.escape(title)}</b>'
        + (f"<div>{html.escape(body)}</div>" if body else "")
        + (f"<pre>{html.escape(code)}</pre>" if code else "")
        + "</div>"
    )
    if in_ipython():
        from IPython.display import display

        display({"text/html": rich, "text/plain": text}, raw=True)
    else:
        print(text)


def in_ipython() -> bool:
    """True inside an IPython kernel or shell."""
    ipython = sys.modules.get("IPython")
    return bool(ipython is not None and ipython.get_ipython() is not None)


def _learner_frame(tb) -> traceback.FrameSummary | None:
    """The innermost traceback frame that is the learner's code (not mlkit, not a library)."""
    import sysconfig

    libraries = tuple({_PKG_DIR, *(sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib"))})
    found = None
    for frame in traceback.extract_tb(tb):
        name = frame.filename
        if name.startswith(libraries) or "site-packages" in name:
            continue
        found = frame
    return found


def describe_error(exc: BaseException) -> str:
    """A short, readable account of an exception raised by the learner's code."""
    msg = f"{type(exc).__name__}: {exc}".rstrip(": ")
    where = _learner_frame(exc.__traceback__)
    if where is not None:
        line = (where.line or "").strip()
        msg += f"\nIt was raised at line {where.lineno} of your code (in {where.name})" + (
            f":  {line}" if line else ".")
    else:
        msg += "\n(The error did not come from a notebook cell: look at what your code returned.)"
    return msg
