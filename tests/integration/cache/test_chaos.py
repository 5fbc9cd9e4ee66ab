"""Chaos: a server of the caller's zone is killed (SIGKILL) while readers and writers run.

Every read still returns the value written before (the other zone serves what the dead server
held), writes keep succeeding, no caller sees an error, and the fallbacks are counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from matinee.cache import open_cache
from matinee.clock import SystemClock
from matinee.telemetry.metrics import Counter, Registry
from matinee.testing.servers.memcached import MemcachedZones

KEYS = 400
READERS = 8


@pytest.fixture
def doomed_zones() -> Iterator[MemcachedZones]:
    """Servers of this test's own (the session's servers must survive)."""
    with MemcachedZones({"zone-a": 2, "zone-b": 2}) as zones:
        yield zones


def test_killing_a_server_loses_no_read(doomed_zones: MemcachedZones) -> None:
    registry = Registry()

    async def main() -> None:
        url = doomed_zones.url(latch="one", timeout="0.5", retry="0.2")
        cache = open_cache(url, name="chaos", zone="zone-a", clock=SystemClock(), metrics=registry)
        expected = {f"title:{i}": b"v%d" % i for i in range(KEYS)}
        for key, value in expected.items():
            assert await cache.set(key, value, ttl=300)
        await cache.drain()  # both zones hold everything before the chaos starts
        killed = asyncio.Event()
        stop = asyncio.Event()
        reads = 0
        written: dict[str, bytes] = {}

        async def reader(offset: int) -> None:
            nonlocal reads
            i = offset
            while not stop.is_set():
                key = f"title:{i % KEYS}"
                assert await cache.get(key) == expected[key], key
                reads += 1
                i += READERS
                await asyncio.sleep(0)

        async def writer() -> None:
            i = 0
            while not stop.is_set():
                key = f"new:{i}"
                assert await cache.set(key, b"n%d" % i, ttl=300) is True
                written[key] = b"n%d" % i
                i += 1
                await asyncio.sleep(0.005)

        async def chaos() -> None:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(doomed_zones.kill, "zone-a", 0)
            killed.set()
            await asyncio.sleep(1.5)  # several retry intervals of the dead server
            stop.set()

        await asyncio.gather(*(reader(n) for n in range(READERS)), writer(), chaos())
        assert killed.is_set()
        assert reads > KEYS
        assert await cache.get_many(list(expected)) == expected
        for key, value in written.items():
            assert await cache.get(key) == value
        await cache.close()

    asyncio.run(main())
    fallbacks = sum(
        m.value
        for m in registry.meters()
        if isinstance(m, Counter)
        and m.id.name == "cache.fallbacks"
        and m.id.tag_dict == {"cache": "chaos", "zone": "zone-a", "reason": "error"}
    )
    assert fallbacks > 0
