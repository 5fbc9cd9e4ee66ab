"""The backbone's proof on a real local fleet (2 registry peers, 2 media, 2 gateways).

Every number is measured through the gateways' front ports; faults are real: ``kill -9``,
``SIGSTOP`` of the registry peers, and failures injected into media through ``/faults``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

from matinee.fleet.up import probe

from .harness import MAX_INFLIGHT, Fleet, metric, request, wait_for
from .load import Tally, burst, closed_loop, open_loop

STEADY_WORKERS = 8  # 4 per gateway: well below the shedding threshold (0.6 x MAX_INFLIGHT)
SLEEP_WINDOW = 5.0  # Hystrix's default, which the fleet keeps
WINDOW = 10.0


def urls(fleet: Fleet, path: str = "/api/assets") -> list[str]:
    return [f"http://127.0.0.1:{port}{path}" for port in fleet.gateways]


def served(port: int, route: str = "/api/assets") -> float:
    """Requests an instance answered on ``route`` (from its own metrics)."""
    return metric(port, "ipc_server_call_seconds_count", route=route)


def injected(fleet: Fleet, status: str) -> float:
    """Faults injected into media's /api/assets, summed over its instances."""
    return sum(
        metric(r.port, "runtime_fault_injected_total", path_prefix="/api/assets", status=status)
        for r in fleet.instances("media")
    )


def breaker(port: int) -> dict[str, Any]:
    """The gateway's breaker for media, as its /resilience/breakers shows it."""
    found: list[dict[str, Any]] = request(port, "GET", "/resilience/breakers").json()[
        "dependencies"
    ]
    return next((d for d in found if d["name"] == "media"), {"state": "closed", "requests": 0})


def transitions(port: int) -> dict[str, float]:
    """How often the gateway's breakers went to each state."""
    return {
        state: metric(port, "resilience_breaker_transition_total", state=state)
        for state in ("open", "half_open", "closed")
    }


def fail_until_open(fleet: Fleet, gateway: int) -> float:
    """Call the guarded route until media's breaker opens (every answer a fallback); when."""
    answers = []
    start = time.monotonic()
    while breaker(gateway)["state"] != "open":
        assert time.monotonic() - start < WINDOW + 5, breaker(gateway)
        answers.append(fleet.get(gateway, "/guarded/api/assets"))
    opened_at = time.monotonic()
    assert opened_at - start <= WINDOW, f"the breaker took {opened_at - start:.1f} s to open"
    state = breaker(gateway)
    assert state["requests"] >= 20
    assert state["error_pct"] >= 50
    assert answers
    for answer in answers:
        assert answer.status == 200
        assert answer.headers["x-gateway-fallback"] == "static"
        assert answer.json() == {"assets": [], "fallback": True}
    return opened_at


def test_a_failing_dependency_trips_its_breaker_serves_fallbacks_and_recovers(
    fleet: Fleet,
) -> None:
    fleet.settle()
    gateway = fleet.gateways[0]
    guarded = f"http://127.0.0.1:{gateway}/guarded/api/assets"
    assert breaker(gateway)["state"] == "closed"
    # Successes of earlier load in the rolling window would only delay the trip: let them go.
    wait_for("a quiet breaker window", lambda: breaker(gateway)["requests"] < 20, WINDOW + 5)
    before = transitions(gateway)
    fleet.fault("media", status=500, path_prefix="/api/assets")
    try:
        # 1. Failing: every call fails; the gateway serves the route's static fallback.
        opened_at = fail_until_open(fleet, gateway)
        assert metric(gateway, "resilience_breaker_state", dependency="media") == 1
        failed = metric(
            gateway, "gateway_fallback_total", route="guarded", cause="UpstreamStatusError"
        )
        assert failed >= 10

        # 2. Open: calls are short-circuited (media sees none) and fallbacks still served.
        reached = injected(fleet, "500")
        for _ in range(20):
            answer = fleet.get(gateway, "/guarded/api/assets")
            assert (answer.status, answer.headers["x-gateway-fallback"]) == (200, "static")
        assert injected(fleet, "500") == reached
        short = metric(gateway, "gateway_fallback_total", route="guarded", cause="CircuitOpen")
        assert short >= 20

        # 3. Recovered, but slow to answer: after the sleep window exactly ONE trial call goes
        # through while the breaker is half-open; everyone else still gets the fallback.
        fleet.clear_faults("media")
        fleet.fault("media", latency_s=0.5, path_prefix="/api/assets")
        slow = injected(fleet, "none")
        time.sleep(max(0.0, opened_at + SLEEP_WINDOW + 0.3 - time.monotonic()))
        replies = asyncio.run(burst(guarded, 10))
        assert injected(fleet, "none") == slow + 1
        real = [r for r in replies if r.fallback is None]
        assert len(real) == 1, replies
        assert (real[0].status, json.loads(real[0].body)) == (200, [])
        assert {(r.status, r.fallback) for r in replies if r.fallback} == {(200, "static")}
        assert breaker(gateway)["state"] == "closed"

        # 4. Closed: every call reaches media again.
        replies = asyncio.run(burst(guarded, 10))
        assert [r.fallback for r in replies] == [None] * 10
        assert injected(fleet, "none") == slow + 11
    finally:
        fleet.clear_faults("media")
    assert metric(gateway, "resilience_breaker_state", dependency="media") == 0
    after = transitions(gateway)
    assert {k: after[k] - before[k] for k in after} == {"open": 1, "half_open": 1, "closed": 1}


