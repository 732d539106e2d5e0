"""The model server's prediction cache: the latest scores of repeated inputs (an LRU, cachetools).

Size 0 turns it off; the size is bounded by :data:`~mlkit.deployment.server.settings.MAX_CACHE`.
A new size starts an empty cache, and a smaller one (or a cleared cache) hands the freed memory
back to the operating system (a garbage collection, then glibc's ``malloc_trim`` where there is one).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable
from typing import Any


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None (another C library, another system)."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_memory() -> None:
    """Collect garbage, then return free heap pages to the operating system (Linux/glibc)."""
    import gc

    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class PredictionCache:
    """Scored items by the adapter's cache key, least recently used dropped first."""

    def __init__(self, size: int = 0) -> None:
        self.size = -1
        self.lru: Any = None
        self.resize(size)

    def resize(self, size: int) -> None:
        """Hold at most ``size`` entries (0: off); a changed size empties the cache."""
        from cachetools import LRUCache

        if size != self.size:
            held = len(self)
            self.size = size
            self.lru = LRUCache(maxsize=size) if size else None
            if held:
                release_memory()

    def clear(self) -> None:
        if self.lru is not None and len(self.lru):
            self.lru.clear()
            release_memory()

    def get(self, key: Hashable) -> Any:
        """The cached value, or None (also when the cache is off)."""
        return None if self.lru is None else self.lru.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        if self.lru is not None:
            self.lru[key] = value

    def __len__(self) -> int:
        return 0 if self.lru is None else len(self.lru)
