"""What the model server answers when it refuses a request, in one shape for every status.

Every refusal is an :class:`ErrorBody`: ``message``, one sentence saying what was wrong and
what to send instead, and ``detail`` (the problems one by one, or the same sentence). The
OpenAPI document lists each status an endpoint can return with this body (:data:`PREDICT`).

* :class:`Guard`, a pure ASGI middleware in front of everything: 415 for a POST whose
  ``Content-Type`` is not JSON, 413 for a body over the server's limit (declared or streamed,
  before anything is parsed), and the count of every prediction request by its final status
  in ``mlkit_requests_total`` (2xx ``ok``, 4xx ``invalid``, 5xx ``error``: nothing escapes it);
* :func:`validation_handler`: 400 (not JSON, no body) or 422 (wrong fields), one sentence per problem;
* :func:`http_handler`: the other refusals (400 for a body that cannot be parsed, 404, 405)
  in the same shape, and :func:`crash_handler`: a 500 without a traceback.

Bad input never gets a 500.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

Server = Any  # mlkit.deployment.server.state.Server, which imports this module (so not imported here)
JSON_TYPES = ("application/json",)  # what POST bodies must be (a charset, if any, must be utf-8)


class Problem(BaseModel):
    """One problem with a request: its kind, where it is, and what is wrong."""

    type: str
    loc: list[str | int]
    msg: str


class ErrorBody(BaseModel):
    """Every 4xx and 5xx of the server."""

    message: str = Field(description="what was wrong, and what to send instead")
    detail: list[Problem] | str = Field(description="the problems one by one, or the message again")
    request_id: str | None = Field(default=None, description="the request's id, when it reached the model")


def response(status: int, message: str, *, detail: Any = None, request_id: str | None = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    """An :class:`ErrorBody` response."""
    body: dict[str, Any] = {"message": message, "detail": message if detail is None else detail}
    if request_id is not None:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, headers=headers)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route: these statuses, each with an :class:`ErrorBody`."""
    return {status: {"model": ErrorBody, "description": DESCRIPTIONS[status]} for status in statuses}


DESCRIPTIONS = {
    400: "The body is not JSON, is empty, or cannot be parsed (invalid UTF-8, nesting too deep, a number too long)",
    401: "The admin token is missing or wrong",
    413: "The body is larger than the largest request the schema allows",
    415: "The body is not sent as application/json",
    422: "The JSON does not match the request schema",
    500: "The server failed (an injected fault, or a bug: never because of the input)",
    503: "The model is not loaded yet",
}
PREDICT = documented(400, 413, 415, 422, 500, 503)  # what /predict and /predict/batch can answer


class Guard:
    """Pure ASGI middleware: content type and body size of every POST, and the request count of
    every prediction request (by the status it was finally answered with)."""

    def __init__(self, app: Any, server: Server) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        server = self.server
        counted = scope["path"].startswith("/predict")
        status = 500  # when the app fails before it answers

        async def send_counted(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if scope["method"] == "POST":
                refusal = await self.check(scope, receive)
                if isinstance(refusal, JSONResponse):
                    return await refusal(scope, receive, send_counted)
                receive = refusal
            await self.app(scope, receive, send_counted)
        finally:
            if counted:
                outcome = "ok" if status < 400 else "invalid" if status < 500 else "error"
                server.metrics.request(server.version, outcome)
            elif 400 <= status < 500:
                server.metrics.refused(scope["path"], status)

    async def check(self, scope: dict, receive: Any) -> Any:
        """A 413 or 415 response, or a ``receive`` that replays the body (read whole, within the limit)."""
        server = self.server
        headers = dict(scope["headers"])
        kind = headers.get(b"content-type", b"").decode("latin-1")
        media, _, params = kind.partition(";")
        charset = params.strip().lower().removeprefix("charset=").strip('"') if "charset=" in params.lower() else "utf-8"
        if media.strip().lower() not in JSON_TYPES or charset not in ("utf-8", "utf8"):
            sent = f"sent as {kind[:100]!r}" if kind else "sent without a Content-Type"
            return response(415, f"the body was {sent}: send JSON in UTF-8 with the header "
                                 f"'Content-Type: application/json', e.g. {json.dumps(server.kind.example)}")
        limit = server.max_body
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            if int(length) <= 16 * limit:  # read it first: a client still sending would see a broken pipe
                more = True
                while more:
                    msg = await receive()
                    more = msg.get("more_body", False) and msg.get("type") == "http.request"
            return self.too_large(int(length))
        chunks, size, more = [], 0, True
        while more:
            msg = await receive()
            if msg.get("type") != "http.request":
                return receive  # the client left; the app sees the disconnect
            chunks.append(msg.get("body", b""))
            size += len(chunks[-1])
            more = msg.get("more_body", False)
            if size > limit:
                return self.too_large(size, streamed=True)
        body = b"".join(chunks)
        scope["mlkit.body"] = body  # for the 400 handler's diagnosis
        done = False

        async def replay() -> dict:
            nonlocal done
            if done:
                return await receive()
            done = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    def too_large(self, size: int, streamed: bool = False) -> JSONResponse:
        server = self.server
        what = f"more than {server.max_body:,}" if streamed else f"{size:,}"
        return response(413, f"the body of {what} bytes is over the limit of {server.max_body:,} bytes, the most "
                             f"that the largest valid request can take: {server.kind.size_hint(server.settings)}")


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) if parts else "the request body"


