"""What the model server answers to bad requests: 413 for a body over the limit (an ASGI
middleware, before anything is parsed), and 400/422 with one readable sentence per problem
for a body FastAPI cannot validate. Bad input never gets a 500."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from mlkit.deployment.server.state import Server


class BodyLimit:
    """Pure ASGI middleware: 413 for a POST body larger than ``MLKIT_MAX_BODY`` (declared or streamed)."""

    def __init__(self, app: Any, server: Server) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        limit = self.server.settings.max_body
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                if int(length) <= 16 * limit:  # read it first: a client still sending would see a broken pipe
                    more = True
                    while more:
                        msg = await receive()
                        more = msg.get("more_body", False) and msg.get("type") == "http.request"
                return await self.too_large(scope, send, int(length))
            if length is None:  # chunked: read it all, then replay it
                body, more = b"", True
                while more:
                    msg = await receive()
                    body += msg.get("body", b"")
                    more = msg.get("more_body", False)
                    if len(body) > limit:
                        return await self.too_large(scope, send, len(body))
                done = False

                async def replay() -> dict:
                    nonlocal done
                    if done:
                        return await receive()
                    done = True
                    return {"type": "http.request", "body": body, "more_body": False}

                return await self.app(scope, replay, send)
        await self.app(scope, receive, send)

    async def too_large(self, scope: dict, send: Any, size: int) -> None:
        server = self.server
        server.metrics.request(server.version, "invalid")
        response = JSONResponse({"detail": f"Request body of {size:,} bytes is over the limit of "
                                 f"{server.settings.max_body:,} bytes: {server.kind.size_hint(server.settings)}."},
                                413)
        await response(scope, None, send)


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) if parts else "the request body"


def validation_handler(server: Server) -> Any:
    """The handler of FastAPI's RequestValidationError: 400 (not JSON, no body) or 422 (wrong fields),
    with one sentence per problem in ``message`` (plus FastAPI's usual ``detail`` list)."""
    example = json.dumps(server.kind.example)

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if request.url.path.startswith("/predict"):
            server.metrics.request(server.version, "invalid")
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
        detail = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in errors]
        malformed = all(e.get("type") == "json_invalid"
                        or tuple(e.get("loc", ())) == ("body",) and e.get("type") == "missing"
                        for e in errors)  # not JSON at all, or no body: 400; else 422
        return JSONResponse({"message": "; ".join(problems), "detail": detail}, status_code=400 if malformed else 422)

    return invalid
