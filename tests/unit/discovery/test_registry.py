"""Registry semantics on a fake clock: leases, eviction, self-preservation, deltas, overrides."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from typing import Any

from matinee.clock import FakeClock
from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.lease import RenewResult
from matinee.discovery.models import ActionType, InstanceInfo, InstanceStatus, reconcile_hashcode
from matinee.discovery.registry import Registry
from matinee.telemetry.metrics import Registry as Metrics


def make(**config: object) -> tuple[Registry, FakeClock, Metrics]:
    clock = FakeClock()
    metrics = Metrics(clock)
    cfg = DiscoveryConfig.model_validate(config)
    return Registry(cfg, clock, metrics, rng=random.Random(7)), clock, metrics


def inst(instance_id: str, app: str = "catalog", **changes: Any) -> InstanceInfo:
    info = InstanceInfo.for_service(app, instance_id, "127.0.0.1", 8000)
    return replace(info, **{"last_dirty_timestamp": 1000, **changes})


def renew_all(registry: Registry, ids: list[str], app: str = "catalog") -> None:
    for instance_id in ids:
        assert registry.renew(app, instance_id) is RenewResult.RENEWED


def test_register_then_read() -> None:
    registry, clock, _ = make()
    stored = registry.register(inst("c-1"))
    assert stored.action_type is ActionType.ADDED
    assert stored.last_updated_timestamp == int(clock.time() * 1000)
    found = registry.get_instance("catalog", "c-1")
    assert found is not None
    assert found.lease.registration_timestamp == int(clock.time() * 1000)
    assert found.lease.service_up_timestamp == found.lease.registration_timestamp
    assert registry.get_application("CATALOG") is not None
    assert registry.find_instance("c-1") == found
    assert registry.applications().apps_hashcode == "UP_1_"
    assert registry.size == 1


def test_renew_of_unknown_instance_is_not_found() -> None:
    registry, _, metrics = make()
    assert registry.renew("catalog", "nobody") is RenewResult.NOT_FOUND
    registry.register(inst("c-1"))
    assert registry.renew("catalog", "c-1") is RenewResult.RENEWED
    assert registry.renew("other", "c-1") is RenewResult.NOT_FOUND
    counter = metrics.counter("discovery.registry.renew", replication="false", outcome="not_found")
    assert counter.value == 2


def test_lease_expires_after_its_duration_without_renewal() -> None:
    registry, clock, _ = make(self_preservation=False)
    registry.register(inst("c-1"))
    registry.register(inst("c-2"))
    clock.advance(60)
    renew_all(registry, ["c-2"])
    clock.advance(30)
    assert registry.evict() == []  # exactly 90 s: not yet expired
    clock.advance(1)
    assert registry.get_instance("catalog", "c-1") is None  # expired leases are not served
    evicted = registry.evict()
    assert [i.instance_id for i in evicted] == ["c-1"]
    assert registry.lease("catalog", "c-1") is None
    assert registry.get_instance("catalog", "c-2") is not None


def test_lease_duration_comes_from_the_registrant() -> None:
    registry, clock, _ = make(self_preservation=False)
    info = inst("c-1")
    registry.register(replace(info, lease=replace(info.lease, duration_in_secs=5)))
    clock.advance(5.5)
    assert [i.instance_id for i in registry.evict()] == ["c-1"]


def test_eviction_removes_at_most_15_percent_per_run() -> None:
    registry, clock, metrics = make(self_preservation=False)
    for n in range(100):
        registry.register(inst(f"c-{n}"))
    clock.advance(91)
    assert len(registry.evict()) == 15
    assert registry.size == 85
    assert len(registry.evict()) == 85 - int(85 * 0.85)  # 13
    assert metrics.counter("discovery.registry.evicted", app="CATALOG").value == 28


def test_eviction_of_a_small_registry_follows_eurekas_formula() -> None:
    registry, clock, _ = make(self_preservation=False)
    for n in range(20):
        registry.register(inst(f"c-{n}"))
    clock.advance(91)
    assert len(registry.evict()) == 3  # 20 - int(17.0)
    lone, lone_clock, _ = make(self_preservation=False)
    lone.register(inst("only"))
    lone_clock.advance(91)
    assert len(lone.evict()) == 1  # 1 - int(0.85) = 1


def test_eviction_compensates_for_a_late_run() -> None:
    registry, clock, _ = make(self_preservation=False)
    registry.register(inst("c-1"))
    clock.advance(95)
    assert registry.evict(additional=10) == []
    assert len(registry.evict()) == 1


def test_self_preservation_stops_eviction_when_renewals_drop() -> None:
    registry, clock, metrics = make()
    ids = [f"c-{n}" for n in range(10)]
    for instance_id in ids:
        registry.register(inst(instance_id))
    assert registry.preservation.expected_clients == 10
    assert registry.preservation.threshold == 17  # 10 clients x 2 renewals a minute x 85%
    assert registry.preservation.active  # no renewals yet in the last minute
    for _ in range(2):
        clock.advance(30)
        renew_all(registry, ids)
    assert registry.preservation.renews_last_window == 20
    assert registry.preservation.lease_expiration_enabled
    # Half the fleet stops renewing (a network partition, say).
    for _ in range(4):
        clock.advance(30)
        renew_all(registry, ids[:5])
    assert registry.preservation.renews_last_window == 10
    assert registry.preservation.active
    assert metrics.gauge("discovery.registry.self_preservation").value == 1.0
    assert registry.get_instance("catalog", "c-9") is not None  # expired, but still served
    assert registry.evict() == []
    assert registry.size == 10


def test_without_self_preservation_the_same_drop_evicts() -> None:
    registry, clock, _ = make(self_preservation=False)
    ids = [f"c-{n}" for n in range(10)]
    for instance_id in ids:
        registry.register(inst(instance_id))
    for _ in range(4):
        clock.advance(30)
        renew_all(registry, ids[:5])
    assert not registry.preservation.active
    assert len(registry.evict()) == 10 - int(10 * 0.85)


def test_one_dead_instance_in_a_healthy_registry_is_evicted() -> None:
    registry, clock, _ = make()
    ids = [f"c-{n}" for n in range(20)]
    for instance_id in ids:
        registry.register(inst(instance_id))
    for _ in range(4):
        clock.advance(30)
        renew_all(registry, ids[1:])
    assert registry.preservation.renews_last_window == 38  # above the threshold of 34
    assert [i.instance_id for i in registry.evict()] == ["c-0"]


def test_cancel_lowers_expected_renewals_and_threshold_update_recounts() -> None:
    registry, _, _ = make()
    for n in range(10):
        registry.register(inst(f"c-{n}"))
    assert registry.cancel("catalog", "c-0")
    assert not registry.cancel("catalog", "c-0")
    assert registry.preservation.expected_clients == 9
    registry.update_renewal_threshold()
    assert registry.preservation.expected_clients == 9


def test_delta_holds_the_latest_change_of_each_instance_and_the_full_hashcode() -> None:
    registry, clock, _ = make(delta_retention=180)
    registry.register(inst("a-1"))
    registry.register(inst("b-1", app="billing"))
    registry.register(inst("b-2", app="billing"))
    registry.cancel("catalog", "a-1")
    registry.set_status("billing", "b-1", InstanceStatus.OUT_OF_SERVICE)
    delta = registry.delta()
    changes = {i.instance_id: i for i in delta.instances()}
    assert changes["a-1"].action_type is ActionType.DELETED
    assert changes["b-1"].action_type is ActionType.MODIFIED
    assert changes["b-1"].status is InstanceStatus.OUT_OF_SERVICE
    assert changes["b-2"].action_type is ActionType.ADDED
    assert delta.apps_hashcode == registry.applications().apps_hashcode == "OUT_OF_SERVICE_1_UP_1_"
    assert delta.apps_hashcode == reconcile_hashcode(registry.applications().instances())
    assert delta.version_delta == registry.version
    clock.advance(181)
    registry.purge_changes()
    assert list(registry.delta().instances()) == []
    assert registry.delta().apps_hashcode == "OUT_OF_SERVICE_1_UP_1_"


def test_version_moves_on_changes_not_on_renewals() -> None:
    registry, _, _ = make()
    registry.register(inst("c-1"))
    version = registry.version
    registry.renew("catalog", "c-1")
    assert registry.version == version
    registry.set_status("catalog", "c-1", InstanceStatus.OUT_OF_SERVICE)
    assert registry.version == version + 1


def test_status_override_wins_until_deleted() -> None:
    registry, _, _ = make()
    registry.register(inst("c-1"))
    assert registry.set_status("catalog", "c-1", InstanceStatus.OUT_OF_SERVICE)
    assert not registry.set_status("catalog", "nobody", InstanceStatus.OUT_OF_SERVICE)
    found = registry.get_instance("catalog", "c-1")
    assert found is not None
    assert (found.status, found.overridden_status) == (InstanceStatus.OUT_OF_SERVICE,) * 2
    # The instance registers again saying UP: the override wins.
    again = registry.register(inst("c-1"))
    assert again.status is InstanceStatus.OUT_OF_SERVICE
    assert registry.renew("catalog", "c-1") is RenewResult.RENEWED
    # An instance saying DOWN is believed, override or not.
    assert registry.register(inst("c-1", status=InstanceStatus.DOWN)).status is InstanceStatus.DOWN
    # Deleting the override leaves UNKNOWN; the next renewal asks the instance to register again.
    assert registry.delete_status_override("catalog", "c-1")
    assert registry.override_of("c-1") is None
    found = registry.get_instance("catalog", "c-1")
    assert found is not None
    assert found.status is InstanceStatus.UNKNOWN
    assert registry.renew("catalog", "c-1") is RenewResult.NOT_FOUND
    assert registry.register(inst("c-1")).status is InstanceStatus.UP


def test_registration_carrying_an_override_stores_it() -> None:
    registry, _, _ = make()
    registry.register(
        inst("c-1", overridden_status=InstanceStatus.OUT_OF_SERVICE), replication=True
    )
    assert registry.override_of("c-1") is InstanceStatus.OUT_OF_SERVICE
    assert registry.applications().apps_hashcode == "OUT_OF_SERVICE_1_"
    registry.cancel("catalog", "c-1")
    assert registry.override_of("c-1") is None


def test_dirty_timestamps_decide_who_has_the_newer_copy() -> None:
    registry, _, _ = make()
    registry.register(inst("c-1"))  # dirty 1000
    assert registry.renew("catalog", "c-1", last_dirty_timestamp=1000) is RenewResult.RENEWED
    assert registry.renew("catalog", "c-1", last_dirty_timestamp=2000) is RenewResult.NOT_FOUND
    older = registry.renew("catalog", "c-1", last_dirty_timestamp=500, replication=True)
    assert older is RenewResult.CONFLICT
    assert registry.renew("catalog", "c-1", last_dirty_timestamp=500) is RenewResult.RENEWED
    # A registration older than the stored copy does not replace it.
    registry.register(inst("c-1", last_dirty_timestamp=3000, metadata={"v": "new"}))
    registry.register(inst("c-1", last_dirty_timestamp=2000, metadata={"v": "old"}))
    found = registry.get_instance("catalog", "c-1")
    assert found is not None
    assert found.metadata == {"v": "new"}


def test_replicated_renewal_with_newer_copy_adopts_the_peers_override() -> None:
    registry, _, _ = make()
    registry.register(inst("c-1"))
    result = registry.renew(
        "catalog",
        "c-1",
        last_dirty_timestamp=5000,
        overridden_status=InstanceStatus.OUT_OF_SERVICE,
        replication=True,
    )
    assert result is RenewResult.NOT_FOUND
    assert registry.override_of("c-1") is InstanceStatus.OUT_OF_SERVICE
    assert registry.renew("catalog", "c-1") is RenewResult.RENEWED
    found = registry.get_instance("catalog", "c-1")
    assert found is not None
    assert found.status is InstanceStatus.OUT_OF_SERVICE


def test_housekeeping_loop_evicts_on_its_interval() -> None:
    async def main() -> None:
        registry, clock, _ = make(self_preservation=False, eviction_interval=60)
        registry.register(inst("c-1"))
        stop = asyncio.Event()
        task = asyncio.create_task(registry.run(stop))
        for _ in range(20):
            await asyncio.sleep(0)
            if registry.size == 0:
                break
        stop.set()
        await task
        assert registry.size == 0
        assert clock.monotonic() >= 1_000_000 + 120  # the second run found the lease expired

    asyncio.run(main())
