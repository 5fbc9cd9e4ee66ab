"""The in-process server: TTLs on the injected clock, a byte budget, LRU eviction."""

from __future__ import annotations

import asyncio

import pytest

from matinee.cache import MemoryServer, ValueTooLarge
from matinee.cache.memory import ITEM_OVERHEAD
from matinee.cache.server import MAX_ITEM_BYTES
from matinee.clock import FakeClock


def test_ttl_expires_on_the_injected_clock() -> None:
    async def main() -> None:
        clock = FakeClock()
        server = MemoryServer(clock)
        await server.set(b"k", b"v", 7, 10.0)
        await server.set(b"forever", b"v", 0, None)
        clock.advance(9.9)
        assert await server.get(b"k") == (b"v", 7)
        clock.advance(0.1)
        assert await server.get(b"k") is None
        clock.advance(10**9)
        assert await server.get(b"forever") == (b"v", 0)
        assert len(server) == 1

    asyncio.run(main())


def test_add_touch_delete() -> None:
    async def main() -> None:
        clock = FakeClock()
        server = MemoryServer(clock)
        assert await server.add(b"k", b"1", 0, 5.0)
        assert not await server.add(b"k", b"2", 0, 5.0)
        assert await server.touch(b"k", 60.0) == (b"1", 0)
        clock.advance(30)
        assert await server.get(b"k") == (b"1", 0)
        assert await server.delete(b"k")
        assert not await server.delete(b"k")
        assert await server.touch(b"k", 1.0) is None
        # an expired key can be added again
        await server.set(b"e", b"old", 0, 1.0)
        clock.advance(2)
        assert await server.add(b"e", b"new", 0, None)
        assert await server.get(b"e") == (b"new", 0)

    asyncio.run(main())


def test_evicts_least_recently_used_when_over_capacity() -> None:
    async def main() -> None:
        value = b"x" * 1000
        size = 2 + len(value) + ITEM_OVERHEAD
        server = MemoryServer(FakeClock(), capacity_bytes=3 * size)
        for key in (b"k1", b"k2", b"k3"):
            await server.set(key, value, 0, None)
        assert await server.get(b"k1") is not None  # k1 is now the most recent
        await server.set(b"k4", value, 0, None)
        assert await server.get(b"k2") is None  # the least recently used went
        assert {k for k in (b"k1", b"k3", b"k4") if await server.get(k)} == {b"k1", b"k3", b"k4"}
        assert server.evictions == 1
        assert server.used_bytes == 3 * size

    asyncio.run(main())


def test_expired_items_go_before_live_ones_are_evicted() -> None:
    async def main() -> None:
        clock = FakeClock()
        value = b"x" * 1000
        size = 2 + len(value) + ITEM_OVERHEAD
        server = MemoryServer(clock, capacity_bytes=2 * size)
        await server.set(b"k1", value, 0, None)
        await server.set(b"k2", value, 0, 1.0)
        clock.advance(2)
        await server.set(b"k3", value, 0, None)
        assert await server.get(b"k1") is not None
        assert server.evictions == 0

    asyncio.run(main())


def test_replacing_a_value_keeps_the_byte_count_right() -> None:
    async def main() -> None:
        server = MemoryServer(FakeClock())
        await server.set(b"k", b"x" * 100, 0, None)
        await server.set(b"k", b"x" * 10, 0, None)
        assert server.used_bytes == 1 + 10 + ITEM_OVERHEAD
        await server.flush()
        assert server.used_bytes == 0
        assert len(server) == 0

    asyncio.run(main())


def test_refuses_an_item_over_the_memcached_item_limit() -> None:
    async def main() -> None:
        server = MemoryServer(FakeClock())
        with pytest.raises(ValueTooLarge):
            await server.set(b"k", b"x" * MAX_ITEM_BYTES, 0, None)

    asyncio.run(main())
