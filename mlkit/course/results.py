"""Key results a notebook reports, collected by the batch runner (``mlkit run``).

``mlkit.report(accuracy=0.93)`` shows the values in the notebook and also emits them
as an output of MIME type ``application/vnd.mlkit.results+json``; the runner reads
those outputs from the executed notebook. No side files, no scrapbook.
"""

from __future__ import annotations

import json
import math
from typing import Any

MIME = "application/vnd.mlkit.results+json"


def _plain(value: Any) -> Any:
    """Make numpy / torch scalars and paths JSON-friendly."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else str(value)
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    return str(value)


def report(**results: Any) -> dict[str, Any]:
    """Record a lesson's key results (shown in the notebook, collected by the runner)."""
    data = {key: _plain(value) for key, value in results.items()}
    text = ", ".join(f"{k} = {v}" for k, v in data.items())
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:  # a notebook or IPython shell
        display({MIME: data, "text/plain": f"Key results: {text}"}, raw=True)
    else:  # plain python: just print
        print(f"Key results: {text}")
    return data


def collect(nb: Any) -> dict[str, Any]:
    """All results reported in an executed notebook (a nbformat node or a dict)."""
    found: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if MIME in data:
                payload = data[MIME]
                found.update(json.loads(payload) if isinstance(payload, str) else payload)
    return found
