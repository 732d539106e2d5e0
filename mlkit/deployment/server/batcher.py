"""Server-side micro-batching: single items that arrive within a short window share one model call.

A request with one item to score waits up to ``window_ms`` for others (or until ``max_items``
are waiting), then all are scored together by ``score`` and each request gets its own result.
It pays when model calls have a fixed cost (always on a GPU); lesson 04 measures it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any


class MicroBatcher:
    """Collects items for ``score`` (a batch in, one result per item out) on the running event loop."""

    def __init__(self, score: Callable[[Sequence[Any]], Sequence[Any]], max_items: int = 32) -> None:
        self.score = score
        self.max_items = max_items
        self.window_ms = 0.0
        self.pending: list[tuple[Any, asyncio.Future]] = []
        self.handle: asyncio.TimerHandle | None = None

    def submit(self, item: Any) -> asyncio.Future:
        """A future of ``item``'s result, scored with whatever else arrives within the window."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.pending.append((item, fut))
        if len(self.pending) >= self.max_items:
            self.flush()
        elif self.handle is None:
            self.handle = loop.call_later(self.window_ms / 1000, self.flush)
        return fut

    def flush(self) -> None:
        """Score everything waiting now (an error goes to every waiting request)."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            results = self.score([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (_, fut), result in zip(batch, results):
            if not fut.done():
                fut.set_result(result)
