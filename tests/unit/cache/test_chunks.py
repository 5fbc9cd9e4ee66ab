"""Values over 1 MB: a manifest plus chunks, reassembled and checked, or a miss."""

from __future__ import annotations

import asyncio
import os

from matinee.cache import Latch
from matinee.cache.chunks import (
    CHUNK_SIZE,
    FLAG_CHUNK,
    FLAG_MANIFEST,
    assemble,
    parse_manifest,
    split,
)
from matinee.cache.ketama import KetamaRing
from matinee.cache.server import MAX_ITEM_BYTES

from .fakes import Rig

BIG = os.urandom(3 * CHUNK_SIZE + 12345)


def test_split_and_assemble_round_trip() -> None:
    manifest_bytes, chunks = split(b"t:big", BIG)
    manifest = parse_manifest(manifest_bytes)
    assert manifest is not None
    assert (manifest.length, manifest.count) == (len(BIG), 4)
    keys = [key for key, _ in chunks]
    assert keys == manifest.chunk_keys(b"t:big")
    assert all(len(chunk) <= CHUNK_SIZE for _, chunk in chunks)
    assert all(len(key) + CHUNK_SIZE < MAX_ITEM_BYTES for key in keys)
    found = {key: (chunk, FLAG_CHUNK) for key, chunk in chunks}
    assert assemble(manifest, keys, found) == BIG


def test_each_write_has_its_own_chunk_keys() -> None:
    first = [key for key, _ in split(b"t:big", BIG)[1]]
    second = [key for key, _ in split(b"t:big", BIG)[1]]
    assert not set(first) & set(second)


def test_a_missing_or_altered_chunk_is_no_value() -> None:
    manifest_bytes, chunks = split(b"t:big", BIG)
    manifest = parse_manifest(manifest_bytes)
    assert manifest is not None
    keys = [key for key, _ in chunks]
    found = {key: (chunk, FLAG_CHUNK) for key, chunk in chunks}
    assert assemble(manifest, keys, {k: v for k, v in found.items() if k != keys[2]}) is None
    altered = dict(found)
    chunk = bytearray(found[keys[1]][0])
    chunk[100] ^= 1
    altered[keys[1]] = (bytes(chunk), FLAG_CHUNK)
    assert assemble(manifest, keys, altered) is None
    short = dict(found)
    short[keys[3]] = (found[keys[3]][0][:-1], FLAG_CHUNK)
    assert assemble(manifest, keys, short) is None
    wrong_flags = dict(found)
    wrong_flags[keys[0]] = (found[keys[0]][0], 0)
    assert assemble(manifest, keys, wrong_flags) is None


def test_garbage_is_not_a_manifest() -> None:
    assert parse_manifest(b"") is None
    assert parse_manifest(b"x" * 40) is None


def test_chunked_values_through_the_cache_spread_over_servers() -> None:
    async def main() -> None:
        rig = Rig(("zone-a",), servers=2)
        assert await rig.cache.set("big", BIG, ttl=60)
        assert await rig.cache.get("big") == BIG
        servers = rig.servers["zone-a"]
        chunk_items = [
            (server, key)
            for server in servers
            for key, entry in server.inner._items.items()
            if entry.flags == FLAG_CHUNK
        ]
        assert len(chunk_items) == 4
        ring = KetamaRing([s.address for s in servers])  # each chunk sits where ketama says
        assert all(server.address == ring.server_for(key) for server, key in chunk_items)
        manifest = [e for s in servers for e in s.inner._items.values() if e.flags == FLAG_MANIFEST]
        assert len(manifest) == 1

    asyncio.run(main())


def test_a_lost_chunk_is_a_counted_miss_and_the_other_zone_serves() -> None:
    async def main() -> None:
        rig = Rig(("zone-a", "zone-b"), latch=Latch.ALL)
        assert await rig.cache.set("big", BIG, ttl=60)
        inner = rig.server("zone-a").inner
        lost = next(k for k, e in inner._items.items() if e.flags == FLAG_CHUNK)
        await inner.delete(lost)
        assert await rig.cache.get("big") == BIG  # from zone-b
        assert rig.count("cache.chunks.invalid", zone="zone-a") == 1
        assert rig.count("cache.fallbacks", zone="zone-a", reason="miss") == 1
        await rig.server("zone-b").inner.delete(lost)
        assert await rig.cache.get("big") is None
        assert await rig.cache.get_many(["big"]) == {}

    asyncio.run(main())


def test_touch_extends_the_chunks_too() -> None:
    async def main() -> None:
        rig = Rig(("zone-a",))
        await rig.cache.set("big", BIG, ttl=10)
        assert await rig.cache.touch("big", ttl=100)
        rig.clock.advance(50)
        assert await rig.cache.get("big") == BIG

    asyncio.run(main())


def test_an_overwritten_chunked_value_reads_as_the_new_one() -> None:
    async def main() -> None:
        rig = Rig(("zone-a",))
        other = os.urandom(CHUNK_SIZE + 1)
        await rig.cache.set("big", BIG, ttl=None)
        await rig.cache.set("big", other, ttl=None)
        assert await rig.cache.get("big") == other
        await rig.cache.set("big", b"small", ttl=None)
        assert await rig.cache.get("big") == b"small"

    asyncio.run(main())
