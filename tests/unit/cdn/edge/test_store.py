"""The edge's disk: eviction under the byte capacity with each policy, pins, the index rebuilt
from the files at start, and evicted files kept for a grace period."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from matinee.cdn.edge import EdgeApp
from matinee.cdn.edge.store import DiskStore
from matinee.clock import FakeClock

from .harness import (
    BIG,
    PREFIX,
    SEG_720,
    SEG_1080,
    call,
    disk_bytes,
    make_edge,
    make_platform,
    media_bytes,
    origin,
    running,
    signed,
)

MTIME = 1_750_000_000


def put(store: DiskStore, key: str, size: int, *, pin_until: float | None = None) -> None:
    temp = store.temp_path()
    temp.write_bytes(b"x" * size)
    store.admit(key, temp, MTIME, pin_until=pin_until)


def files(store: DiskStore) -> set[str]:
    return {p.relative_to(store.objects).as_posix() for p in store.objects.rglob("*.m4s")}


@pytest.mark.parametrize("policy", ["lru", "sieve", "s3fifo"])
def test_eviction_keeps_the_store_under_its_capacity(tmp_path: Path, policy: str) -> None:
    clock = FakeClock()
    store = DiskStore(tmp_path, 10_000, clock, policy=policy, retire_grace=5.0)
    store.open()
    keys = [f"{PREFIX}video/x/{n:05d}.m4s" for n in range(30)]
    for key in keys:
        put(store, key, 1000)
        store.get(keys[0])  # one key stays popular
        assert store.used_bytes <= 10_000
    assert len(store) == 10
    assert keys[0] in store
    # Evicted files stay for the grace period (a response may be about to send them).
    assert len(files(store)) == 30
    clock.advance(5)
    assert store.sweep() == 20
    assert files(store) == set(store.keys())
    assert store.inventory() == {PREFIX: 10_000}


def test_an_evicted_file_filled_again_within_the_grace_is_kept(tmp_path: Path) -> None:
    clock = FakeClock()
    store = DiskStore(tmp_path, 2000, clock, retire_grace=5.0)
    store.open()
    a, b, c = (f"{PREFIX}v/{n}.m4s" for n in "abc")
    put(store, a, 1000)
    put(store, b, 1000)
    put(store, c, 1000)  # evicts a
    put(store, a, 1000)  # a again (evicts b)
    clock.advance(5)
    store.sweep()
    assert (store.objects / a).exists()
    assert not (store.objects / b).exists()


def test_pinned_objects_stay_until_their_pin_runs_out(tmp_path: Path) -> None:
    clock = FakeClock()
    store = DiskStore(tmp_path, 3000, clock, retire_grace=0.0)
    store.open()
    pinned = f"{PREFIX}v/pinned.m4s"
    put(store, pinned, 1000, pin_until=clock.time() + 60)
    for n in range(10):
        put(store, f"{PREFIX}v/{n}.m4s", 1000)
    assert pinned in store
    assert store.pinned_bytes == 1000
    clock.advance(61)
    assert store.unpin_expired() == 1
    for n in range(10, 14):
        put(store, f"{PREFIX}v/{n}.m4s", 1000)
    assert pinned not in store
    # What cannot fit beside pinned content is served once from its temp file, not kept.
    put(store, f"{PREFIX}v/p1.m4s", 1500, pin_until=clock.time() + 60)
    put(store, f"{PREFIX}v/p2.m4s", 1500, pin_until=clock.time() + 60)
    temp = store.temp_path()
    temp.write_bytes(b"y" * 500)
    entry = store.admit(f"{PREFIX}v/big.m4s", temp, MTIME)
    assert not entry.cached
    assert Path(entry.path).read_bytes() == b"y" * 500
    assert f"{PREFIX}v/big.m4s" not in store
    store.sweep()
    assert not Path(entry.path).exists()


def test_pins_survive_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    store = DiskStore(tmp_path, 3000, clock, retire_grace=0.0)
    store.open()
    kept, brief = f"{PREFIX}v/kept.m4s", f"{PREFIX}v/brief.m4s"
    put(store, kept, 1000, pin_until=clock.time() + 3600)
    put(store, brief, 1000, pin_until=clock.time() + 60)
    put(store, f"{PREFIX}v/plain.m4s", 1000)
    assert store.save_pins()
    assert not store.save_pins()  # nothing changed since

    clock.advance(120)  # the edge was down two minutes: the short pin ran out meanwhile
    again = DiskStore(tmp_path, 3000, clock, retire_grace=0.0)
    again.open()
    assert again.pinned_bytes == 1000
    for n in range(5):  # a full cache turns over; the pinned object stays
        put(again, f"{PREFIX}v/new{n}.m4s", 1000)
    assert kept in again
    assert brief not in again
    (tmp_path / "pins.json").write_text("not json")
    assert DiskStore(tmp_path, 3000, clock).open() == 3  # unreadable pins: none, and it starts


def test_the_index_is_rebuilt_from_disk(tmp_path: Path) -> None:
    clock = FakeClock()
    store = DiskStore(tmp_path, 10_000, clock, policy="sieve")
    store.open()
    keys = [f"{PREFIX}video/x/{n:05d}.m4s" for n in range(6)]
    for key in keys:
        put(store, key, 1000)
    reps = {key: store.peek(key).rep for key in keys}  # type: ignore[union-attr]
    (store.tmp / "crashed.part").write_bytes(b"half a file")
    (store.objects / "stray.txt").write_bytes(b"not an object")

    again = DiskStore(tmp_path, 10_000, clock, policy="sieve")
    assert again.open() == 6
    assert {key: again.peek(key).rep for key in keys} == reps  # type: ignore[union-attr]
    assert again.used_bytes == 6000
    assert list(again.tmp.iterdir()) == []
    assert not (again.objects / "stray.txt").exists()
    # A smaller capacity at start evicts down to it (the oldest first, under LRU).
    smaller = DiskStore(tmp_path, 3500, clock, policy="lru")
    assert smaller.open() == 3
    assert smaller.used_bytes == 3000
    assert len(files(smaller)) == 3


def test_an_edge_keeps_its_content_across_a_restart(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            root = tmp_path / "edge"
            edge = make_edge(root, origins=[up.url])
            await edge.start()
            for key in (SEG_720, SEG_1080, BIG):
                assert (await call(EdgeApp(edge), "GET", signed(key))).status == 200
            etag = edge.store.peek(BIG).rep.etag  # type: ignore[union-attr]
            await edge.stop()

            restarted = make_edge(root, origins=[up.url])
            await restarted.start()
            try:
                for key in (SEG_720, SEG_1080, BIG):
                    reply = await call(EdgeApp(restarted), "GET", signed(key))
                    assert (reply.status, reply.headers["x-cache"]) == (200, "HIT")
                    assert reply.body == media_bytes(key)
                assert reply.headers["etag"] == etag
                assert sum(up.counted.gets(k) for k in (SEG_720, SEG_1080, BIG)) == 3
            finally:
                await restarted.stop()

    asyncio.run(main())


def test_an_edge_evicts_under_its_capacity_as_it_fills(tmp_path: Path) -> None:
    async def main() -> None:
        async with origin(make_platform(tmp_path)) as up:
            edge = make_edge(tmp_path / "edge", origins=[up.url], capacity=150_000)
            async with running(edge) as app:
                for key in (SEG_720, SEG_1080, f"{PREFIX}poster.jpg", SEG_720):
                    assert (await call(app, "GET", signed(key))).status == 200
                    assert edge.store.used_bytes <= 150_000
                assert SEG_720 in edge.store
                # Larger than the whole capacity: served, never kept.
                big = await call(app, "GET", signed(BIG))
                assert (big.status, big.body) == (200, media_bytes(BIG))
                assert BIG not in edge.store
                assert edge.store.used_bytes <= 150_000
                assert disk_bytes(edge.store.objects) >= edge.store.used_bytes

    asyncio.run(main())
