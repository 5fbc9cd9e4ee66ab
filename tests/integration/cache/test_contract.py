"""The cache contract, run on in-process servers and on real memcached (two zones of two)."""

from __future__ import annotations

import asyncio
import os

from matinee.cache import Cache
from matinee.cache.chunks import CHUNK_SIZE
from matinee.telemetry.metrics import Timer

from .conftest import Backend

BIG = os.urandom(3 * CHUNK_SIZE + 777)


def count(backend: Backend, name: str, **tags: str) -> float:
    """Sum of the counters (or timer counts) called ``name`` whose tags include ``tags``."""
    total = 0.0
    for meter in backend.registry.meters():
        if meter.id.name == name and tags.items() <= meter.id.tag_dict.items():
            total += meter.count if isinstance(meter, Timer) else meter.value
    return total


def test_set_get_delete(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open() as cache:
            assert await cache.get("k") is None
            assert await cache.set("k", b"v1", ttl=60) is True
            assert await cache.get("k") == b"v1"
            assert await cache.set("k", b"v2", ttl=60) is True
            assert await cache.get("k") == b"v2"
            assert await cache.delete("k") is True
            assert await cache.get("k") is None
            assert await cache.delete("k") is True  # absent is fine

    asyncio.run(main())


def test_values_are_opaque_bytes(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open() as cache:
            tricky = b"\r\nEND\r\nVALUE x 0 1\r\n\x00\xff"
            for key, value in (("empty", b""), ("tricky", tricky), ("ünï", b"u")):
                await cache.set(key, value, ttl=60)
                assert await cache.get(key) == value

    asyncio.run(main())


def test_ttl_expiry_and_no_expiry(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open() as cache:
            await cache.set("session", b"s", ttl=2)
            await cache.set("precomputed", b"p", ttl=None)
            assert await cache.get("session") == b"s"
            await backend.advance(3.1)
            assert await cache.get("session") is None
            assert await cache.get("precomputed") == b"p"

    asyncio.run(main())


def test_add_takes_a_lease_once(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open() as cache:
            assert await cache.add("lease", b"me", ttl=60) is True
            assert await cache.add("lease", b"you", ttl=60) is False
            assert await cache.get("lease") == b"me"
            await cache.delete("lease")
            assert await cache.add("lease", b"you", ttl=60) is True
            assert await cache.get("lease") == b"you"

    asyncio.run(main())


def test_touch_extends_a_ttl(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open() as cache:
            assert await cache.touch("absent", ttl=10) is False
            await cache.set("lease", b"me", ttl=2)
            assert await cache.touch("lease", ttl=30) is True
            await backend.advance(3.1)
            assert await cache.get("lease") == b"me"

    asyncio.run(main())


def test_get_many(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open() as cache:
            for i in range(30):
                await cache.set(f"k{i}", b"v%d" % i, ttl=60)
            found = await cache.get_many([f"k{i}" for i in range(40)])
            assert found == {f"k{i}": b"v%d" % i for i in range(30)}
            assert await cache.get_many([]) == {}

    asyncio.run(main())


def test_chunked_values_round_trip(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open(latch="all") as cache:
            assert await cache.set("big", BIG, ttl=60) is True
            assert await cache.get("big") == BIG
            assert await cache.get_many(["big", "none"]) == {"big": BIG}
            assert await cache.touch("big", ttl=120) is True
            assert await cache.get("big") == BIG
            await cache.set("big", b"small now", ttl=60)
            assert await cache.get("big") == b"small now"

    asyncio.run(main())


def test_writes_reach_every_zone(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open(latch="all") as cache:
            await cache.set("k", b"v", ttl=60)
            await cache.set("big", BIG, ttl=60)
            assert await cache.per_zone("k") == {"zone-a": b"v", "zone-b": b"v"}
            assert await cache.per_zone("big") == {"zone-a": BIG, "zone-b": BIG}
            await cache.delete("k")
            assert await cache.per_zone("k") == {"zone-a": None, "zone-b": None}
        async with backend.open(latch="none") as cache:
            await cache.set("later", b"v", ttl=60)
            await cache.drain()
            assert await cache.per_zone("later") == {"zone-a": b"v", "zone-b": b"v"}

    asyncio.run(main())


def test_reads_start_in_the_callers_zone(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open(zone="zone-b", latch="all") as cache:
            assert cache.zones == ("zone-b", "zone-a")
            await cache.set("k", b"v", ttl=60)
            assert await cache.get("k") == b"v"
        assert count(backend, "cache.get", zone="zone-b", result="hit") == 1
        assert count(backend, "cache.get", zone="zone-a") == 0
        assert count(backend, "cache.fallbacks") == 0

    asyncio.run(main())


def test_one_load_per_key(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open() as cache:
            calls = 0

            async def load() -> bytes:
                nonlocal calls
                calls += 1
                await asyncio.sleep(0.05)
                return b"page"

            pages = await asyncio.gather(
                *(cache.get_or_load("home", load, ttl=60) for _ in range(20))
            )
            assert pages == [b"page"] * 20
            assert calls == 1
            assert await cache.get("home") == b"page"

    asyncio.run(main())


def test_names_are_separate_namespaces(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open() as cache:
            other: Cache = cache.named(backend.name + "x")
            await cache.set("k", b"mine", ttl=60)
            assert await other.get("k") is None
            await other.set("k", b"theirs", ttl=60)
            assert await cache.get("k") == b"mine"

    asyncio.run(main())


def test_many_calls_in_flight(backend: Backend) -> None:
    async def main() -> None:
        async with backend.open(latch="all") as cache:
            keys = [f"k{i}" for i in range(1000)]
            assert all(await asyncio.gather(*(cache.set(k, k.encode() * 3, ttl=60) for k in keys)))
            values = await asyncio.gather(*(cache.get(k) for k in keys))
            assert values == [k.encode() * 3 for k in keys]

    asyncio.run(main())


def test_server_level_contract(backend: Backend) -> None:
    async def main() -> None:
        server = backend.server()
        key = f"{backend.name}:raw".encode()
        try:
            assert await server.get(key) is None
            await server.set(key, b"v", 7, 60)
            assert await server.get(key) == (b"v", 7)
            assert await server.get_many([key, key + b"x"]) == {key: (b"v", 7)}
            assert await server.add(key, b"w", 0, 60) is False
            assert await server.touch(key, 120) == (b"v", 7)
            assert await server.delete(key) is True
            assert await server.delete(key) is False
            assert await server.touch(key, 1) is None
            assert await server.add(key, b"w", 0, None) is True
            assert await server.get(key) == (b"w", 0)
        finally:
            await server.delete(key)
            await server.close()

    asyncio.run(main())
