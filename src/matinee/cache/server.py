"""The server-level interface: one cache server (one memcached process, or one in-process store).

The cache client spreads keys over servers with ketama and copies them across zones; a server
only stores bytes under bytes keys. Keys are at most 250 bytes of printable ASCII without
spaces (memcached's rule; the client makes them so). ``flags`` is memcached's 32-bit item flags
word, kept with the value (the client marks chunked values with it). ``ttl`` is seconds from now,
or None for no expiry. Every method raises :class:`~matinee.cache.errors.CacheUnavailable` when
the server cannot answer, and a write raises :class:`~matinee.cache.errors.ValueTooLarge` for an
item over ``MAX_ITEM_BYTES``; no other error leaves a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

Item = tuple[bytes, int]
"""A stored value and its flags."""

MAX_KEY_BYTES = 250  # memcached's key limit
MAX_ITEM_BYTES = 1024 * 1024  # memcached's default item size limit (-I 1m), key and header included
MAX_TTL_RELATIVE = 30 * 24 * 3600  # memcached reads larger expiry times as absolute Unix times


@runtime_checkable
class CacheServer(Protocol):
    """Implemented by :class:`MemoryServer` (in-process) and :class:`MemcachedServer`."""

    @property
    def address(self) -> str:
        """The server's name on the ketama ring, ``host:port`` for memcached."""
        ...

    async def get(self, key: bytes) -> Item | None:
        """The item under ``key``, or None when absent or expired."""
        ...

    async def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Item]:
        """The items present among ``keys`` (absent keys are left out)."""
        ...

    async def set(self, key: bytes, value: bytes, flags: int, ttl: float | None) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        ...

    async def add(self, key: bytes, value: bytes, flags: int, ttl: float | None) -> bool:
        """Store only if ``key`` is absent; True if stored."""
        ...

    async def delete(self, key: bytes) -> bool:
        """Remove ``key``; True if it was there."""
        ...

    async def touch(self, key: bytes, ttl: float | None) -> Item | None:
        """Give an existing item a new TTL and return it (memcached's ``gat``); None if absent."""
        ...

    async def flush(self) -> None:
        """Forget every item on this server (every cache name; for tests and operators)."""
        ...

    async def close(self) -> None:
        """Release connections; the server object is not used afterwards."""
        ...
