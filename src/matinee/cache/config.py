"""The cache URL, parsed in one place into a :class:`CacheConfig`.

Forms::

    memory://                                   one zone, one in-process server
    memory://?zones=zone-a,zone-b&servers=2     in-process zones (for tests and demos)
    memcached://127.0.0.1:11211                 one zone ("local") of one memcached server
    memcached://zone-a=10.0.0.1:11211,10.0.0.2:11211;zone-b=10.0.1.1:11211,10.0.1.2:11211

Options (query string), all optional:

* ``latch``: none | one | quorum | all (default one): how many zones must acknowledge a write
  before the call returns;
* ``near``: 1 to keep a near-cache in the process; ``near_ttl`` seconds (1), ``near_size``
  entries (10000);
* ``timeout`` seconds a server may take to answer (0.5); ``connections`` per memcached server
  (1); ``retry`` seconds before a server that refused a connection is tried again (1);
* ``capacity_mb`` per in-process server (64); ``servers`` per in-process zone (1) and ``zones``,
  the in-process zone names (``local``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from matinee.cache.errors import InvalidCacheUrl

DEFAULT_ZONE = "local"
_FORMS = (
    "use memory:// or memcached://zone-a=host:port,host:port;zone-b=host:port "
    "with optional ?latch=none|one|quorum|all&near=1"
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


class Latch(enum.Enum):
    """How many zones must acknowledge a write before the call returns."""

    NONE = "none"
    ONE = "one"
    QUORUM = "quorum"
    ALL = "all"

    def needed(self, zones: int) -> int:
        return {
            Latch.NONE: 0,
            Latch.ONE: min(1, zones),
            Latch.QUORUM: zones // 2 + 1,
            Latch.ALL: zones,
        }[self]


@dataclass(frozen=True)
class ZoneSpec:
    name: str
    servers: tuple[str, ...]
    """``host:port`` of each memcached server, or names of in-process servers."""


@dataclass(frozen=True)
class CacheConfig:
    backend: str  # "memory" | "memcached"
    zones: tuple[ZoneSpec, ...]
    latch: Latch = Latch.ONE
    near: bool = False
    near_ttl: float = 1.0
    near_size: int = 10_000
    timeout: float = 0.5
    connections: int = 1
    retry: float = 1.0
    capacity_mb: int = 64


def split_host_port(address: str) -> tuple[str, int]:
    match = _HOST_PORT.match(address)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise InvalidCacheUrl(f"{address!r} is not host:port; {_FORMS}")
    return match.group(1).strip("[]"), int(match.group(2))


def _zone_name(name: str, url: str) -> str:
    if not _NAME.match(name):
        raise InvalidCacheUrl(
            f"zone name {name!r} in cache URL {url!r} must be letters, digits, '-', '_' or '.'"
        )
    return name


def _memcached_zones(netloc: str, url: str) -> tuple[ZoneSpec, ...]:
    if not netloc:
        raise InvalidCacheUrl(f"cache URL {url!r} names no memcached server; {_FORMS}")
    zones: list[ZoneSpec] = []
    for part in netloc.split(";"):
        name, sep, servers = part.rpartition("=")
        if not sep:
            name, servers = DEFAULT_ZONE, part
        addresses = tuple(s.strip() for s in servers.split(",") if s.strip())
        if not addresses:
            raise InvalidCacheUrl(f"zone {name!r} in cache URL {url!r} has no server; {_FORMS}")
        for address in addresses:
            split_host_port(address)
        if len(set(addresses)) != len(addresses):
            raise InvalidCacheUrl(f"zone {name!r} in cache URL {url!r} lists a server twice")
        zones.append(ZoneSpec(_zone_name(name.strip(), url), addresses))
    if len({z.name for z in zones}) != len(zones):
        raise InvalidCacheUrl(f"cache URL {url!r} names a zone twice")
    if len(zones) > 1 and any(z.name == DEFAULT_ZONE for z in zones):
        raise InvalidCacheUrl(f"cache URL {url!r}: with several zones, name each (zone=host:port)")
    return tuple(zones)


def _number(options: dict[str, str], key: str, url: str, kind: type[float] | type[int]) -> None:
    if key in options:
        try:
            value = kind(options[key])
        except ValueError:
            value = 0
        if value <= 0:
            raise InvalidCacheUrl(f"option {key}={options[key]!r} in cache URL {url!r} must be > 0")


def _options(query: str, url: str) -> dict[str, str]:
    try:
        options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False))
    except ValueError as exc:
        raise InvalidCacheUrl(f"cache URL {url!r} has a bad query: {exc}") from exc
    known = {
        "latch", "near", "near_ttl", "near_size", "timeout", "connections", "retry",
        "capacity_mb", "servers", "zones",
    }  # fmt: skip
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidCacheUrl(
            f"cache URL {url!r} has unknown options {unknown}; known: {sorted(known)}"
        )
    for key, kind in (("near_ttl", float), ("timeout", float), ("retry", float)):
        _number(options, key, url, kind)
    for key in ("near_size", "connections", "capacity_mb", "servers"):
        _number(options, key, url, int)
    if options.get("latch", "one").lower() not in {latch.value for latch in Latch}:
        raise InvalidCacheUrl(
            f"latch={options['latch']!r} in cache URL {url!r}: use none, one, quorum or all"
        )
    if options.get("near", "0") not in ("0", "1", "true", "false"):
        raise InvalidCacheUrl(f"near={options['near']!r} in cache URL {url!r}: use 0 or 1")
    return options


def parse_cache_url(url: str) -> CacheConfig:
    """Parse a cache URL; raises InvalidCacheUrl naming what is wrong."""
    parts = urlsplit(url)
    if parts.fragment or parts.path not in ("", "/"):
        raise InvalidCacheUrl(f"cache URL {url!r} must not have a path or fragment; {_FORMS}")
    options = _options(parts.query, url)
    if parts.scheme == "memory":
        if parts.netloc:
            raise InvalidCacheUrl(f"cache URL {url!r}: memory:// takes no host; {_FORMS}")
        names = [n.strip() for n in options.get("zones", DEFAULT_ZONE).split(",") if n.strip()]
        if not names or len(set(names)) != len(names):
            raise InvalidCacheUrl(f"zones= in cache URL {url!r} must list distinct zone names")
        count = int(options.get("servers", "1"))
        zones = tuple(
            ZoneSpec(_zone_name(n, url), tuple(f"memory-{n}-{i}" for i in range(count)))
            for n in names
        )
    elif parts.scheme == "memcached":
        if "zones" in options or "servers" in options or "capacity_mb" in options:
            raise InvalidCacheUrl(
                f"cache URL {url!r}: zones, servers and capacity_mb are for memory:// only; "
                "memcached zones are written as zone=host:port,host:port;zone=..."
            )
        zones = _memcached_zones(parts.netloc, url)
    else:
        raise InvalidCacheUrl(f"unsupported cache URL {url!r}; {_FORMS}")
    return CacheConfig(
        backend=parts.scheme,
        zones=zones,
        latch=Latch(options.get("latch", "one").lower()),
        near=options.get("near", "0") in ("1", "true"),
        near_ttl=float(options.get("near_ttl", 1.0)),
        near_size=int(options.get("near_size", 10_000)),
        timeout=float(options.get("timeout", 0.5)),
        connections=int(options.get("connections", 1)),
        retry=float(options.get("retry", 1.0)),
        capacity_mb=int(options.get("capacity_mb", 64)),
    )
