"""The discovery client against an in-process registry: cache, deltas, re-registration, fallback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI

from matinee.clock import FakeClock
from matinee.discovery.api import router
from matinee.discovery.client import DiscoveryClient
from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.errors import RegistryUnavailable
from matinee.discovery.models import InstanceInfo, InstanceStatus
from matinee.discovery.peers import RegistryPeers
from matinee.discovery.registry import Registry
from matinee.telemetry.metrics import Registry as Metrics
from matinee.testing.discovery import HttpxRequest, SimpleResponse

URL = "http://registry/eureka"


@dataclass
class Switch:
    """Wraps a request callable; while ``down`` every call fails like a dead peer."""

    request: HttpxRequest
    down: bool = False
    refused: list[str] = field(default_factory=list)

    async def __call__(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeout: float,  # noqa: ASYNC109 - the transport shape
    ) -> SimpleResponse:
        if self.down or url.startswith("http://dead"):
            self.refused.append(url)
            raise ConnectionRefusedError(f"connection to {url} refused")
        return await self.request(method, url, headers, body, timeout)


@dataclass
class World:
    clock: FakeClock
    registry: Registry
    switch: Switch
    metrics: Metrics

    def client(self, info: InstanceInfo | None = None, **config: object) -> DiscoveryClient:
        cfg = DiscoveryConfig.model_validate({"registry_urls": (URL,), **config})
        return DiscoveryClient(cfg, self.switch, self.clock, self.metrics, info)


def me(instance_id: str = "me-1", app: str = "homepage") -> InstanceInfo:
    return InstanceInfo.for_service(app, instance_id, "127.0.0.1", 9000, zone="zone-a")


def run(scenario: Callable[[World], Awaitable[None]], **registry_config: object) -> None:
    async def main() -> None:
        clock = FakeClock()
        metrics = Metrics(clock)
        registry = Registry(DiscoveryConfig.model_validate(registry_config), clock, Metrics(clock))
        app = FastAPI()
        app.include_router(router(registry))
        request = HttpxRequest(app)
        try:
            await scenario(World(clock, registry, Switch(request), metrics))
        finally:
            await request.aclose()

    asyncio.run(main())


def test_start_registers_and_fills_the_cache() -> None:
    async def scenario(w: World) -> None:
        w.registry.register(me("cat-1", "catalog"))
        client = w.client(me())
        await client.start()
        assert client.registered
        assert w.registry.get_instance("homepage", "me-1") is not None
        assert [i.instance_id for i in client.instances("catalog")] == ["cat-1"]
        assert [i.instance_id for i in client.instances("HOMEPAGE")] == ["me-1"]
        await client.stop()
        assert w.registry.get_instance("homepage", "me-1") is None  # deregistered

    run(scenario)


def test_cache_follows_the_registry_through_deltas() -> None:
    async def scenario(w: World) -> None:
        client = w.client()
        w.registry.register(me("cat-1", "catalog"))
        assert await client.refresh()
        w.registry.register(me("cat-2", "catalog"))
        w.registry.set_status("catalog", "cat-1", InstanceStatus.OUT_OF_SERVICE)
        assert await client.refresh()
        assert [i.instance_id for i in client.instances("catalog")] == ["cat-2"]
        assert [i.instance_id for i in client.all_instances("catalog")] == ["cat-1", "cat-2"]
        w.registry.cancel("catalog", "cat-2")
        assert await client.refresh()
        assert client.instances("catalog") == []
        fetches = {
            outcome: w.metrics.counter("discovery.client.fetch", outcome=outcome).value
            for outcome in ("full", "delta", "reconcile")
        }
        assert fetches == {"full": 1, "delta": 2, "reconcile": 0}
        assert client.applications().apps_hashcode == w.registry.applications().apps_hashcode

    run(scenario)


def test_hash_mismatch_after_a_delta_triggers_a_full_fetch() -> None:
    async def scenario(w: World) -> None:
        client = w.client(delta_retention=1000)
        w.registry.register(me("cat-1", "catalog"))
        await client.refresh()
        w.registry.register(me("cat-2", "catalog"))
        w.clock.advance(11)  # the registry forgets the change (10 s retention) before we ask
        w.registry.purge_changes()
        assert await client.refresh()
        assert w.metrics.counter("discovery.client.fetch", outcome="reconcile").value == 1
        assert w.metrics.counter("discovery.client.fetch", outcome="full").value == 2
        assert len(client.instances("catalog")) == 2

    run(scenario, delta_retention=10)


def test_old_cache_is_replaced_by_a_full_fetch() -> None:
    async def scenario(w: World) -> None:
        client = w.client(delta_retention=60)
        await client.refresh()
        w.clock.advance(61)
        await client.refresh()
        assert w.metrics.counter("discovery.client.fetch", outcome="full").value == 2

    run(scenario)


def test_renewal_answered_404_registers_again() -> None:
    async def scenario(w: World) -> None:
        client = w.client(me())
        assert await client.register()
        assert await client.renew()
        w.registry.cancel("homepage", "me-1")  # e.g. evicted, or the registry restarted
        assert await client.renew()
        assert w.registry.get_instance("homepage", "me-1") is not None
        heartbeats = w.metrics.counter("discovery.client.heartbeat", outcome="not_found")
        assert heartbeats.value == 1
        assert w.metrics.counter("discovery.client.register", outcome="ok").value == 2

    run(scenario)


def test_status_change_is_registered() -> None:
    async def scenario(w: World) -> None:
        client = w.client(me())
        await client.register()
        await client.set_status(InstanceStatus.STARTING)
        found = w.registry.get_instance("homepage", "me-1")
        assert found is not None
        assert found.status is InstanceStatus.STARTING
        assert client.self_info is not None
        assert found.last_dirty_timestamp == client.self_info.last_dirty_timestamp

    run(scenario)


def test_lookups_keep_routing_from_the_cache_when_every_peer_is_down() -> None:
    async def scenario(w: World) -> None:
        client = w.client(me(), registry_urls=("http://dead-1/eureka", URL))
        w.registry.register(me("cat-1", "catalog"))
        await client.start()
        w.switch.down = True
        w.clock.advance(45)
        assert not await client.refresh()
        assert not await client.renew()
        assert client.stale
        assert [i.instance_id for i in client.instances("catalog")] == ["cat-1"]
        assert w.metrics.counter("discovery.cache.stale").value == 1
        assert w.metrics.gauge("discovery.cache.age", instance="me-1").value == 45
        w.switch.down = False
        assert await client.refresh()
        assert not client.stale
        await client.stop()

    run(scenario)


def test_nothing_cached_and_no_peer_means_no_instances() -> None:
    async def scenario(w: World) -> None:
        w.switch.down = True
        client = w.client(me())
        await client.start()  # neither registering nor fetching stops the start
        assert not client.registered
        assert client.instances("catalog") == []
        await client.stop()

    run(scenario)


def test_background_loops_heartbeat_and_refresh() -> None:
    async def scenario(w: World) -> None:
        client = w.client(me(), renewal_interval=30, registry_fetch_interval=30)
        await client.start()
        w.registry.register(me("cat-1", "catalog"))
        for _ in range(20):
            await asyncio.sleep(0)
            if client.instances("catalog"):
                break
        assert [i.instance_id for i in client.instances("catalog")] == ["cat-1"]
        assert w.registry.preservation.renews_last_window >= 1
        await client.stop()

    run(scenario)


def test_peers_are_tried_in_turn_and_the_working_one_is_kept() -> None:
    async def scenario(w: World) -> None:
        peers = RegistryPeers(["http://dead-1/eureka", URL], w.switch, timeout=1.0)
        assert (await peers.call("GET", "/apps/")).status == 200
        assert peers.current == URL
        assert (await peers.call("GET", "/apps/")).status == 200
        assert w.switch.refused == ["http://dead-1/eureka/apps/"]  # not asked again
        w.switch.down = True
        with pytest.raises(
            RegistryUnavailable, match=r"no registry peer answered GET /apps/ .*refused"
        ):
            await peers.call("GET", "/apps/")

    run(scenario)
