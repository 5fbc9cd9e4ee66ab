"""The meters of one cache name, looked up once so the hot path only records.

* ``cache.get`` timer {cache, zone, result=hit|miss|error}: one read in one zone (its count per
  result gives the zone's hits, misses and errors);
* ``cache.lookups`` counter {cache, result=hit|miss}: reads as callers see them, after fallback;
  ``cache.hit_ratio`` gauge {cache} is hits / lookups;
* ``cache.fallbacks`` counter {cache, zone, reason=miss|error}: a read that left ``zone`` for the
  next one (logged once per cache, zone and reason);
* ``cache.write`` timer {cache, zone, op=set|add|delete|touch, result=ok|error};
* ``cache.latch.unmet`` counter {cache, op}: writes that returned before enough zones
  acknowledged (their call returned False);
* ``cache.near`` counter {cache, result=hit|miss}, ``cache.loads`` counter {cache,
  result=loaded|joined|fallback} (``get_or_load``; joined = served by another caller's load),
  ``cache.chunks.invalid`` counter {cache, zone} and ``cache.add.conflicts`` counter {cache}.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial

from matinee.telemetry.metrics import Counter, Registry, Timer

log = logging.getLogger("matinee.cache")


class CacheMeters:
    def __init__(self, registry: Registry, cache: str, zones: Sequence[str]) -> None:
        self._registry = registry
        self.cache = cache
        self.get: dict[tuple[str, str], Timer] = {
            (zone, result): registry.timer("cache.get", cache=cache, zone=zone, result=result)
            for zone in zones
            for result in ("hit", "miss", "error")
        }
        self.hits = registry.counter("cache.lookups", cache=cache, result="hit")
        self.misses = registry.counter("cache.lookups", cache=cache, result="miss")
        registry.gauge_fn("cache.hit_ratio", self._hit_ratio, cache=cache)
        self.near_hits = registry.counter("cache.near", cache=cache, result="hit")
        self.near_misses = registry.counter("cache.near", cache=cache, result="miss")
        self.broken: dict[str, Callable[[], None]] = {
            zone: partial(self.count, "cache.chunks.invalid", zone=zone) for zone in zones
        }
        self._write: dict[tuple[str, str, bool], Timer] = {}
        self._counters: dict[tuple[str, ...], Counter] = {}
        self._logged: set[tuple[str, ...]] = set()

    def _hit_ratio(self) -> float:
        total = self.hits.value + self.misses.value
        return self.hits.value / total if total else 0.0

    def write(self, zone: str, op: str, ok: bool) -> Timer:
        timer = self._write.get((zone, op, ok))
        if timer is None:
            result = "ok" if ok else "error"
            timer = self._registry.timer(
                "cache.write", cache=self.cache, zone=zone, op=op, result=result
            )
            self._write[(zone, op, ok)] = timer
        return timer

    def count(self, name: str, **tags: str) -> None:
        key = (name, *(f"{k}={v}" for k, v in sorted(tags.items())))
        counter = self._counters.get(key)
        if counter is None:
            counter = self._registry.counter(name, cache=self.cache, **tags)
            self._counters[key] = counter
        counter.inc()

    def fallback(self, zone: str, reason: str, detail: str) -> None:
        """Count a read that moves on from ``zone``; log the first one of its kind."""
        self.count("cache.fallbacks", zone=zone, reason=reason)
        self.log_once(
            ("fallback", zone, reason),
            "zone %s %s; reading the next zone (counted in cache.fallbacks)",
            zone,
            detail,
            level=logging.WARNING if reason == "error" else logging.INFO,
        )

    def log_once(
        self, key: tuple[str, ...], message: str, *args: object, level: int = logging.WARNING
    ) -> None:
        """Log ``message`` the first time ``key`` is seen for this cache (and never again)."""
        if key in self._logged:
            return
        self._logged.add(key)
        log.log(level, "cache %s: " + message, self.cache, *args)
