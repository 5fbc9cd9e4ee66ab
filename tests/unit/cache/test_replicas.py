"""Zone replicas: latch policies on writes, fallback on reads, and errors only when all fail."""

from __future__ import annotations

import asyncio
import logging

import pytest

from matinee.cache import CacheUnavailable, Latch

from .fakes import Rig

ZONES3 = ("zone-a", "zone-b", "zone-c")


async def returned_before(call: asyncio.Task[bool]) -> bool:
    """Whether ``call`` finishes while the gated zones are still stalled."""
    for _ in range(20):
        await asyncio.sleep(0)
    return call.done()


@pytest.mark.parametrize(
    ("latch", "slow", "returns_early"),
    [
        (Latch.NONE, ("zone-a", "zone-b", "zone-c"), True),
        (Latch.ONE, ("zone-b", "zone-c"), True),
        (Latch.ONE, ("zone-a",), False),  # the caller's own zone is always waited for
        (Latch.QUORUM, ("zone-c",), True),
        (Latch.QUORUM, ("zone-b", "zone-c"), False),
        (Latch.ALL, ("zone-c",), False),
    ],
)
def test_a_write_returns_once_the_latch_is_met(
    latch: Latch, slow: tuple[str, ...], returns_early: bool
) -> None:
    async def main() -> None:
        rig = Rig(ZONES3, latch=latch)
        gate = asyncio.Event()
        for zone in slow:
            rig.server(zone).gate = gate
        call = asyncio.get_running_loop().create_task(rig.cache.set("k", b"v", ttl=60))
        assert await returned_before(call) is returns_early
        gate.set()
        assert await call is True
        await rig.cache.drain()
        for zone in ZONES3:  # every zone got the write in the end
            assert await rig.server(zone).inner.get(b"t:k") == (b"v", 0)

    asyncio.run(main())


def test_background_failures_are_counted_not_raised() -> None:
    async def main() -> None:
        rig = Rig(ZONES3, latch=Latch.ONE)
        rig.server("zone-c").down = True
        assert await rig.cache.set("k", b"v", ttl=60) is True
        await rig.cache.drain()
        assert rig.count("cache.write", zone="zone-c", op="set", result="error") == 1
        assert rig.count("cache.write", zone="zone-a", op="set", result="ok") == 1

    asyncio.run(main())


def test_an_unmet_latch_returns_false_and_is_counted() -> None:
    async def main() -> None:
        rig = Rig(ZONES3, latch=Latch.ALL)
        rig.server("zone-b").down = True
        assert await rig.cache.set("k", b"v", ttl=60) is False
        assert await rig.cache.delete("k") is False
        assert rig.count("cache.latch.unmet", op="set") == 1
        assert rig.count("cache.latch.unmet", op="delete") == 1

    asyncio.run(main())


def test_a_write_no_zone_answers_raises() -> None:
    async def main() -> None:
        for latch in (Latch.ONE, Latch.ALL):
            rig = Rig(("zone-a", "zone-b"), latch=latch)
            for zone in ("zone-a", "zone-b"):
                rig.server(zone).down = True
            with pytest.raises(CacheUnavailable, match="no zone of cache t"):
                await rig.cache.set("k", b"v", ttl=60)
        single = Rig(("zone-a",))
        single.server("zone-a").down = True
        with pytest.raises(CacheUnavailable):
            await single.cache.delete("k")
        none = Rig(("zone-a", "zone-b"), latch=Latch.NONE)
        none.server("zone-a").down = True
        none.server("zone-b").down = True
        assert await none.cache.set("k", b"v", ttl=60) is True  # fire and forget
        await none.cache.drain()
        assert none.count("cache.write", result="error") == 2

    asyncio.run(main())


def test_reads_go_to_the_callers_zone_first() -> None:
    async def main() -> None:
        rig = Rig(("zone-a", "zone-b"), local="zone-b", latch=Latch.ALL)
        assert rig.cache.zone == "zone-b"
        assert rig.cache.zones == ("zone-b", "zone-a")
        await rig.cache.set("k", b"v", ttl=60)
        before = rig.server("zone-a").calls
        assert await rig.cache.get("k") == b"v"
        assert rig.server("zone-a").calls == before
        assert rig.count("cache.get", zone="zone-b", result="hit") == 1

    asyncio.run(main())


