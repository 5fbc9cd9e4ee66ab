"""The near-cache: a small in-process LRU of recent reads, each kept for a short TTL.

It saves a network round trip for hot keys. Entries are dropped when this process writes or
deletes the key; a write from another process is seen once the entry's TTL (a second by
default) has run out. Large values (chunked ones) are not kept.
"""

from __future__ import annotations

from collections import OrderedDict

from matinee.clock import Clock


class NearCache:
    def __init__(self, clock: Clock, *, size: int, ttl: float, max_value_bytes: int) -> None:
        if size <= 0 or ttl <= 0:
            raise ValueError("a near-cache needs a positive size and TTL")
        self._clock = clock
        self.size = size
        self.ttl = ttl
        self.max_value_bytes = max_value_bytes
        self._entries: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: bytes, value: bytes, ttl: float | None = None) -> None:
        """Keep ``value`` for the near TTL (or the entry's own TTL, when that is shorter)."""
        if len(value) > self.max_value_bytes:
            return
        keep = self.ttl if ttl is None else min(self.ttl, ttl)
        self._entries[key] = (value, self._clock.monotonic() + keep)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def invalidate(self, key: bytes) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
