"""A cache server that can be made to fail or to stall, for latch and fallback tests.

It wraps a real :class:`MemoryServer` (the data path is the real one); only its availability is
under the test's control, as a dead or slow memcached would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from matinee.cache import Cache, Latch, MemoryServer
from matinee.cache.client import Cluster
from matinee.cache.errors import CacheUnavailable
from matinee.cache.near import NearCache
from matinee.cache.replicas import Replicas
from matinee.cache.server import Item
from matinee.cache.zones import Zone
from matinee.clock import FakeClock
from matinee.telemetry.metrics import Registry, Timer


class FlakyServer:
    def __init__(self, clock: FakeClock, name: str) -> None:
        self.inner = MemoryServer(clock, name=name)
        self.down = False
        self.gate: asyncio.Event | None = None  # when set to an Event, calls wait for it
        self.calls = 0

    @property
    def address(self) -> str:
        return self.inner.address

    async def _enter(self) -> None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise CacheUnavailable(f"{self.address} is down")

    async def get(self, key: bytes) -> Item | None:
        await self._enter()
        return await self.inner.get(key)

    async def get_many(self, keys: Sequence[bytes]) -> dict[bytes, Item]:
        await self._enter()
        return await self.inner.get_many(keys)

    async def set(self, key: bytes, value: bytes, flags: int, ttl: float | None) -> None:
        await self._enter()
        await self.inner.set(key, value, flags, ttl)

    async def add(self, key: bytes, value: bytes, flags: int, ttl: float | None) -> bool:
        await self._enter()
        return await self.inner.add(key, value, flags, ttl)

    async def delete(self, key: bytes) -> bool:
        await self._enter()
        return await self.inner.delete(key)

    async def touch(self, key: bytes, ttl: float | None) -> Item | None:
        await self._enter()
        return await self.inner.touch(key, ttl)

    async def flush(self) -> None:
        await self._enter()
        await self.inner.flush()

    async def close(self) -> None:
        await self.inner.close()


class Rig:
    """Zones of flaky servers (one per zone unless told) and a cache on them."""

    def __init__(
        self,
        zones: Sequence[str] = ("zone-a", "zone-b"),
        *,
        latch: Latch = Latch.ONE,
        servers: int = 1,
        near: bool = False,
        local: str | None = None,
    ) -> None:
        self.clock = FakeClock()
        self.registry = Registry(self.clock)
        self.servers = {
            z: [FlakyServer(self.clock, f"{z}-{i}") for i in range(servers)] for z in zones
        }
        replicas = Replicas(
            [Zone(z, s) for z, s in self.servers.items()],
            local=local or zones[0],
            latch=latch,
            clock=self.clock,
        )
        near_cache = (
            NearCache(self.clock, size=100, ttl=1.0, max_value_bytes=65536) if near else None
        )
        self.cache = Cache(Cluster(replicas, self.registry, near_cache), "t")

    def server(self, zone: str, index: int = 0) -> FlakyServer:
        return self.servers[zone][index]

    def count(self, name: str, **tags: str) -> float:
        """The sum of every counter called ``name`` whose tags include ``tags``."""
        total = 0.0
        for meter in self.registry.meters():
            if meter.id.name == name and tags.items() <= meter.id.tag_dict.items():
                total += meter.count if isinstance(meter, Timer) else meter.value
        return total
