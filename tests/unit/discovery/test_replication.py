"""Peer replication in-process: two registries tell each other, repair gaps, never loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from fastapi import FastAPI

from matinee.clock import FakeClock
from matinee.discovery.api import router
from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.models import InstanceInfo, InstanceStatus
from matinee.discovery.registry import Registry
from matinee.discovery.replication import Replicator
from matinee.telemetry.metrics import Counter
from matinee.telemetry.metrics import Registry as Metrics
from matinee.testing.discovery import HttpxRequest, SimpleResponse, by_host


@dataclass
class Peer:
    registry: Registry
    replicator: Replicator
    metrics: Metrics
    app: FastAPI


def inst(instance_id: str, dirty: int = 1000) -> InstanceInfo:
    info = InstanceInfo.for_service("catalog", instance_id, "127.0.0.1", 8001)
    return replace(info, last_dirty_timestamp=dirty)


def peer(name: str, others: list[str], clock: FakeClock, request: HttpxRequest) -> Peer:
    metrics = Metrics(clock)
    config = DiscoveryConfig(peer_urls=tuple(f"http://{o}/eureka" for o in others))
    registry = Registry(config, clock, metrics)
    replicator = Replicator(config, registry, request, metrics)
    app = FastAPI(title=name)
    app.include_router(router(registry, replicator))
    return Peer(registry, replicator, metrics, app)


Scenario = Callable[[Peer, Peer, HttpxRequest], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        clock = FakeClock()
        apps: dict[str, FastAPI] = {}
        request = HttpxRequest(by_host(apps))  # type: ignore[arg-type]
        a = peer("peer-a", ["peer-b"], clock, request)
        b = peer("peer-b", ["peer-a"], clock, request)
        apps |= {"peer-a": a.app, "peer-b": b.app}
        a.replicator.start()
        b.replicator.start()
        try:
            await scenario(a, b, request)
        finally:
            await a.replicator.aclose()
            await b.replicator.aclose()
            await request.aclose()

    asyncio.run(main())


async def settle(*peers: Peer) -> None:
    for _ in range(3):
        for p in peers:
            await p.replicator.drain()


async def client_call(
    request: HttpxRequest, method: str, url: str, body: bytes = b""
) -> SimpleResponse:
    headers = [("content-type", "application/json"), ("accept", "application/json")]
    return await request(method, url, headers, body, 5.0)


def test_registration_renewal_status_and_cancel_reach_the_other_peer_once() -> None:
    async def scenario(a: Peer, b: Peer, request: HttpxRequest) -> None:
        body = json.dumps({"instance": inst("c-1").to_json()}).encode()
        assert (
            await client_call(request, "POST", "http://peer-a/eureka/apps/CATALOG", body)
        ).status == 204
        await settle(a, b)
        assert b.registry.get_instance("catalog", "c-1") is not None
        await client_call(
            request, "PUT", "http://peer-a/eureka/apps/CATALOG/c-1/status?value=OUT_OF_SERVICE"
        )
        await client_call(request, "PUT", "http://peer-a/eureka/apps/CATALOG/c-1")
        await settle(a, b)
        seen = b.registry.get_instance("catalog", "c-1")
        assert seen is not None
        assert seen.status is InstanceStatus.OUT_OF_SERVICE
        assert b.registry.preservation.renews_last_window == 1
        await client_call(request, "DELETE", "http://peer-a/eureka/apps/CATALOG/c-1")
        await settle(a, b)
        assert b.registry.size == 0
        # Peer B applied everything but sent nothing back: replicated calls are not replicated.
        calls_to_a = [url for _, url in request.calls if url.startswith("http://peer-a")]
        assert len(calls_to_a) == 4  # only the client's own calls
        sent_by_b = sum(
            m.value
            for m in b.metrics.meters()
            if isinstance(m, Counter) and m.id.name == "discovery.replication"
        )
        assert sent_by_b == 0

    run(scenario)


def test_peer_that_missed_a_registration_gets_it_on_the_next_heartbeat() -> None:
    async def scenario(a: Peer, b: Peer, _: HttpxRequest) -> None:
        a.registry.register(inst("c-1"))  # registered while B was away: never replicated
        assert b.registry.get_instance("catalog", "c-1") is None
        a.registry.renew("catalog", "c-1")
        a.replicator.heartbeat("catalog", "c-1")
        await settle(a, b)
        assert b.registry.get_instance("catalog", "c-1") is not None
        outcome = a.metrics.counter(
            "discovery.replication",
            peer="http://peer-b/eureka",
            action="heartbeat",
            outcome="not_found",
        )
        assert outcome.value == 1

    run(scenario)


def test_peer_with_a_newer_copy_wins_the_conflict() -> None:
    async def scenario(a: Peer, b: Peer, _: HttpxRequest) -> None:
        a.registry.register(inst("c-1", dirty=1000))
        b.registry.register(replace(inst("c-1", dirty=5000), metadata={"zone": "newer"}))
        a.replicator.heartbeat("catalog", "c-1")
        await settle(a, b)
        adopted = a.registry.get_instance("catalog", "c-1")
        assert adopted is not None
        assert adopted.last_dirty_timestamp == 5000
        assert adopted.metadata == {"zone": "newer"}

    run(scenario)


def test_starting_peer_copies_the_registry_of_another() -> None:
    async def scenario(a: Peer, b: Peer, _: HttpxRequest) -> None:
        for n in range(3):
            a.registry.register(inst(f"c-{n}"))
        assert await b.replicator.sync_from_peers() == 3
        assert b.registry.size == 3
        await settle(a, b)
        assert a.registry.size == 3

    run(scenario)


def test_unreachable_peer_is_counted_and_never_blocks() -> None:
    async def main() -> None:
        clock = FakeClock()
        metrics = Metrics(clock)
        config = DiscoveryConfig(peer_urls=("http://gone/eureka",), replication_queue_size=2)
        registry = Registry(config, clock, metrics)

        async def refuse(
            method: str,
            url: str,
            headers: list[tuple[str, str]],
            body: bytes,
            timeout: float,  # noqa: ASYNC109 - the transport shape
        ) -> SimpleResponse:
            raise ConnectionRefusedError(url)

        replicator = Replicator(config, registry, refuse, metrics)
        for n in range(3):  # the third does not fit in the queue before the sender runs
            replicator.register(registry.register(inst(f"c-{n}")))
        replicator.start()
        await replicator.drain()
        await replicator.aclose()
        failed = metrics.counter(
            "discovery.replication", peer="http://gone/eureka", action="register", outcome="failed"
        )
        dropped = metrics.counter(
            "discovery.replication", peer="http://gone/eureka", action="register", outcome="dropped"
        )
        assert (failed.value, dropped.value) == (2, 1)
        assert await replicator.sync_from_peers() == 0

    asyncio.run(main())
