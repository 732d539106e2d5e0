"""The model server's prediction cache: the latest scores of repeated inputs (an LRU, cachetools).

Size 0 turns it off. A new size starts an empty cache, so memory returns when it shrinks.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any


class PredictionCache:
    """Scored items by the adapter's cache key, least recently used dropped first."""

    def __init__(self, size: int = 0) -> None:
        self.size = -1
        self.resize(size)

    def resize(self, size: int) -> None:
        """Hold at most ``size`` entries (0: off); a changed size empties the cache."""
        from cachetools import LRUCache

        if size != self.size:
            self.size = size
            self.lru: LRUCache | None = LRUCache(maxsize=size) if size else None

    def clear(self) -> None:
        if self.lru is not None:
            self.lru.clear()

    def get(self, key: Hashable) -> Any:
        """The cached value, or None (also when the cache is off)."""
        return None if self.lru is None else self.lru.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        if self.lru is not None:
            self.lru[key] = value

    def __len__(self) -> int:
        return 0 if self.lru is None else len(self.lru)
