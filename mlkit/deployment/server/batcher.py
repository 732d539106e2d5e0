"""Server-side micro-batching: single items that arrive within a short window share one model call.

A request with one item to score waits up to ``window_ms`` for others (or until ``max_items``
are waiting), then all are scored together by ``score`` (a coroutine function: the server runs
the model call in a worker thread) and each request gets its own result. It pays when model
calls have a fixed cost (always on a GPU); lesson 04 measures it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any


class MicroBatcher:
    """Collects items for ``score`` (a batch in, one result per item out) on the running event loop."""

    def __init__(self, score: Callable[[Sequence[Any]], Awaitable[Sequence[Any]]], max_items: int = 32) -> None:
        self.score = score
        self.max_items = max_items
        self.window_ms = 0.0
        self.pending: list[tuple[Any, asyncio.Future]] = []
        self.handle: asyncio.TimerHandle | None = None
        self.running: set[asyncio.Task] = set()

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
        """Start scoring everything waiting now (on the running loop; results reach the futures)."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        batch, self.pending = self.pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._score(batch))
            self.running.add(task)  # keep a reference until done
            task.add_done_callback(self.running.discard)

    async def _score(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        try:
            results = await self.score([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (_, fut), result in zip(batch, results):
            if not fut.done():
                fut.set_result(result)
