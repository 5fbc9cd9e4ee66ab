"""The cache client: keys, values, views by name, and single-flight look-aside loads."""

from __future__ import annotations

import asyncio

import pytest

from matinee.cache import InvalidCacheKey, ValueTooLarge, open_cache
from matinee.cache.client import MAX_VALUE_BYTES, MAX_WIRE_KEY
from matinee.clock import FakeClock
from matinee.telemetry.metrics import Registry

from .fakes import Rig


def test_keys_are_namespaced_by_cache_name() -> None:
    async def main() -> None:
        cache = open_cache("memory://", name="homepage", clock=FakeClock())
        assert cache.wire_key("p:1") == b"homepage:p:1"
        other = cache.named("catalog")
        await cache.set("k", b"home", ttl=None)
        await other.set("k", b"cat", ttl=None)
        assert await cache.get("k") == b"home"
        assert await other.get("k") == b"cat"
        await other.close()  # a view's close leaves the cluster open
        assert await cache.get("k") == b"home"
        await cache.close()

    asyncio.run(main())


def test_long_keys_are_hashed_and_bad_keys_refused() -> None:
    cache = open_cache("memory://", name="t", clock=FakeClock())
    long_key = "x" * 300
    wire = cache.wire_key(long_key)
    assert len(wire) <= MAX_WIRE_KEY
    assert wire.startswith(b"t:#")
    assert wire != cache.wire_key("y" * 300)
    assert cache.wire_key("ünïcode") == "t:ünïcode".encode()
    for bad in ("", "with space", "tab\t", "new\nline", "del\x7f"):
        with pytest.raises(InvalidCacheKey):
            cache.wire_key(bad)
    with pytest.raises(ValueError, match="cache name"):
        cache.named("bad:name")


def test_values_are_bytes_within_the_limit_and_ttls_positive() -> None:
    async def main() -> None:
        cache = open_cache("memory://", name="t", clock=FakeClock())
        with pytest.raises(TypeError):
            await cache.set("k", "text", ttl=1)  # type: ignore[arg-type]
        with pytest.raises(ValueTooLarge):
            await cache.set("k", b"x" * (MAX_VALUE_BYTES + 1), ttl=1)
        for ttl in (0, -1, float("inf"), float("nan")):
            with pytest.raises(ValueError, match="TTL"):
                await cache.set("k", b"v", ttl=ttl)

    asyncio.run(main())


def test_ttl_runs_on_the_injected_clock() -> None:
    async def main() -> None:
        clock = FakeClock()
        cache = open_cache("memory://?zones=a,b", name="t", clock=clock)
        await cache.set("session", b"s", ttl=5)
        await cache.set("precomputed", b"p", ttl=None)
        clock.advance(4.9)
        assert await cache.get("session") == b"s"
        clock.advance(0.2)
        assert await cache.get("session") is None
        clock.advance(365 * 24 * 3600)
        assert await cache.get("precomputed") == b"p"

    asyncio.run(main())


def test_one_load_per_key_at_a_time() -> None:
    async def main() -> None:
        rig = Rig(("zone-a", "zone-b"))
        calls = 0
        release = asyncio.Event()

        async def load() -> bytes:
            nonlocal calls
            calls += 1
            await release.wait()
            return b"page"

        callers = [
            asyncio.get_running_loop().create_task(rig.cache.get_or_load("home", load, ttl=60))
            for _ in range(20)
        ]
        for _ in range(10):
            await asyncio.sleep(0)
        release.set()
        assert await asyncio.gather(*callers) == [b"page"] * 20
        assert calls == 1
        assert rig.count("cache.loads", result="loaded") == 1
        assert rig.count("cache.loads", result="joined") == 19
        assert await rig.cache.get_or_load("home", load, ttl=60) == b"page"  # now cached
        assert calls == 1
        assert await rig.cache.get("home") == b"page"

    asyncio.run(main())


def test_a_failed_load_reaches_every_waiter_and_nothing_is_cached() -> None:
    async def main() -> None:
        rig = Rig(("zone-a",))
        release = asyncio.Event()

        async def load() -> bytes:
            await release.wait()
            raise RuntimeError("catalog is down")

        callers = [
            asyncio.get_running_loop().create_task(rig.cache.get_or_load("k", load, ttl=60))
            for _ in range(3)
        ]
        for _ in range(10):
            await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(*callers, return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        assert await rig.cache.get("k") is None

        async def good() -> bytes:
            return b"ok"

        assert await rig.cache.get_or_load("k", good, ttl=60) == b"ok"

    asyncio.run(main())


def test_when_the_loading_caller_is_cancelled_a_waiter_loads() -> None:
    async def main() -> None:
        rig = Rig(("zone-a",))
        calls = 0
        never = asyncio.Event()

        async def stuck() -> bytes:
            nonlocal calls
            calls += 1
            await never.wait()
            return b"never"

        async def quick() -> bytes:
            nonlocal calls
            calls += 1
            return b"quick"

        loop = asyncio.get_running_loop()
        leader = loop.create_task(rig.cache.get_or_load("k", stuck, ttl=60))
        for _ in range(5):
            await asyncio.sleep(0)
        waiter = loop.create_task(rig.cache.get_or_load("k", quick, ttl=60))
        for _ in range(5):
            await asyncio.sleep(0)
        leader.cancel()
        assert await waiter == b"quick"
        assert calls == 2
        with pytest.raises(asyncio.CancelledError):
            await leader

    asyncio.run(main())


def test_meters_carry_cache_and_zone_tags() -> None:
    async def main() -> None:
        registry = Registry(FakeClock())
        cache = open_cache(
            "memory://?zones=zone-a,zone-b", name="home", zone="zone-b", metrics=registry
        )
        await cache.get("absent")
        ids = {
            (m.id.name, m.id.tag_dict.get("zone"), m.id.tag_dict.get("result"))
            for m in registry.meters()
            if m.id.tag_dict.get("cache") == "home"
        }
        assert ("cache.get", "zone-b", "miss") in ids
        assert ("cache.get", "zone-a", "miss") in ids
        assert ("cache.fallbacks", "zone-b", None) in ids
        assert ("cache.lookups", None, "miss") in ids

    asyncio.run(main())
