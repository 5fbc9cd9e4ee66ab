"""The near-cache: recent reads kept in the process for a short TTL, dropped on local writes."""

from __future__ import annotations

import asyncio

from matinee.cache.near import NearCache
from matinee.clock import FakeClock

from .fakes import Rig


def test_lru_with_ttl() -> None:
    clock = FakeClock()
    near = NearCache(clock, size=2, ttl=1.0, max_value_bytes=10)
    near.put(b"a", b"1")
    near.put(b"b", b"2")
    assert near.get(b"a") == b"1"
    near.put(b"c", b"3")  # b was the least recently used
    assert near.get(b"b") is None
    assert near.get(b"a") == b"1"
    clock.advance(1.0)
    assert near.get(b"a") is None
    near.put(b"big", b"x" * 11)
    assert near.get(b"big") is None
    near.put(b"short", b"s", ttl=0.1)
    clock.advance(0.2)
    assert near.get(b"short") is None


def test_reads_are_served_near_until_the_ttl_runs_out() -> None:
    async def main() -> None:
        rig = Rig(("zone-a",), near=True)
        await rig.cache.set("k", b"v1", ttl=60)
        assert await rig.cache.get("k") == b"v1"
        calls = rig.server("zone-a").calls
        assert await rig.cache.get("k") == b"v1"
        assert rig.server("zone-a").calls == calls  # no round trip
        # another process writes: this one sees it once the near entry expires
        await rig.server("zone-a").inner.set(b"t:k", b"v2", 0, 60.0)
        assert await rig.cache.get("k") == b"v1"
        rig.clock.advance(1.0)
        assert await rig.cache.get("k") == b"v2"
        assert rig.count("cache.near", result="hit") == 2
        assert rig.count("cache.lookups", result="hit") == 4

    asyncio.run(main())


def test_own_writes_drop_the_near_entry() -> None:
    async def main() -> None:
        rig = Rig(("zone-a",), near=True)
        await rig.cache.set("k", b"v1", ttl=60)
        assert await rig.cache.get("k") == b"v1"
        await rig.cache.set("k", b"v2", ttl=60)
        assert await rig.cache.get("k") == b"v2"
        assert await rig.cache.get_many(["k"]) == {"k": b"v2"}
        await rig.cache.delete("k")
        assert await rig.cache.get("k") is None
        assert await rig.cache.get_many(["k"]) == {}

    asyncio.run(main())
