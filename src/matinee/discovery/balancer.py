"""Client-side load balancing over discovered instances (Ribbon's role).

For each call the balancer picks one UP instance of an application:

1. instances the caller excludes (already tried in this call) are left out;
2. instances that failed in the last ``skip_seconds`` are left out, like Ribbon's
   "circuit-tripped" servers - unless that leaves none, in which case they are tried anyway (as
   Ribbon's availability rule falls back to plain round robin);
3. instances in the caller's zone are preferred; other zones are used only when the caller's
   zone has none left;
4. the rule picks among what remains: ``round_robin``, or ``least_outstanding`` (fewest calls in
   flight from this balancer, ties broken round robin).

``on_start``/``on_finish`` report each call, keeping the outstanding counts and the skip list.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Literal, Protocol

from matinee.clock import Clock
from matinee.discovery.models import DEFAULT_ZONE, InstanceInfo
from matinee.resilience.errors import NoInstance
from matinee.telemetry.metrics import Registry as Metrics

log = logging.getLogger(__name__)

Rule = Literal["round_robin", "least_outstanding"]
RULES: tuple[Rule, ...] = ("round_robin", "least_outstanding")


class InstanceSource(Protocol):
    """Where the balancer reads instances (a :class:`DiscoveryClient`, or a fixed list)."""

    def instances(self, app: str) -> list[InstanceInfo]:
        """The UP instances of ``app``."""
        ...


class LoadBalancer:
    """Chooses an instance of ``app`` for each call, zone-aware, skipping recent failures."""

    def __init__(
        self,
        discovery: InstanceSource,
        app: str,
        *,
        clock: Clock,
        zone: str = DEFAULT_ZONE,
        rule: Rule = "round_robin",
        skip_seconds: float = 30.0,
        metrics: Metrics | None = None,
    ) -> None:
        if rule not in RULES:
            raise ValueError(f"unknown balancing rule {rule!r}; use one of {', '.join(RULES)}")
        self.app = app.upper()
        self.zone = zone
        self.rule = rule
        self.skip_seconds = skip_seconds
        self._discovery = discovery
        self._clock = clock
        self._metrics = metrics
        self._next = 0
        self._outstanding: dict[str, int] = {}
        self._skip_until: dict[str, float] = {}

    def choose(self, exclude: Collection[str] = ()) -> InstanceInfo:
        """One instance for the next call; raises :class:`NoInstance` when there is none."""
        up = self._discovery.instances(self.app)
        if exclude:
            up = [i for i in up if i.instance_id not in exclude]
        if not up:
            tried = f" besides {len(exclude)} already tried" if exclude else ""
            raise NoInstance(f"no instance of {self.app} is up{tried}", dependency=self.app.lower())
        pool = up
        skip = self._skip_until
        if skip:  # on every call, so the common case (nothing skipped) skips the clock
            now = self._clock.monotonic()
            pool = [i for i in up if skip.get(i.instance_id, 0.0) <= now] or up
        zone = self.zone
        candidates = [i for i in pool if i.zone == zone] or pool
        start = self._next % len(candidates)
        self._next += 1
        if self.rule == "round_robin":
            return candidates[start]
        rotated = candidates[start:] + candidates[:start]
        return min(rotated, key=lambda i: self._outstanding.get(i.instance_id, 0))

    def on_start(self, instance: InstanceInfo) -> None:
        """A call to ``instance`` begins."""
        key = instance.instance_id
        self._outstanding[key] = self._outstanding.get(key, 0) + 1

    def on_finish(self, instance: InstanceInfo, ok: bool) -> None:
        """A call to ``instance`` ended; a failure skips the instance for ``skip_seconds``."""
        key = instance.instance_id
        left = self._outstanding.get(key, 0) - 1
        if left > 0:
            self._outstanding[key] = left
        else:
            self._outstanding.pop(key, None)
        if ok:
            self._skip_until.pop(key, None)
            return
        if self._skip_until.get(key, 0.0) <= self._clock.monotonic():
            log.info("skipping %s/%s for %ss after a failure", self.app, key, self.skip_seconds)
            if self._metrics is not None:
                self._metrics.counter("discovery.balancer.skip", app=self.app.lower()).inc()
        self._skip_until[key] = self._clock.monotonic() + self.skip_seconds

    def outstanding(self, instance_id: str) -> int:
        return self._outstanding.get(instance_id, 0)

    def skipped(self) -> list[str]:
        """Ids of the instances skipped right now."""
        now = self._clock.monotonic()
        return sorted(k for k, until in self._skip_until.items() if until > now)
