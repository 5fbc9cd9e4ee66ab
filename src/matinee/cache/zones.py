"""One zone: a group of cache servers holding one full copy of the data, keys spread by ketama.

A zone reads and writes whole values: a value over the chunk size goes out as chunks plus a
manifest (chunks first, so a manifest is never seen before its chunks in that zone) and comes
back reassembled and checked, or as a miss.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from matinee.cache.chunks import (
    CHUNK_SIZE,
    FLAG_CHUNK,
    FLAG_MANIFEST,
    FLAG_PLAIN,
    assemble,
    parse_manifest,
    split,
)
from matinee.cache.ketama import KetamaRing
from matinee.cache.server import CacheServer, Item


@dataclass(frozen=True, slots=True)
class Payload:
    """A value ready to be written: plain, or a manifest with its chunks."""

    value: bytes
    flags: int
    chunks: list[tuple[bytes, bytes]]

    @classmethod
    def of(cls, key: bytes, value: bytes, chunk_size: int = CHUNK_SIZE) -> Payload:
        if len(value) <= chunk_size:
            return cls(value, FLAG_PLAIN, [])
        manifest, chunks = split(key, value, chunk_size)
        return cls(manifest, FLAG_MANIFEST, chunks)


class Zone:
    def __init__(self, name: str, servers: Sequence[CacheServer]) -> None:
        if not servers:
            raise ValueError(f"zone {name} has no server")
        self.name = name
        self.servers = tuple(servers)
        self._by_address = {server.address: server for server in servers}
        self.ring = KetamaRing([server.address for server in servers])
        self._only = servers[0] if len(servers) == 1 else None

    def server_for(self, key: bytes) -> CacheServer:
        if self._only is not None:
            return self._only
        return self._by_address[self.ring.server_for(key)]

    async def get_items(self, keys: Sequence[bytes]) -> dict[bytes, Item]:
        """Raw items of ``keys``, one multi-get per server, the servers asked together."""
        groups: dict[str, list[bytes]] = {}
        for key in keys:
            groups.setdefault(self.server_for(key).address, []).append(key)
        found: dict[bytes, Item] = {}
        answers = await asyncio.gather(
            *(self._by_address[address].get_many(group) for address, group in groups.items())
        )
        for answer in answers:
            found.update(answer)
        return found

    async def value_of(
        self, key: bytes, item: Item | None, on_broken: Callable[[], None]
    ) -> bytes | None:
        """The value an item stands for: itself, its chunks reassembled, or None (a miss)."""
        if item is None:
            return None
        data, flags = item
        if flags == FLAG_MANIFEST:
            manifest = parse_manifest(data)
            if manifest is not None:
                keys = manifest.chunk_keys(key)
                value = assemble(manifest, keys, await self.get_items(keys))
                if value is not None:
                    return value
            on_broken()
            return None
        if flags == FLAG_CHUNK:
            return None  # a chunk is never a value of its own
        return data

    async def read(self, key: bytes, on_broken: Callable[[], None]) -> bytes | None:
        item = await self.server_for(key).get(key)
        if item is None or item[1] == FLAG_PLAIN:
            return None if item is None else item[0]  # the common case, without a coroutine
        return await self.value_of(key, item, on_broken)

    async def read_many(
        self, keys: Sequence[bytes], on_broken: Callable[[], None]
    ) -> dict[bytes, bytes]:
        items = await self.get_items(keys)
        found: dict[bytes, bytes] = {}
        for key, item in items.items():
            value = await self.value_of(key, item, on_broken)
            if value is not None:
                found[key] = value
        return found

    async def _put_chunks(self, payload: Payload, ttl: float | None) -> None:
        if payload.chunks:  # chunks first: a manifest is never seen before its chunks
            await asyncio.gather(
                *(
                    self.server_for(chunk_key).set(chunk_key, chunk, FLAG_CHUNK, ttl)
                    for chunk_key, chunk in payload.chunks
                )
            )

    async def set(self, key: bytes, payload: Payload, ttl: float | None) -> bool:
        if payload.chunks:
            await self._put_chunks(payload, ttl)
        await self.server_for(key).set(key, payload.value, payload.flags, ttl)
        return True

    async def add(self, key: bytes, payload: Payload, ttl: float | None) -> bool:
        await self._put_chunks(payload, ttl)  # left to age out if the add loses
        return await self.server_for(key).add(key, payload.value, payload.flags, ttl)

    async def delete(self, key: bytes) -> bool:
        await self.server_for(key).delete(key)
        return True  # deleted or already absent: either way the zone acknowledged

    async def touch(self, key: bytes, ttl: float | None) -> bool:
        """A new TTL for the item and, for a chunked value, for its chunks; True if found."""
        item = await self.server_for(key).touch(key, ttl)
        if item is None:
            return False
        if item[1] == FLAG_MANIFEST:
            manifest = parse_manifest(item[0])
            if manifest is not None:
                await asyncio.gather(
                    *(self.server_for(k).touch(k, ttl) for k in manifest.chunk_keys(key))
                )
        return True

    async def flush(self) -> None:
        await asyncio.gather(*(server.flush() for server in self.servers))

    async def close(self) -> None:
        await asyncio.gather(*(server.close() for server in self.servers))
