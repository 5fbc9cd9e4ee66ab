"""The discovery client (Eureka's ``DiscoveryClient``): register, heartbeat, and a local cache.

* ``start()`` registers this instance (when it has one), fetches the whole registry, then runs
  two loops: a heartbeat every ``renewal_interval`` and a refresh every
  ``registry_fetch_interval``. Until a loop's first success (the registry may not be up yet)
  it retries sooner: after ``startup_retry_interval``, doubling up to its normal interval.
* A refresh fetches the delta, applies it, and compares the hash code of the cache with the
  registry's; when they differ (or the cache is older than the delta retention) it fetches the
  whole registry instead.
* A renewal answered 404 means the registry forgot this instance: it registers again.
* Registry peers are tried in turn. When none answers, the cache stays as it was and lookups keep
  routing from it (``discovery.cache.stale`` counts those refreshes).
* ``stop()`` ends the loops and cancels the registration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import quote, urlencode

from matinee.clock import Clock
from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.errors import InvalidInstance, RegistryUnavailable
from matinee.discovery.models import (
    ActionType,
    Applications,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
    reconcile_hashcode,
)
from matinee.discovery.peers import RegistryPeers, RequestFn, ResponseLike
from matinee.telemetry.metrics import Registry as Metrics

log = logging.getLogger(__name__)


class DiscoveryClient:
    """Registers ``self_info`` (if given) and keeps a cache of the registry for lookups."""

    def __init__(
        self,
        config: DiscoveryConfig,
        request: RequestFn,
        clock: Clock,
        metrics: Metrics,
        self_info: InstanceInfo | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._metrics = metrics
        self._peers = RegistryPeers(config.registry_urls, request, timeout=config.request_timeout)
        self._self = self._prepared(self_info) if self_info is not None else None
        self._cache: dict[str, dict[str, InstanceInfo]] = {}
        self._up: dict[str, list[InstanceInfo]] = {}  # instances() answers, per app
        self._version = 0
        self._hashcode = ""
        self._last_fetch: float | None = None
        self._registered = False
        self._stale = False
        self._tasks: list[asyncio.Task[None]] = []
        self._failing: set[str] = set()  # what failed last time (logged once until it works)
        owner = self._self.instance_id if self._self is not None else "anonymous"
        metrics.gauge_fn("discovery.cache.age", self.cache_age, instance=owner)

    # -- this instance ---------------------------------------------------------------------

    @property
    def self_info(self) -> InstanceInfo | None:
        return self._self

    @property
    def registered(self) -> bool:
        return self._registered

    async def register(self) -> bool:
        """Register this instance with the first registry peer that answers."""
        if self._self is None:
            return False
        info = self._self
        body = json.dumps({"instance": info.to_json()}).encode()
        try:
            response = await self._peers.call("POST", f"/apps/{_q(info.app)}", body=body)
        except RegistryUnavailable as exc:
            return self._failed("register", exc)
        ok = response.status in (200, 204)
        self._count("discovery.client.register", "ok" if ok else f"http_{response.status}")
        if not ok:
            log.warning("registry refused %s: %s", info.instance_id, _text(response))
        self._registered = ok
        return ok

    async def renew(self) -> bool:
        """Send one heartbeat; register again when the registry does not know this instance."""
        if self._self is None:
            return False
        if not self._registered:
            return await self.register()
        info = self._self
        query = urlencode(
            {"status": info.status.value, "lastDirtyTimestamp": str(info.last_dirty_timestamp)}
        )
        path = f"/apps/{_q(info.app)}/{_q(info.instance_id)}?{query}"
        try:
            response = await self._peers.call("PUT", path)
        except RegistryUnavailable as exc:
            return self._failed("heartbeat", exc)
        if response.status == 404:
            self._count("discovery.client.heartbeat", "not_found")
            log.info("registry does not know %s; registering again", info.instance_id)
            return await self.register()
        ok = response.status == 200
        self._count("discovery.client.heartbeat", "ok" if ok else f"http_{response.status}")
        return ok

    async def set_status(self, status: InstanceStatus) -> bool:
        """Change this instance's status and tell the registry (it registers again)."""
        if self._self is None:
            return False
        self._self = replace(self._self, status=status, last_dirty_timestamp=self._now_ms())
        return await self.register()

    async def deregister(self) -> bool:
        """Cancel this instance's lease (``DELETE``); False when no registry answered."""
        if self._self is None or not self._registered:
            return False
        info = self._self
        try:
            response = await self._peers.call(
                "DELETE", f"/apps/{_q(info.app)}/{_q(info.instance_id)}"
            )
        except RegistryUnavailable as exc:
            return self._failed("cancel", exc)
        self._registered = False
        self._count("discovery.client.cancel", "ok" if response.status == 200 else "not_found")
        return response.status == 200

    # -- the cache -------------------------------------------------------------------------

    def instances(self, app: str) -> list[InstanceInfo]:
        """The UP instances of ``app`` in the cache, by instance id (called on every request)."""
        name = app.upper()
        up = self._up.get(name)
        if up is None:
            found = self._cache.get(name, {}).values()
            up = sorted((i for i in found if i.status is InstanceStatus.UP), key=_by_id)
            self._up[name] = up
        return list(up)

    def all_instances(self, app: str) -> list[InstanceInfo]:
        return sorted(self._cache.get(app.upper(), {}).values(), key=_by_id)

    def applications(self) -> Applications:
        every = (i for found in self._cache.values() for i in found.values())
        return Applications.of(every, version=self._version)

    @property
    def stale(self) -> bool:
        """True while the last refresh reached no registry peer (lookups use the old cache)."""
        return self._stale

    def cache_age(self) -> float:
        """Seconds since the cache was last brought up to date (0 before the first fetch)."""
        if self._last_fetch is None:
            return 0.0
        return self._clock.monotonic() - self._last_fetch

    async def refresh(self) -> bool:
        """Bring the cache up to date (delta, or the whole registry); False if no peer answered."""
        try:
            if self._needs_full_fetch() or not await self._fetch_delta():
                await self._fetch_full()
        except (RegistryUnavailable, InvalidInstance, ValueError) as exc:
            self._metrics.counter("discovery.cache.stale").inc()
            if not self._stale:
                log.warning("routing from the cached registry (%d apps): %s", len(self._cache), exc)
            self._stale = True
            return False
        if self._stale:
            log.info("registry reachable again; cache refreshed")
        self._stale = False
        self._last_fetch = self._clock.monotonic()
        return True

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Register, fetch the registry, and start the heartbeat and refresh loops.

        Neither failing stops the start: the loops keep trying.
        """
        registered = await self.register()
        fetched = await self.refresh()
        if not self._tasks:
            fetch = self._every(self.config.registry_fetch_interval, self.refresh, ok=fetched)
            self._tasks = [asyncio.create_task(fetch)]
            if self._self is not None:
                # renew() registers while this instance is not registered yet
                beat = self._every(self.config.renewal_interval, self.renew, ok=registered)
                self._tasks.append(asyncio.create_task(beat))

    async def stop(self, *, deregister: bool = True) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if deregister:
            await self.deregister()

    # -- internals -------------------------------------------------------------------------

    def _prepared(self, info: InstanceInfo) -> InstanceInfo:
        """The instance with this config's lease and a dirty timestamp."""
        lease = LeaseInfo(self.config.renewal_interval, self.config.lease_duration)
        dirty = info.last_dirty_timestamp or self._now_ms()
        return replace(info, app=info.app.upper(), lease=lease, last_dirty_timestamp=dirty)

    def _needs_full_fetch(self) -> bool:
        age = self.cache_age()
        return self._last_fetch is None or not self._cache or age >= self.config.delta_retention

    async def _fetch_full(self) -> None:
        response = await self._peers.call("GET", "/apps/")
        if response.status != 200:
            raise RegistryUnavailable(f"the registry answered {response.status} to a full fetch")
        apps = Applications.from_json(json.loads(response.body))
        self._cache, self._up = {}, {}
        for info in apps.instances():
            self._cache.setdefault(info.app, {})[info.instance_id] = info
        self._version, self._hashcode = apps.version_delta, apps.apps_hashcode
        self._count("discovery.client.fetch", "full")

    async def _fetch_delta(self) -> bool:
        """Apply the delta; False when a full fetch is needed (no delta, or hash mismatch)."""
        response = await self._peers.call("GET", "/apps/delta")
        if response.status != 200:
            return False
        delta = Applications.from_json(json.loads(response.body))
        self._up = {}
        for info in delta.instances():
            found = self._cache.setdefault(info.app, {})
            if info.action_type is ActionType.DELETED:
                found.pop(info.instance_id, None)
                if not found:
                    del self._cache[info.app]
            else:
                found[info.instance_id] = info
        local = reconcile_hashcode(i for found in self._cache.values() for i in found.values())
        if local != delta.apps_hashcode:
            self._count("discovery.client.fetch", "reconcile")
            log.info("cache hash %s differs from registry %s", local, delta.apps_hashcode)
            return False
        self._version, self._hashcode = delta.version_delta, delta.apps_hashcode
        self._count("discovery.client.fetch", "delta")
        return True

    async def _every(
        self, interval: float, action: Callable[[], Awaitable[bool]], *, ok: bool
    ) -> None:
        """Run ``action`` every ``interval``. Until it has worked once (``ok``: it already has),
        run it again sooner: after ``startup_retry_interval``, doubling up to ``interval``."""
        retry = None if ok else min(self.config.startup_retry_interval, interval)
        while True:
            wait = interval if retry is None else retry
            await self._clock.sleep(wait)
            worked = False
            try:
                worked = await action()
            except Exception:  # a loop must outlive any single failure
                log.exception("discovery background task failed; it runs again in %ss", wait)
            if worked:
                retry = None
            elif retry is not None:
                retry = min(retry * 2, interval)

    def _failed(self, what: str, exc: RegistryUnavailable) -> bool:
        self._count(f"discovery.client.{what}", "unavailable")
        if what not in self._failing:
            log.warning("discovery %s failed (logged once until it works): %s", what, exc)
            self._failing.add(what)
        return False

    def _count(self, name: str, outcome: str) -> None:
        if outcome == "ok":
            self._failing.discard(name.rpartition(".")[2])
        self._metrics.counter(name, outcome=outcome).inc()

    def _now_ms(self) -> int:
        return int(self._clock.time() * 1000)


def _q(part: str) -> str:
    return quote(part, safe="")


def _text(response: ResponseLike) -> str:
    return response.body[:200].decode(errors="replace")


def _by_id(info: InstanceInfo) -> str:
    return info.instance_id