def test_three_times_capacity_sheds_non_critical_requests_and_keeps_critical_ones(
    fleet: Fleet,
) -> None:
    fleet.settle()
    gateway = fleet.gateways[1]
    latency = 0.5  # every media answer takes this long: capacity is set by the gateway alone
    capacity = MAX_INFLIGHT / latency  # requests/s one gateway admits at its in-flight limit
    offered = 3 * capacity
    seconds = 8.0
    critical = f"http://127.0.0.1:{gateway}/critical/api/assets"  # priority 100
    prefetch = f"http://127.0.0.1:{gateway}/prefetch/api/assets"  # priority 20
    shed_before = metric(gateway, "gateway_shed_total", **{"class": "non_critical"})
    fleet.fault("media", latency_s=latency, path_prefix="/api/assets")
    try:
        tallies = asyncio.run(
            open_loop({critical: 0.2 * offered, prefetch: 0.8 * offered}, seconds)
        )
    finally:
        fleet.clear_faults("media")
    vip, bulk = tallies[critical], tallies[prefetch]
    assert vip.total == round(0.2 * offered * seconds)
    assert vip.success_rate >= 0.99, vip.describe()
    assert bulk.share(503) >= 0.5, bulk.describe()
    assert set(bulk.statuses) <= {200, 503}, bulk.describe()
    assert not bulk.errors, bulk.describe()
    assert bulk.retry_after_missing == 0
    served_rate = (vip.ok + bulk.ok) / seconds
    assert served_rate <= 1.25 * capacity, (served_rate, vip.describe(), bulk.describe())
    shed = metric(gateway, "gateway_shed_total", **{"class": "non_critical"}) - shed_before
    assert shed == bulk.statuses[503]
    assert metric(gateway, "gateway_shed_total", **{"class": "critical"}) == 0


def test_killing_a_media_instance_under_steady_load_loses_almost_nothing(fleet: Fleet) -> None:
    fleet.settle()
    victim = fleet.record("media", 0)  # the instance gateway-0 prefers: both are in zone-a

    def replaced() -> bool:
        now = fleet.record("media", 0)
        return now.instance_id != victim.instance_id and probe(now).health == "ready"

    async def main() -> tuple[Tally, float]:
        stop = asyncio.Event()
        load = asyncio.create_task(closed_loop(urls(fleet), STEADY_WORKERS, stop))
        await asyncio.sleep(2.0)
        os.kill(victim.pid, signal.SIGKILL)
        took = await asyncio.to_thread(wait_for, "the replacement", replaced, 15)
        port = victim.port
        await asyncio.to_thread(
            wait_for, "the gateways using the replacement", lambda: served(port) > 0, 15
        )
        await asyncio.sleep(2.0)  # and keep the load on while the dead lease goes away
        stop.set()
        return await load, took

    tally, took = asyncio.run(main())
    new = fleet.record("media", 0)
    assert (new.port, new.restarts) == (victim.port, victim.restarts + 1)
    assert new.instance_id != victim.instance_id
    assert new.pid != victim.pid
    assert took <= 10.0, f"the replacement took {took:.1f} s to be ready"
    assert request(new.port, "GET", "/api/assets").status == 200
    assert request(new.port, "GET", "/healthz").json()["instance"] == new.instance_id
    assert tally.total >= 500, tally.describe()
    assert tally.success_rate >= 0.999, tally.describe()


def test_calls_keep_routing_from_the_cache_while_every_registry_peer_is_stopped(
    fleet: Fleet,
) -> None:
    fleet.settle()
    registries = fleet.instances("registry")
    before = {port: metric(port, "discovery_cache_stale_total") for port in fleet.gateways}
    for r in registries:
        os.kill(r.pid, signal.SIGSTOP)  # alive but silent: the supervisor does not replace it
    try:
        wait_for(
            "the gateways noticing the registry is gone",
            lambda: all(metric(p, "discovery_cache_stale_total") > n for p, n in before.items()),
            15,
        )

        async def main() -> Tally:
            stop = asyncio.Event()
            load = asyncio.create_task(closed_loop(urls(fleet), STEADY_WORKERS, stop))
            await asyncio.sleep(4.0)
            stop.set()
            return await load

        tally = asyncio.run(main())
        assert [r.pid for r in fleet.instances("registry")] == [r.pid for r in registries]
        for port in fleet.gateways:
            assert metric(port, "discovery_cache_stale_total") > before[port]
    finally:
        for r in registries:
            os.kill(r.pid, signal.SIGCONT)
    assert tally.total >= 200, tally.describe()
    assert tally.success_rate == 1.0, tally.describe()

    def fresh() -> bool:
        return all(metric(p, "discovery_cache_age") < 1.5 for p in fleet.gateways)

    wait_for("the gateways' caches refreshing again", fresh, 15)
    for port in fleet.gateways:
        assert fleet.get(port).status == 200
