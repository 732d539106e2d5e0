"""A small paginated HTTP JSON API of SMS messages, served on 127.0.0.1 (lesson 01).

It stands in for a real upstream system: the lesson starts it with
:class:`mlkit.course.processes.BackgroundServer` and pulls every page with
:func:`mlkit.data.ingest.fetch_api`. Like real services it can be flaky on purpose:

- ``MLKIT_API_STORE``: the JSON-lines file it serves (read again when it changes).
- ``MLKIT_API_FAIL_EVERY=N``: every N-th request to ``/messages`` answers 503.
- ``MLKIT_API_SLOW_EVERY=N`` and ``MLKIT_API_SLOW_S=S``: every N-th request waits S seconds.

Run: ``python -m uvicorn mlkit.data.source_api:app --host 127.0.0.1 --port 8000``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse

app = FastAPI(title="mlkit messages API", version="1")
_requests = itertools.count(1)
_cache: dict[str, object] = {"key": None, "rows": []}


def _env_int(name: str) -> int:
    try:
        return max(0, int(os.environ.get(name, "0")))
    except ValueError:
        return 0


def _rows() -> list[dict]:
    store = os.environ.get("MLKIT_API_STORE", "")
    path = Path(store)
    if not store or not path.exists():
        raise HTTPException(status_code=500, detail=f"store {store!r} not found; set MLKIT_API_STORE")
    stat = path.stat()
    key = (store, stat.st_mtime_ns, stat.st_size)
    if _cache["key"] != key:
        with open(path, encoding="utf-8") as fh:
            _cache["rows"] = [json.loads(line) for line in fh if line.strip()]
        _cache["key"] = key
    return _cache["rows"]  # type: ignore[return-value]


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@app.get("/messages")
async def messages(page: int = Query(1, ge=1), page_size: int = Query(500, ge=1, le=1000)):
    n = next(_requests)
    slow_every, fail_every = _env_int("MLKIT_API_SLOW_EVERY"), _env_int("MLKIT_API_FAIL_EVERY")
    if slow_every and n % slow_every == 0:
        await asyncio.sleep(float(os.environ.get("MLKIT_API_SLOW_S", "2")))
    if fail_every and n % fail_every == 0:
        return JSONResponse({"detail": "temporarily unavailable, try again"}, status_code=503)
    rows = _rows()
    start = (page - 1) * page_size
    items = rows[start : start + page_size]
    has_next = start + page_size < len(rows)
    return {"items": items, "page": page, "page_size": page_size, "total": len(rows),
            "next_page": page + 1 if has_next else None}
