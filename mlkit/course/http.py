"""One small HTTP client for the course's own servers on 127.0.0.1 (httpx).

Every call that lessons, stages and health checks make to a local server goes through here:

- :func:`call`: JSON in, JSON out. GET without ``body``, POST with it. A 4xx/5xx answer raises
  :class:`HttpError` with the server's own message (its ``message``, ``detail`` or ``error``
  field, else its text), a server that does not answer raises it with "is the server running?".
- :func:`request`: one request, the ``httpx.Response`` whatever its status, for code that reads
  the status itself (a health check, a load test that counts errors). Only a server that does
  not answer raises.
- :func:`text`: GET a text page (a ``/metrics`` endpoint), raising on a 4xx/5xx.

One shared ``httpx.Client`` keeps connections open between calls (thread-safe: lesson 05 sends
from several threads). It ignores proxy settings of the environment: the servers are local.
httpx is imported on first use.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from mlkit.course.errors import MlkitError

if TYPE_CHECKING:
    import httpx


class HttpError(MlkitError, RuntimeError):
    """A local server answered with an error, or did not answer; ``status`` is None when it did not answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@functools.cache
def client() -> httpx.Client:
    """The shared client (made on first use)."""
    import httpx

    return httpx.Client(trust_env=False, timeout=10.0)


def request(method: str, url: str, *, json: Any = None, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None, timeout: float = 10.0) -> httpx.Response:
    """Send one request to ``url``; return the response, whatever its status.

    Raises :class:`HttpError` (status None) when nothing answers within ``timeout`` seconds.
    """
    import httpx

    try:
        return client().request(method, url, json=json, params=params, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise HttpError(f"{url} did not answer within {timeout:g} s: is the server busy or stuck?") from None
    except httpx.TransportError as exc:
        raise HttpError(f"nothing answers at {url} ({type(exc).__name__}: {exc}): is the server running?") from None


def _message(response: httpx.Response) -> str:
    """What the server said about its error, in one line."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500]
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if body.get(key):
                return str(body[key])
    return str(body)[:500]


def check(response: httpx.Response) -> httpx.Response:
    """``response`` itself when its status is below 400, else :class:`HttpError` with the server's message."""
    if response.status_code >= 400:
        path = response.request.url.path
        raise HttpError(f"{path} answered {response.status_code}: {_message(response)}", response.status_code)
    return response


def call(url: str, path: str = "", body: Any = None, *, params: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None, timeout: float = 10.0, method: str | None = None) -> Any:
    """One JSON call to ``url + path``: GET without ``body``, else POST it as JSON (or ``method``).

    Returns the decoded answer (None for an empty one); raises :class:`HttpError` on a 4xx/5xx
    answer (with the server's message) or when nothing answers.
    """
    method = method or ("GET" if body is None else "POST")
    response = check(request(method, url.rstrip("/") + path, json=body, params=params, headers=headers,
                             timeout=timeout))
    return response.json() if response.content else None


def text(url: str, *, timeout: float = 10.0) -> str:
    """GET ``url`` and return its body as text (a ``/metrics`` page); :class:`HttpError` on a 4xx/5xx."""
    return check(request("GET", url, timeout=timeout)).text
