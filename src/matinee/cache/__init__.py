"""matinee's EVCache: one cache client over zone replicas, picked by URL.

    cache = open_cache("memcached://zone-a=h1:11211,h2:11211;zone-b=h3:11211,h4:11211?latch=one",
                       name="homepage", zone="zone-a", clock=clock, metrics=metrics)
    page = await cache.get_or_load(f"home:{profile}", build_page, ttl=300)   # look-aside
    await cache.set(f"lease:{stream}", owner, ttl=30)                        # transient store
    await cache.set("top10:US", ranking, ttl=None)                           # primary store

The cluster is N zones; each zone holds a full copy, its keys spread over its servers by ketama.
Writes go to every zone; reads go to the caller's zone first and fall back to the others on a
miss or an error. Backends: in-process servers (``memory://``, the embedded default) or
memcached. Values over 1 MB are stored as chunks. An optional near-cache keeps recent reads
in the process for a second.

What a caller can see (consistency is best-effort, as in EVCache):

* A write returns once the caller's own zone has answered and the latch policy's number of
  zones acknowledged (none: at once). The other zones finish in the background; a failure
  there is counted (``cache.write{result=error}``) and logged once, never raised.
* Read-your-writes holds in the caller's zone for a write that returned True, unless that zone
  failed it (then a read falls back to a zone that has it). Under latch ``none`` a read right
  after a write may still see the old value.
* Another zone may lag, or miss a write for good if it failed it: until the entry expires or is
  written again, readers whose own zone that is see the old value or a miss. There is no read
  repair and no cross-zone ordering: two writers racing on one key may leave different values
  in different zones.
* A miss means "not in the first zone that had it, nor in any other": a read never returns a
  value that was deleted in every zone, but a delete that failed in one zone leaves the value
  readable there.
* With the near-cache on, a value may be up to ``near_ttl`` seconds stale after another process
  wrote it (this process's own writes drop its near entries at once).
* A chunked value is returned whole and checked (length and digest) or not at all: a missing,
  expired, evicted or mismatched chunk is a miss, never a corrupt value.
* ``add`` asks every zone and succeeds only if none held the key; it is not atomic across
  zones (when zones disagree the existing value is copied over and the call returns False;
  across a partition two callers may both succeed). A lease holder should re-read before
  relying on it.
* Entries expire after their TTL on the server's clock (memcached: whole seconds, rounded
  up); memcached and the in-process servers evict least recently used entries when full, so a
  primary-store entry (no TTL) is kept only as long as there is room.
* Only when every zone fails does a call raise CacheUnavailable; ``get_or_load`` then loads from
  the source instead.
"""

from __future__ import annotations

from matinee.cache.client import Cache, Cluster, Loader
from matinee.cache.config import CacheConfig, Latch, ZoneSpec, parse_cache_url, split_host_port
from matinee.cache.errors import (
    CacheError,
    CacheUnavailable,
    InvalidCacheKey,
    InvalidCacheUrl,
    ValueTooLarge,
)
from matinee.cache.memcached import MemcachedServer
from matinee.cache.memory import MemoryServer
from matinee.cache.near import NearCache
from matinee.cache.replicas import Replicas
from matinee.cache.server import CacheServer
from matinee.cache.zones import Zone
from matinee.clock import Clock, SystemClock
from matinee.telemetry.metrics import Registry

__all__ = [
    "Cache",
    "CacheConfig",
    "CacheError",
    "CacheServer",
    "CacheUnavailable",
    "InvalidCacheKey",
    "InvalidCacheUrl",
    "Latch",
    "Loader",
    "MemcachedServer",
    "MemoryServer",
    "ValueTooLarge",
    "open_cache",
    "parse_cache_url",
]

NEAR_MAX_VALUE_BYTES = 64 * 1024  # larger values are not kept in the near-cache


def _servers(config: CacheConfig, zone: ZoneSpec, clock: Clock) -> list[CacheServer]:
    if config.backend == "memory":
        capacity = config.capacity_mb * 1024 * 1024
        return [MemoryServer(clock, name=name, capacity_bytes=capacity) for name in zone.servers]
    servers: list[CacheServer] = []
    for address in zone.servers:
        host, port = split_host_port(address)
        servers.append(
            MemcachedServer(
                host,
                port,
                clock=clock,
                timeout=config.timeout,
                retry_interval=config.retry,
                connections=config.connections,
            )
        )
    return servers


def open_cache(
    url: str,
    *,
    name: str,
    zone: str | None = None,
    clock: Clock | None = None,
    metrics: Registry | None = None,
) -> Cache:
    """Open the cache cluster at ``url`` and return the cache called ``name`` on it.

    ``zone`` is the caller's zone: reads go there first (default: the first zone in the URL).
    More cache names on the same connections: ``cache.named("other")``. Close with
    ``await cache.close()``. Nothing connects until the first call. Raises InvalidCacheUrl.
    """
    config = parse_cache_url(url)
    clock = clock or SystemClock()
    registry = metrics or Registry(clock)
    zones = [Zone(spec.name, _servers(config, spec, clock)) for spec in config.zones]
    replicas = Replicas(zones, local=zone, latch=config.latch, clock=clock)
    near = (
        NearCache(
            clock,
            size=config.near_size,
            ttl=config.near_ttl,
            max_value_bytes=NEAR_MAX_VALUE_BYTES,
        )
        if config.near
        else None
    )
    return Cache(Cluster(replicas, registry, near), name)
