"""A lease on one instance, and Eureka's rules for the status the registry shows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from matinee.discovery.models import InstanceInfo, InstanceStatus, LeaseInfo

_BELIEVED = frozenset({InstanceStatus.UP, InstanceStatus.OUT_OF_SERVICE})


class RenewResult(StrEnum):
    RENEWED = "renewed"
    NOT_FOUND = "not_found"  # unknown instance, or the caller's copy is newer: register again
    CONFLICT = "conflict"  # a replica sent an older copy: it should take ours (409)


@dataclass(slots=True)
class Lease:
    """The registry's record of one instance: what it said, and when it last renewed.

    A lease expires ``duration`` after its last renewal (Eureka waits twice that, a bug it keeps
    for compatibility).
    """

    holder: InstanceInfo
    duration: float
    registration_ms: int
    last_renewal: float  # monotonic seconds
    last_renewal_ms: int
    service_up_ms: int = 0
    eviction_ms: int = 0

    def is_expired(self, now: float, additional: float = 0.0) -> bool:
        return now > self.last_renewal + self.duration + additional

    def decorated(self) -> InstanceInfo:
        """The holder with the lease's timestamps, as the registry shows it."""
        lease = self.holder.lease
        return replace(
            self.holder,
            lease=LeaseInfo(
                renewal_interval_in_secs=lease.renewal_interval_in_secs,
                duration_in_secs=self.duration,
                registration_timestamp=self.registration_ms,
                last_renewal_timestamp=self.last_renewal_ms,
                eviction_timestamp=self.eviction_ms,
                service_up_timestamp=self.service_up_ms,
            ),
        )


def effective_status(
    info: InstanceInfo,
    existing: Lease | None,
    overrides: Mapping[str, InstanceStatus],
    *,
    replication: bool,
) -> InstanceStatus:
    """Eureka's status rules, first match wins.

    1. An instance saying DOWN or STARTING (or UNKNOWN) is believed.
    2. An override (``PUT .../status``) wins over UP or OUT_OF_SERVICE.
    3. A client (not a peer) saying UP keeps an existing lease's UP or OUT_OF_SERVICE.
    4. Otherwise, what the instance says.
    """
    if info.status not in _BELIEVED:
        return info.status
    override = overrides.get(info.instance_id)
    if override is not None:
        return override
    if not replication and existing is not None and existing.holder.status in _BELIEVED:
        return existing.holder.status
    return info.status
