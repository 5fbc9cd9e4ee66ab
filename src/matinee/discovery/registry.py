"""The registry of leases, with Eureka's semantics (``AbstractInstanceRegistry`` and friends).

* An instance registers, then renews its lease every ``renewal_interval``; a lease not renewed
  for its duration (90 s) expires. Renewing an unknown instance answers NOT_FOUND, so the client
  registers again.
* An eviction run every ``eviction_interval`` cancels expired leases in random order, but never
  more than ``size - int(size * 0.85)`` of them per run (15% of a large registry).
* Self-preservation: when the renewals of the last minute are not above 85% of those expected
  (2 a minute per instance), no lease expires at all - the registry assumes the network, not
  the instances, failed.
* Every change goes to a queue kept for ``delta_retention`` (3 minutes); a delta lists the latest
  change of each instance in it, with the hash code of the WHOLE registry so clients can check
  that the delta brought them to the same state.
* Status overrides (``PUT .../status?value=OUT_OF_SERVICE``) win over what the instance says,
  except that an instance reporting DOWN or STARTING is believed (Eureka's rule chain).

Differences from Eureka, on purpose: a lease expires ``duration`` after its last renewal (Eureka
waits twice that); a status change made while renewing is put in the delta queue too. The
registry is not thread-safe: one event loop owns it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import replace

from matinee.clock import Clock
from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.lease import Lease, RenewResult, effective_status
from matinee.discovery.models import (
    ActionType,
    Application,
    Applications,
    InstanceInfo,
    InstanceStatus,
)
from matinee.discovery.preservation import SelfPreservation
from matinee.telemetry.metrics import Registry as Metrics

log = logging.getLogger(__name__)


class Registry:
    """Leases by application and instance id, plus overrides, the delta queue and counters."""

    def __init__(
        self,
        config: DiscoveryConfig,
        clock: Clock,
        metrics: Metrics,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._metrics = metrics
        self._rng = rng or random.Random()  # noqa: S311 - picks eviction order, not a secret
        self._leases: dict[str, dict[str, Lease]] = {}
        self._overrides: dict[str, InstanceStatus] = {}
        self._changes: deque[tuple[float, InstanceInfo]] = deque()
        self._version = 1
        self.preservation = SelfPreservation(config, clock)
        sp = self.preservation
        metrics.gauge_fn("discovery.registry.size", lambda: float(self.size))
        metrics.gauge_fn("discovery.registry.renews", lambda: float(sp.renews_last_window))
        metrics.gauge_fn("discovery.registry.renew_threshold", lambda: float(sp.threshold))
        metrics.gauge_fn("discovery.registry.self_preservation", lambda: float(sp.active))

    # -- state -----------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Goes up by one on every change a client could see (not on plain renewals)."""
        return self._version

    @property
    def size(self) -> int:
        return sum(len(leases) for leases in self._leases.values())

    def lease(self, app: str, instance_id: str) -> Lease | None:
        return self._leases.get(app.upper(), {}).get(instance_id)

    def overrides(self) -> dict[str, InstanceStatus]:
        return dict(self._overrides)

    def override_of(self, instance_id: str) -> InstanceStatus | None:
        return self._overrides.get(instance_id)

    # -- writes ----------------------------------------------------------------------------

    def register(self, info: InstanceInfo, *, replication: bool = False) -> InstanceInfo:
        """Create or replace the lease of ``info``; returns the instance as now stored."""
        info.validate()
        now, now_ms = self._clock.monotonic(), self._now_ms()
        leases = self._leases.setdefault(info.app, {})
        existing = leases.get(info.instance_id)
        if existing is not None:
            if existing.holder.last_dirty_timestamp > info.last_dirty_timestamp:
                log.info("keeping the newer copy of %s/%s", info.app, info.instance_id)
                info = existing.holder
        else:
            self.preservation.client_added()
        duration = info.lease.duration_in_secs or self.config.lease_duration
        lease = Lease(info, duration, now_ms, now, now_ms)
        if existing is not None:
            lease.service_up_ms = existing.service_up_ms
        if info.overridden_status is not InstanceStatus.UNKNOWN:
            self._overrides.setdefault(info.instance_id, info.overridden_status)
        override = self._overrides.get(info.instance_id)
        if override is not None:
            info = replace(info, overridden_status=override)
        status = effective_status(info, existing, self._overrides, replication=replication)
        if status is InstanceStatus.UP and lease.service_up_ms == 0:
            lease.service_up_ms = now_ms
        lease.holder = replace(
            info, status=status, action_type=ActionType.ADDED, last_updated_timestamp=now_ms
        )
        leases[info.instance_id] = lease
        self._changed(lease)
        self._metrics.counter("discovery.registry.register", replication=_flag(replication)).inc()
        log.info("registered %s/%s %s", info.app, info.instance_id, status.value)
        return lease.holder

    def renew(
        self,
        app: str,
        instance_id: str,
        *,
        last_dirty_timestamp: int | None = None,
        overridden_status: InstanceStatus | None = None,
        replication: bool = False,
    ) -> RenewResult:
        lease = self.lease(app, instance_id)
        result = self._renew(lease, replication)
        if lease is not None and result is RenewResult.RENEWED and last_dirty_timestamp is not None:
            result = self._check_dirty(lease, last_dirty_timestamp, overridden_status, replication)
        self._metrics.counter(
            "discovery.registry.renew", replication=_flag(replication), outcome=result.value
        ).inc()
        return result

    def cancel(self, app: str, instance_id: str, *, replication: bool = False) -> bool:
        found = self._cancel(app.upper(), instance_id)
        outcome = "cancelled" if found else "not_found"
        self._metrics.counter(
            "discovery.registry.cancel", replication=_flag(replication), outcome=outcome
        ).inc()
        return found

    def set_status(
        self,
        app: str,
        instance_id: str,
        status: InstanceStatus,
        *,
        last_dirty_timestamp: int | None = None,
    ) -> bool:
        """Override the status (``PUT .../status?value=``); False for an unknown instance."""
        lease = self.lease(app, instance_id)
        if lease is None:
            return False
        self._touch(lease)
        info = lease.holder
        if info.status is not status:
            if status is InstanceStatus.UP and lease.service_up_ms == 0:
                lease.service_up_ms = self._now_ms()
            self._overrides[instance_id] = status
            lease.holder = self._modified(
                info, status=status, overridden=status, dirty=last_dirty_timestamp
            )
            self._changed(lease)
        return True

    def delete_status_override(
        self,
        app: str,
        instance_id: str,
        *,
        new_status: InstanceStatus = InstanceStatus.UNKNOWN,
        last_dirty_timestamp: int | None = None,
    ) -> bool:
        """Remove the override; the instance shows ``new_status`` until it registers again."""
        lease = self.lease(app, instance_id)
        if lease is None:
            return False
        self._touch(lease)
        if self._overrides.pop(instance_id, None) is not None:
            lease.holder = self._modified(
                lease.holder,
                status=new_status,
                overridden=InstanceStatus.UNKNOWN,
                dirty=last_dirty_timestamp,
            )
            self._changed(lease)
        return True

    def store_override(self, app: str, instance_id: str, status: InstanceStatus) -> None:
        """Adopt an override a peer knows about (after a restart this registry may not)."""
        if self._overrides.get(instance_id) is status:
            return
        self._overrides[instance_id] = status
        lease = self.lease(app, instance_id)
        if lease is not None:
            lease.holder = replace(lease.holder, overridden_status=status)

    # -- reads -----------------------------------------------------------------------------

    def get_instance(self, app: str, instance_id: str) -> InstanceInfo | None:
        lease = self.lease(app, instance_id)
        if lease is None:
            return None
        if self.preservation.lease_expiration_enabled and lease.is_expired(self._clock.monotonic()):
            return None
        return lease.decorated()

    def find_instance(self, instance_id: str) -> InstanceInfo | None:
        for app in self._leases:
            found = self.get_instance(app, instance_id)
            if found is not None:
                return found
        return None

    def get_application(self, app: str) -> Application | None:
        leases = self._leases.get(app.upper())
        if not leases:
            return None
        instances = sorted((lease.decorated() for lease in leases.values()), key=_by_id)
        return Application(app.upper(), tuple(instances))

    def applications(self) -> Applications:
        return Applications.of(self._all(), version=self._version)

    def delta(self) -> Applications:
        """The latest queued change of each instance, with the full registry's hash code."""
        self.purge_changes()
        latest: dict[tuple[str, str], InstanceInfo] = {}
        for _, info in self._changes:
            latest[info.app, info.instance_id] = info
        full = Applications.of(self._all(), version=self._version)
        changed = Applications.of(latest.values(), version=self._version)
        return replace(changed, apps_hashcode=full.apps_hashcode)

    # -- housekeeping ----------------------------------------------------------------------

    def evict(self, additional: float = 0.0) -> list[InstanceInfo]:
        """Cancel expired leases, at most ``size - int(size * 0.85)`` of them, in random order.

        ``additional`` extends every lease (the time the eviction task ran late, e.g. after a
        pause), so a late run does not evict leases that only look expired.
        """
        if not self.preservation.lease_expiration_enabled:
            return []
        now = self._clock.monotonic()
        expired = [
            lease
            for leases in self._leases.values()
            for lease in leases.values()
            if lease.is_expired(now, additional)
        ]
        size = self.size
        limit = size - int(size * self.config.renewal_percent_threshold)
        chosen = self._rng.sample(expired, min(len(expired), limit))
        evicted: list[InstanceInfo] = []
        for lease in chosen:
            info = lease.holder
            log.warning("lease of %s/%s expired: evicting it", info.app, info.instance_id)
            self._cancel(info.app, info.instance_id)
            self._metrics.counter("discovery.registry.evicted", app=info.app).inc()
            evicted.append(info)
        return evicted

    def purge_changes(self) -> None:
        horizon = self._clock.monotonic() - self.config.delta_retention
        while self._changes and self._changes[0][0] < horizon:
            self._changes.popleft()

    def update_renewal_threshold(self) -> None:
        """Re-count the clients expected to renew (Eureka's 15-minute task)."""
        self.preservation.recount(self.size)

    async def run(self, stop: asyncio.Event) -> None:
        """Evict, purge the delta queue and re-count clients on their intervals until ``stop``."""
        cfg = self.config
        now = self._clock.monotonic()
        due = {
            "evict": now + cfg.eviction_interval,
            "purge": now + cfg.delta_retention_check_interval,
            "threshold": now + cfg.renewal_threshold_update_interval,
        }
        last_evict = now
        while not stop.is_set():
            wait = max(0.0, min(due.values()) - self._clock.monotonic())
            sleeper = asyncio.ensure_future(self._clock.sleep(wait))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            sleeper.cancel()
            stopper.cancel()
            now = self._clock.monotonic()
            if stop.is_set():
                return
            if now >= due["evict"]:
                late = max(0.0, now - last_evict - cfg.eviction_interval)
                self.evict(late)
                last_evict = now
                due["evict"] = now + cfg.eviction_interval
            if now >= due["purge"]:
                self.purge_changes()
                due["purge"] = now + cfg.delta_retention_check_interval
            if now >= due["threshold"]:
                self.update_renewal_threshold()
                due["threshold"] = now + cfg.renewal_threshold_update_interval

    # -- internals -------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._clock.time() * 1000)

    def _all(self) -> list[InstanceInfo]:
        return [lease.decorated() for leases in self._leases.values() for lease in leases.values()]

    def _renew(self, lease: Lease | None, replication: bool) -> RenewResult:
        if lease is None:
            return RenewResult.NOT_FOUND
        status = effective_status(lease.holder, lease, self._overrides, replication=replication)
        if status is InstanceStatus.UNKNOWN:
            # The override was deleted: the instance must say again what it is.
            return RenewResult.NOT_FOUND
        if lease.holder.status is not status:
            lease.holder = replace(lease.holder, status=status, action_type=ActionType.MODIFIED)
            self._changed(lease)
        self.preservation.renewed()
        self._touch(lease)
        return RenewResult.RENEWED

    def _check_dirty(
        self,
        lease: Lease,
        theirs: int,
        overridden_status: InstanceStatus | None,
        replication: bool,
    ) -> RenewResult:
        if not self.config.sync_when_timestamp_differs:
            return RenewResult.RENEWED
        ours = lease.holder.last_dirty_timestamp
        if theirs > ours:
            if (
                replication
                and overridden_status is not None
                and overridden_status is not InstanceStatus.UNKNOWN
            ):
                self.store_override(lease.holder.app, lease.holder.instance_id, overridden_status)
            return RenewResult.NOT_FOUND
        if ours > theirs and replication:
            return RenewResult.CONFLICT
        return RenewResult.RENEWED

    def _cancel(self, app: str, instance_id: str) -> bool:
        leases = self._leases.get(app)
        lease = leases.pop(instance_id, None) if leases is not None else None
        self._overrides.pop(instance_id, None)
        if leases is not None and not leases:
            del self._leases[app]
        if lease is None:
            return False
        now_ms = self._now_ms()
        lease.eviction_ms = now_ms
        lease.holder = replace(
            lease.holder, action_type=ActionType.DELETED, last_updated_timestamp=now_ms
        )
        self._changed(lease)
        self.preservation.client_removed()
        log.info("cancelled %s/%s", app, instance_id)
        return True

    def _touch(self, lease: Lease) -> None:
        lease.last_renewal = self._clock.monotonic()
        lease.last_renewal_ms = self._now_ms()

    def _modified(
        self,
        info: InstanceInfo,
        *,
        status: InstanceStatus,
        overridden: InstanceStatus,
        dirty: int | None,
    ) -> InstanceInfo:
        return replace(
            info,
            status=status,
            overridden_status=overridden,
            last_dirty_timestamp=max(info.last_dirty_timestamp, dirty or 0),
            action_type=ActionType.MODIFIED,
            last_updated_timestamp=self._now_ms(),
        )

    def _changed(self, lease: Lease) -> None:
        self._version += 1
        self._changes.append((self._clock.monotonic(), lease.decorated()))


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _by_id(info: InstanceInfo) -> str:
    return info.instance_id
