"""The Ribbon role: zone preference, round robin, least outstanding, skipping failed instances."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from matinee.clock import FakeClock
from matinee.discovery.balancer import LoadBalancer, Rule
from matinee.discovery.models import InstanceInfo, InstanceStatus
from matinee.resilience.errors import NoInstance
from matinee.telemetry.metrics import Registry as Metrics


class Fleet:
    """A fixed set of instances, as a discovery client's cache would answer (UP only)."""

    def __init__(self, *instances: InstanceInfo) -> None:
        self.all = list(instances)

    def instances(self, app: str) -> list[InstanceInfo]:
        up = [i for i in self.all if i.app == app.upper() and i.status is InstanceStatus.UP]
        return sorted(up, key=lambda i: i.instance_id)


def node(instance_id: str, zone: str, port: int = 8000) -> InstanceInfo:
    return InstanceInfo.for_service("media", instance_id, "127.0.0.1", port, zone=zone)


FLEET = Fleet(node("a-1", "zone-a"), node("a-2", "zone-a"), node("b-1", "zone-b"))


def balancer(rule: Rule = "round_robin", fleet: Fleet = FLEET) -> tuple[LoadBalancer, FakeClock]:
    clock = FakeClock()
    lb = LoadBalancer(
        fleet, "media", zone="zone-a", rule=rule, clock=clock, skip_seconds=30, metrics=Metrics()
    )
    return lb, clock


def test_round_robin_stays_in_the_callers_zone() -> None:
    lb, _ = balancer()
    picks = [lb.choose().instance_id for _ in range(6)]
    assert picks == ["a-1", "a-2"] * 3


def test_other_zones_are_used_when_the_zone_has_none_left() -> None:
    lb, _ = balancer()
    assert lb.choose(exclude={"a-1", "a-2"}).instance_id == "b-1"
    lonely = LoadBalancer(FLEET, "media", zone="zone-c", clock=FakeClock())
    assert Counter(lonely.choose().instance_id for _ in range(3)) == {"a-1": 1, "a-2": 1, "b-1": 1}


def test_failed_instance_is_skipped_for_a_while() -> None:
    lb, clock = balancer()
    failing = lb.choose()
    lb.on_start(failing)
    lb.on_finish(failing, ok=False)
    assert lb.skipped() == [failing.instance_id]
    assert {lb.choose().instance_id for _ in range(4)} == {"a-2"}
    clock.advance(30.1)
    assert lb.skipped() == []
    assert {lb.choose().instance_id for _ in range(4)} == {"a-1", "a-2"}


def test_zone_with_every_instance_skipped_falls_over_to_another_zone() -> None:
    lb, _ = balancer()
    for inst in FLEET.instances("media")[:2]:
        lb.on_finish(inst, ok=False)
    assert lb.choose().instance_id == "b-1"


def test_when_everything_failed_recently_an_instance_is_still_tried() -> None:
    lb, _ = balancer()
    for inst in FLEET.instances("media"):
        lb.on_finish(inst, ok=False)
    assert lb.choose().instance_id in {"a-1", "a-2"}


def test_success_ends_the_skip() -> None:
    lb, _ = balancer()
    first = FLEET.instances("media")[0]
    lb.on_finish(first, ok=False)
    lb.on_finish(first, ok=True)
    assert lb.skipped() == []


def test_least_outstanding_prefers_the_idle_instance() -> None:
    lb, _ = balancer("least_outstanding")
    busy = lb.choose()
    lb.on_start(busy)
    lb.on_start(busy)
    assert lb.outstanding(busy.instance_id) == 2
    idle = lb.choose()
    assert idle.instance_id != busy.instance_id
    lb.on_start(idle)
    assert lb.choose().instance_id == idle.instance_id  # 1 in flight beats 2
    lb.on_finish(busy, ok=True)
    lb.on_finish(busy, ok=True)
    assert lb.outstanding(busy.instance_id) == 0
    assert lb.choose().instance_id == busy.instance_id


def test_least_outstanding_breaks_ties_round_robin() -> None:
    lb, _ = balancer("least_outstanding")
    assert [lb.choose().instance_id for _ in range(4)] == ["a-1", "a-2", "a-1", "a-2"]


def test_no_instance_up_raises() -> None:
    down = Fleet(replace(node("a-1", "zone-a"), status=InstanceStatus.DOWN))
    lb, _ = balancer(fleet=down)
    with pytest.raises(NoInstance, match="no instance of MEDIA is up"):
        lb.choose()
    full, _ = balancer()
    with pytest.raises(NoInstance, match="besides 3 already tried"):
        full.choose(exclude={"a-1", "a-2", "b-1"})


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown balancing rule"):
        LoadBalancer(FLEET, "media", clock=FakeClock(), rule="random")  # type: ignore[arg-type]
