"""The cache URL: every form parses in one place, and every mistake is named."""

from __future__ import annotations

import pytest

from matinee.cache import InvalidCacheUrl, Latch, parse_cache_url
from matinee.cache.config import ZoneSpec


def test_memory_default() -> None:
    config = parse_cache_url("memory://")
    assert config.backend == "memory"
    assert config.zones == (ZoneSpec("local", ("memory-local-0",)),)
    assert config.latch is Latch.ONE
    assert not config.near


def test_memory_zones_and_options() -> None:
    config = parse_cache_url(
        "memory://?zones=zone-a,zone-b&servers=2&capacity_mb=8&latch=all&near=1&near_ttl=0.5"
    )
    assert [z.name for z in config.zones] == ["zone-a", "zone-b"]
    assert config.zones[1].servers == ("memory-zone-b-0", "memory-zone-b-1")
    assert (config.capacity_mb, config.latch, config.near, config.near_ttl) == (
        8,
        Latch.ALL,
        True,
        0.5,
    )


def test_memcached_zones() -> None:
    config = parse_cache_url(
        "memcached://zone-a=127.0.0.1:11211,127.0.0.1:11212;zone-b=127.0.0.1:11213,"
        "127.0.0.1:11214?latch=quorum&near=1&timeout=0.25&connections=2"
    )
    assert config.backend == "memcached"
    assert config.zones == (
        ZoneSpec("zone-a", ("127.0.0.1:11211", "127.0.0.1:11212")),
        ZoneSpec("zone-b", ("127.0.0.1:11213", "127.0.0.1:11214")),
    )
    assert (config.latch, config.timeout, config.connections) == (Latch.QUORUM, 0.25, 2)


def test_memcached_without_zone_names_is_one_local_zone() -> None:
    config = parse_cache_url("memcached://cache1.internal:11211,[::1]:11212")
    assert config.zones == (ZoneSpec("local", ("cache1.internal:11211", "[::1]:11212")),)


@pytest.mark.parametrize(
    ("zones", "needed"),
    [
        (1, (0, 1, 1, 1)),
        (2, (0, 1, 2, 2)),
        (3, (0, 1, 2, 3)),
        (4, (0, 1, 3, 4)),
    ],
)
def test_latch_counts(zones: int, needed: tuple[int, int, int, int]) -> None:
    assert tuple(latch.needed(zones) for latch in Latch) == needed


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("redis://localhost:6379", "unsupported cache URL"),
        ("memcached://", "names no memcached server"),
        ("memcached://zone-a=", "has no server"),
        ("memcached://zone-a=localhost", "is not host:port"),
        ("memcached://zone-a=localhost:99999", "is not host:port"),
        ("memcached://a=h:1;a=h:2", "names a zone twice"),
        ("memcached://a=h:1,h:1", "lists a server twice"),
        ("memcached://h:1;b=h:2", "name each"),
        ("memcached://bad zone=h:1", "zone name"),
        ("memcached://h:1?latch=most", "use none, one, quorum or all"),
        ("memcached://h:1?near=yes", "use 0 or 1"),
        ("memcached://h:1?timeout=0", "must be > 0"),
        ("memcached://h:1?timeout=soon", "must be > 0"),
        ("memcached://h:1?colour=blue", "unknown options ['colour']"),
        ("memcached://h:1?servers=2", "memory:// only"),
        ("memcached://h:1/path", "path"),
        ("memory://host", "takes no host"),
        ("memory://?zones=a,a", "distinct zone names"),
    ],
)
def test_bad_urls_are_named(url: str, words: str) -> None:
    with pytest.raises(InvalidCacheUrl, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_cache_url(url)