def validation_handler(server: Server) -> Any:
    """The handler of FastAPI's RequestValidationError: 400 (not JSON, no body) or 422 (wrong fields),
    with one sentence per problem in ``message`` (and the problems in ``detail``)."""
    example = json.dumps(server.kind.example)

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        problems = []
        for e in errors:
            if e.get("type") == "json_invalid":
                problems.append(f"the body is not valid JSON ({e.get('ctx', {}).get('error', 'parse error')}); "
                                f"send e.g. {example}")
            elif e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",):
                problems.append(f"the body is empty: send a JSON object, e.g. {example}")
            elif e.get("type") == "finite_number":
                problems.append(f"{_where(e['loc'])}: NaN and infinity are not allowed; send a number between 0 and 1")
            else:
                problems.append(f"{_where(e['loc'])}: {e.get('msg')}")
        detail = [{"type": str(e.get("type")), "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
                   "msg": str(e.get("msg"))} for e in errors]
        malformed = all(e.get("type") == "json_invalid"
                        or tuple(e.get("loc", ())) == ("body",) and e.get("type") == "missing"
                        for e in errors)  # not JSON at all, or no body: 400; else 422
        return response(400 if malformed else 422, "; ".join(problems), detail=detail)

    return invalid


def _unparsable(body: bytes | None) -> str:
    """Why a body that FastAPI could not parse failed, in words."""
    if body is None:
        return "the body could not be parsed"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not valid UTF-8 (byte {exc.start})"
    try:
        json.loads(text)
    except RecursionError:
        return "the body's JSON is nested too deeply"
    except ValueError as exc:
        return f"the body's JSON cannot be read ({str(exc)[:120]})"
    return "the body could not be parsed"


def http_handler(server: Server) -> Any:
    """Starlette's HTTPExceptions (a body that cannot be parsed, no such route, a method not allowed)
    as an :class:`ErrorBody`."""
    example = json.dumps(server.kind.example)

    async def refused(request: Request, exc: HTTPException) -> JSONResponse:
        status = exc.status_code
        if status == 400:
            message = f"{_unparsable(request.scope.get('mlkit.body'))}: send a JSON object in UTF-8, e.g. {example}"
        elif status == 404:
            message = (f"no endpoint {request.url.path[:100]!r}: the endpoints are POST /predict, POST /predict/batch, "
                       "GET /health/live, GET /health/ready, GET /metadata and GET /metrics (GET /docs shows them)")
        elif status == 405:
            allow = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("allow", "")
            allowed = ", ".join(sorted(m.strip() for m in allow.split(",") if m.strip())) or "another method"
            message = f"{request.method} is not allowed on {request.url.path[:100]}: use {allowed}"
        else:
            message = str(exc.detail)
        return response(status, message, headers=exc.headers)

    return refused


async def crash_handler(request: Request, exc: Exception) -> JSONResponse:
    """A bug: 500 with a sentence, never a traceback (the traceback goes to the server's log)."""
    return response(500, f"the server failed on this request ({type(exc).__name__}); this is a bug in the "
                         "server, not in your request: report it with the request")
