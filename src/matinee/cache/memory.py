"""The embedded cache server: an in-process store with TTLs, a byte budget and LRU eviction.

It behaves as one memcached server would: items expire on the injected clock, and once the items
take more than ``capacity_bytes`` the least recently used ones are evicted (a read or a write
makes an item the most recent). Expired items are dropped when touched or when eviction runs.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

from matinee.cache.errors import ValueTooLarge
from matinee.cache.server import MAX_ITEM_BYTES, Item
from matinee.clock import Clock

ITEM_OVERHEAD = 56  # bytes counted per item beside key and value, as memcached's item header
DEFAULT_CAPACITY = 64 * 1024 * 1024  # memcached's default -m 64


class _Entry:
    __slots__ = ("expires", "flags", "value")

    def __init__(self, value: bytes, flags: int, expires: float) -> None:
        self.value = value
        self.flags = flags
        self.expires = expires  # monotonic seconds; math.inf when it never expires


class MemoryServer:
    """One in-process cache server (the embedded default)."""

    def __init__(
        self, clock: Clock, *, name: str = "memory", capacity_bytes: int = DEFAULT_CAPACITY
    ) -> None:
        if capacity_bytes <= 0:
            raise ValueError("a memory cache server needs a positive capacity")
        self._clock = clock
        self._name = name
        self.capacity_bytes = capacity_bytes
        self._items: OrderedDict[bytes, _Entry] = OrderedDict()
        self._bytes = 0
        self.evictions = 0

    @property
    def address(self) -> str:
        return self._name

    @property
    def used_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def _expiry(self, ttl: float | None) -> float:
        return math.inf if ttl is None else self._clock.monotonic() + ttl

    def _live(self, key: bytes) -> _Entry | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        if entry.expires <= self._clock.monotonic():
            self._drop(key, entry)
            return None
        self._items.move_to_end(key)
        return entry

    def _drop(self, key: bytes, entry: _Entry) -> None:
        del self._items[key]
        self._bytes -= len(key) + len(entry.value) + ITEM_OVERHEAD

    def _store(self, key: bytes, value: bytes, flags: int, ttl: float | None) -> None:
        size = len(key) + len(value) + ITEM_OVERHEAD
        if size > MAX_ITEM_BYTES:
            raise ValueTooLarge(f"an item of {size} bytes is over the {MAX_ITEM_BYTES} byte limit")
        old = self._items.get(key)
        if old is not None:
            self._drop(key, old)
        self._items[key] = _Entry(value, flags, self._expiry(ttl))
        self._bytes += size
        self._evict()

    def _evict(self) -> None:
        if self._bytes <= self.capacity_bytes:
            return
        now = self._clock.monotonic()
        for key in [k for k, e in self._items.items() if e.expires <= now]:
            self._drop(key, self._items[key])
        while self._bytes > self.capacity_bytes and self._items:
            key, entry = next(iter(self._items.items()))
            self._drop(key, entry)
            self.evictions += 1

    async def get(self, key: bytes) -> Item | None:
        entry = self._live(key)
        return None if entry is None else (entry.value, entry.flags)

    async def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Item]:
        found: dict[bytes, Item] = {}
        for key in keys:
            entry = self._live(key)
            if entry is not None:
                found[key] = (entry.value, entry.flags)
        return found

    async def set(self, key: bytes, value: bytes, flags: int, ttl: float | None) -> None:
        self._store(key, value, flags, ttl)

    async def add(self, key: bytes, value: bytes, flags: int, ttl: float | None) -> bool:
        if self._live(key) is not None:
            return False
        self._store(key, value, flags, ttl)
        return True

    async def delete(self, key: bytes) -> bool:
        entry = self._live(key)
        if entry is None:
            return False
        self._drop(key, entry)
        return True

    async def touch(self, key: bytes, ttl: float | None) -> Item | None:
        entry = self._live(key)
        if entry is None:
            return None
        entry.expires = self._expiry(ttl)
        return (entry.value, entry.flags)

    async def flush(self) -> None:
        self._items.clear()
        self._bytes = 0

    async def close(self) -> None:
        """Nothing to release; the items stay until the object is dropped."""
