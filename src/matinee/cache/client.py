"""The cache client: look-aside, transient store and primary store over zone replicas."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType

from matinee.cache.chunks import CHUNK_SUFFIX_BYTES
from matinee.cache.errors import CacheError, CacheUnavailable, InvalidCacheKey, ValueTooLarge
from matinee.cache.meters import CacheMeters, log
from matinee.cache.near import NearCache
from matinee.cache.replicas import Replicas
from matinee.cache.server import MAX_KEY_BYTES
from matinee.cache.zones import Payload
from matinee.telemetry.metrics import Registry

MAX_VALUE_BYTES = 32 * 1024 * 1024  # the largest value stored at all (in 1 MB chunks)
MAX_WIRE_KEY = MAX_KEY_BYTES - CHUNK_SUFFIX_BYTES  # longer keys are hashed, so chunk keys fit
_BAD_KEY = re.compile(rb"[\x00-\x20\x7f]")  # memcached keys: no spaces, no control codes
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

Loader = Callable[[], Awaitable[bytes]]


@dataclass
class Cluster:
    """What every cache name opened from one URL shares: zones, connections, near-cache,
    loads in flight and meters."""

    replicas: Replicas
    registry: Registry
    near: NearCache | None
    inflight: dict[bytes, asyncio.Future[bytes]] = field(default_factory=dict)
    meters: dict[str, CacheMeters] = field(default_factory=dict)
    closed: bool = False

    def meters_for(self, name: str) -> CacheMeters:
        meters = self.meters.get(name)
        if meters is None:
            zones = [zone.name for zone in self.replicas.zones]
            meters = self.meters[name] = CacheMeters(self.registry, name, zones)
        return meters


def _check_ttl(ttl: float | None) -> None:
    if ttl is not None and not (ttl > 0 and math.isfinite(ttl)):
        raise ValueError(f"a TTL is a positive number of seconds or None (no expiry), not {ttl}")


def _check_value(value: bytes) -> None:
    if not isinstance(value, bytes):
        raise TypeError(f"cache values are bytes, not {type(value).__name__}")
    if len(value) > MAX_VALUE_BYTES:
        raise ValueTooLarge(
            f"a value of {len(value)} bytes is over the cache's limit of {MAX_VALUE_BYTES} bytes"
        )


class Cache:
    """One cache name (keys are namespaced ``<name>:<key>``) on a cluster of zones.

    Values are bytes. ``ttl`` is seconds, or None for no expiry (the primary-store use). Reads
    return None on a miss; see the package docstring for what a caller can and cannot see.
    """

    def __init__(self, cluster: Cluster, name: str, *, owner: bool = True) -> None:
        if not _NAME.match(name):
            raise ValueError(f"cache name {name!r}: letters, digits, '-', '_' or '.', at most 64")
        self._cluster = cluster
        self._replicas = cluster.replicas
        self._near = cluster.near
        self._owner = owner
        self.name = name
        self._prefix = name.encode() + b":"
        self._m = cluster.meters_for(name)

    @property
    def zone(self) -> str:
        """The zone reads go to first (the caller's)."""
        return self._replicas.local

    @property
    def zones(self) -> tuple[str, ...]:
        """Every zone, in the order reads try them."""
        return tuple(zone.name for zone in self._replicas.zones)

    def named(self, name: str) -> Cache:
        """Another cache name on the same zones and connections (closed with this one)."""
        return Cache(self._cluster, name, owner=False)

    def wire_key(self, key: str) -> bytes:
        """The key as stored: ``<name>:<key>``, or ``<name>:#<sha256>`` when that is too long."""
        raw = key.encode()
        if not raw or _BAD_KEY.search(raw):
            raise InvalidCacheKey(f"cache key {key!r} is empty or holds spaces or control codes")
        wire = self._prefix + raw
        if len(wire) > MAX_WIRE_KEY:
            wire = self._prefix + b"#" + hashlib.sha256(raw).hexdigest().encode()
        return wire

    # --- reads ---------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """The value, from the caller's zone or (on a miss or error there) another zone."""
        wire = self.wire_key(key)
        near = self._near
        if near is not None:
            value = near.get(wire)
            if value is not None:
                self._m.near_hits.inc()
                self._m.hits.inc()
                return value
            self._m.near_misses.inc()
        value = await self._replicas.get(wire, self._m)
        if value is not None and near is not None:
            near.put(wire, value)
        return value

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The values present among ``keys`` (absent keys are left out)."""
        by_wire = {self.wire_key(key): key for key in keys}
        found: dict[str, bytes] = {}
        wanted = list(by_wire)
        near = self._near
        if near is not None:
            remote: list[bytes] = []
            for wire in wanted:
                value = near.get(wire)
                if value is None:
                    remote.append(wire)
                else:
                    found[by_wire[wire]] = value
            self._m.near_hits.inc(len(found))
            self._m.hits.inc(len(found))
            self._m.near_misses.inc(len(remote))
            wanted = remote
        if wanted:
            for wire, value in (await self._replicas.get_many(wanted, self._m)).items():
                found[by_wire[wire]] = value
                if near is not None:
                    near.put(wire, value)
        return found

    async def get_or_load(self, key: str, loader: Loader, *, ttl: float | None) -> bytes:
        """Look-aside: the cached value, or ``loader()``'s result, stored with ``ttl``.

        One load per key runs at a time in this process; callers asking meanwhile wait for it
        and share its result (or its error). When the cache cannot be reached at all, the
        loader runs anyway (a counted fallback) and the caller never sees a cache error.
        """
        _check_ttl(ttl)
        wire = self.wire_key(key)
        inflight = self._cluster.inflight
        while (running := inflight.get(wire)) is not None:
            try:
                value = await asyncio.shield(running)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if running.cancelled() and task is not None and not task.cancelling():
                    continue  # the caller that was loading gave up; load it ourselves
                raise
            self._m.count("cache.loads", result="joined")
            return value
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        inflight[wire] = future
        try:
            return await self._load(key, loader, ttl, future)
        except BaseException as exc:
            if not future.done():
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
                    future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            if inflight.get(wire) is future:
                del inflight[wire]

    async def _load(
        self, key: str, loader: Loader, ttl: float | None, future: asyncio.Future[bytes]
    ) -> bytes:
        try:
            cached = await self.get(key)
        except CacheUnavailable as exc:
            cached = None
            self._m.fallback("all", "error", f"and every other zone failed ({exc}); loading")
        if cached is not None:
            future.set_result(cached)
            return cached
        value = await loader()
        _check_value(value)
        future.set_result(value)
        self._m.count("cache.loads", result="loaded")
        try:
            await self.set(key, value, ttl=ttl)
        except CacheError as exc:
            self._m.log_once(("load-store",), "could not store a loaded value: %s", exc)
        return value

    async def per_zone(self, key: str) -> dict[str, bytes | None]:
        """The value as each zone holds it, each zone read alone, no near-cache, no metrics
        (diagnostics and tests); a zone that fails reads as None."""
        wire = self.wire_key(key)
        found: dict[str, bytes | None] = {}
        for zone in self._replicas.zones:
            try:
                found[zone.name] = await zone.read(wire, self._m.broken[zone.name])
            except CacheError:
                found[zone.name] = None
        return found

    # --- writes --------------------------------------------------------------------------

    async def set(self, key: str, value: bytes, *, ttl: float | None) -> bool:
        """Store in every zone; True once the latch policy's zones acknowledged (False: fewer
        did, the rest may still land). Raises CacheUnavailable only when no zone answered."""
        _check_ttl(ttl)
        _check_value(value)
        wire = self.wire_key(key)
        if self._near is not None:
            self._near.invalidate(wire)
        return await self._replicas.set(wire, Payload.of(wire, value), ttl, self._m)

    async def add(self, key: str, value: bytes, *, ttl: float | None) -> bool:
        """Store only where the key is absent, asking every zone; True when no zone held it.

        Use it to take a lease. It is not atomic across zones: when zones disagree, the value
        already there wins and is copied over, and the call returns False; two callers that
        cannot see the same zones (a partition) may both win.
        """
        _check_ttl(ttl)
        _check_value(value)
        wire = self.wire_key(key)
        if self._near is not None:
            self._near.invalidate(wire)
        return await self._replicas.add(wire, Payload.of(wire, value), ttl, self._m)

    async def delete(self, key: str) -> bool:
        """Remove from every zone; True once the latch policy's zones acknowledged."""
        wire = self.wire_key(key)
        if self._near is not None:
            self._near.invalidate(wire)
        return await self._replicas.delete(wire, self._m)

    async def touch(self, key: str, *, ttl: float | None) -> bool:
        """Give an existing entry a new TTL in every zone; True when it was found in the latch
        policy's number of zones (at least one)."""
        _check_ttl(ttl)
        return await self._replicas.touch(self.wire_key(key), ttl, self._m)

    # --- lifecycle -----------------------------------------------------------------------

    async def flush_all(self) -> None:
        """Forget every entry on every server, of every cache name (tests and operators)."""
        if self._near is not None:
            self._near.clear()
        await self._replicas.flush()

    async def drain(self) -> None:
        """Wait for writes still finishing in the background (latch none/one/quorum)."""
        await self._replicas.drain()

    async def close(self) -> None:
        """Close connections (the cache opened by ``open_cache`` only; a ``named`` view's
        close does nothing)."""
        if not self._owner or self._cluster.closed:
            return
        self._cluster.closed = True
        await self._replicas.close()
        log.debug("cache %s closed", self.name)

    async def __aenter__(self) -> Cache:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