def test_a_miss_falls_back_to_another_zone(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        rig = Rig(("zone-a", "zone-b"))
        await rig.server("zone-b").inner.set(b"t:k", b"only-b", 0, None)
        assert await rig.cache.get("k") == b"only-b"
        assert await rig.cache.get("k") == b"only-b"
        assert rig.count("cache.fallbacks", zone="zone-a", reason="miss") == 2
        assert rig.count("cache.get", zone="zone-a", result="miss") == 2
        assert rig.count("cache.get", zone="zone-b", result="hit") == 2
        assert await rig.cache.get("absent") is None
        assert rig.count("cache.lookups", result="hit") == 2
        assert rig.count("cache.lookups", result="miss") == 1
        ratio = next(m for m in rig.registry.meters() if m.id.name == "cache.hit_ratio")
        assert ratio.value == pytest.approx(2 / 3)  # type: ignore[union-attr]

    with caplog.at_level(logging.INFO, logger="matinee.cache"):
        asyncio.run(main())
    fallbacks = [r for r in caplog.records if "zone-a missed" in r.getMessage()]
    assert len(fallbacks) == 1  # logged once, counted every time


def test_an_error_falls_back_and_the_caller_sees_no_error() -> None:
    async def main() -> None:
        rig = Rig(("zone-a", "zone-b"), latch=Latch.ALL)
        await rig.cache.set("k", b"v", ttl=60)
        rig.server("zone-a").down = True
        assert await rig.cache.get("k") == b"v"
        assert await rig.cache.get_many(["k", "absent"]) == {"k": b"v"}
        assert rig.count("cache.fallbacks", zone="zone-a", reason="error") == 2
        assert rig.count("cache.get", zone="zone-a", result="error") == 2

    asyncio.run(main())


def test_a_read_no_zone_answers_raises_and_a_load_falls_back() -> None:
    async def main() -> None:
        rig = Rig(("zone-a", "zone-b"))
        for zone in ("zone-a", "zone-b"):
            rig.server(zone).down = True
        with pytest.raises(CacheUnavailable):
            await rig.cache.get("k")
        with pytest.raises(CacheUnavailable):
            await rig.cache.get_many(["k"])

        async def load() -> bytes:
            return b"from the source"

        assert await rig.cache.get_or_load("k", load, ttl=60) == b"from the source"
        assert rig.count("cache.fallbacks", zone="all", reason="error") == 1

    asyncio.run(main())


def test_get_many_takes_each_key_from_the_first_zone_that_has_it() -> None:
    async def main() -> None:
        rig = Rig(("zone-a", "zone-b"), servers=2)
        await rig.cache.set("both", b"1", ttl=None)
        await rig.cache.drain()
        for server in rig.servers["zone-b"]:  # whichever server ketama picks has them
            await server.inner.set(b"t:b0", b"2", 0, None)
            await server.inner.set(b"t:b1", b"3", 0, None)
        found = await rig.cache.get_many(["both", "b0", "b1", "none", "both"])
        assert found == {"both": b"1", "b0": b"2", "b1": b"3"}

    asyncio.run(main())


def test_add_succeeds_only_where_no_zone_holds_the_key() -> None:
    async def main() -> None:
        rig = Rig(("zone-a", "zone-b"))
        assert await rig.cache.add("lease", b"me", ttl=30) is True
        assert await rig.cache.add("lease", b"you", ttl=30) is False
        rig.clock.advance(31)
        assert await rig.cache.add("lease", b"you", ttl=30) is True
        assert await rig.cache.get("lease") == b"you"

    asyncio.run(main())


def test_add_conflict_copies_the_holders_value_over() -> None:
    async def main() -> None:
        rig = Rig(("zone-a", "zone-b"))
        await rig.server("zone-b").inner.set(b"t:lease", b"holder", 0, 30.0)
        assert await rig.cache.add("lease", b"me", ttl=30) is False
        assert await rig.server("zone-a").inner.get(b"t:lease") == (b"holder", 0)
        assert rig.count("cache.add.conflicts") == 1

    asyncio.run(main())


def test_add_with_a_zone_down_decides_on_the_zones_that_answer() -> None:
    async def main() -> None:
        rig = Rig(("zone-a", "zone-b"))
        rig.server("zone-a").down = True
        assert await rig.cache.add("lease", b"me", ttl=30) is True
        assert await rig.cache.add("lease", b"you", ttl=30) is False

    asyncio.run(main())


def test_touch_is_true_when_found_and_extends_every_zone() -> None:
    async def main() -> None:
        rig = Rig(("zone-a", "zone-b"), latch=Latch.ALL)
        assert await rig.cache.touch("k", ttl=60) is False
        await rig.cache.set("k", b"v", ttl=10)
        assert await rig.cache.touch("k", ttl=60) is True
        rig.clock.advance(30)
        for zone in ("zone-a", "zone-b"):
            assert await rig.server(zone).inner.get(b"t:k") == (b"v", 0)

    asyncio.run(main())
