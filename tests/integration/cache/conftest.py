"""The ``backend`` fixture: every cache contract test runs on in-process servers and on real
memcached, each as two zones of two servers.

The memcached servers (Debian's ``memcached``, ports 15910-15919) start once per session and stop
at its end. Tests never flush them: each opens its cache under a fresh name, so keys never meet.
Time: the in-process backend runs on a FakeClock moved by ``advance``; memcached keeps real time,
so there ``advance`` sleeps.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest

from matinee.cache import Cache, CacheServer, MemcachedServer, MemoryServer, open_cache
from matinee.cache.config import split_host_port
from matinee.clock import Clock, FakeClock, SystemClock
from matinee.telemetry.metrics import Registry
from matinee.testing.servers.memcached import MemcachedZones

ZONES = {"zone-a": 2, "zone-b": 2}


@pytest.fixture(scope="session")
def memcached_zones() -> Iterator[MemcachedZones]:
    with MemcachedZones(ZONES) as zones:
        yield zones


@dataclass
class Backend:
    kind: str
    base_url: str
    clock: Clock
    advance: Callable[[float], Awaitable[None]]
    first_server: str  # host:port (memcached) of one server, for server-level tests
    name: str = ""

    def __post_init__(self) -> None:
        self.name = f"t{uuid.uuid4().hex[:10]}"
        self.registry = Registry(self.clock)

    def url(self, **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        if not query:
            return self.base_url
        return self.base_url + ("&" if "?" in self.base_url else "?") + query

    def open(self, *, zone: str = "zone-a", **options: str) -> Cache:
        return open_cache(
            self.url(**options), name=self.name, zone=zone, clock=self.clock, metrics=self.registry
        )

    def server(self) -> CacheServer:
        if self.kind == "memory":
            return MemoryServer(self.clock)
        host, port = split_host_port(self.first_server)
        return MemcachedServer(host, port, clock=self.clock)


@pytest.fixture(params=["memory", "memcached"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        clock = FakeClock()

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        names = ",".join(ZONES)
        return Backend("memory", f"memory://?zones={names}&servers=2", clock, advance, "")
    servers: MemcachedZones = request.getfixturevalue("memcached_zones")
    first = servers.servers["zone-a"][0].address
    return Backend("memcached", servers.url(), SystemClock(), asyncio.sleep, first)
