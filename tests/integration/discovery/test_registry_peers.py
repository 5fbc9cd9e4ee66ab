"""Discovery over real sockets: two replicating registry peers, py_eureka_client, cache fallback."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from matinee.clock import SystemClock
from matinee.discovery.api import registry_app
from matinee.discovery.balancer import LoadBalancer
from matinee.discovery.client import DiscoveryClient
from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.models import InstanceInfo
from matinee.discovery.registry import Registry
from matinee.discovery.replication import Replicator
from matinee.runtime.httpclient import HttpTransport
from matinee.telemetry.metrics import Registry as Metrics
from matinee.testing.discovery import HttpxRequest, ThreadedServer

from ..conftest import free_port

FAST: dict[str, Any] = {
    "renewal_interval": 0.2,
    "registry_fetch_interval": 0.2,
    "lease_duration": 5.0,
    "eviction_interval": 0.5,
    "self_preservation": False,
    "request_timeout": 2.0,
    "replication_timeout": 2.0,
}
PY_EUREKA_APP = Path(__file__).with_name("py_eureka_app.py")
JSON = [("accept", "application/json"), ("content-type", "application/json")]


@dataclass
class Peer:
    url: str
    server: ThreadedServer
    metrics: Metrics

    def count(self, name: str, **tags: str) -> float:
        return self.metrics.counter(name, **tags).value


def start_peer(port: int, *others: int) -> Peer:
    peers = tuple(f"http://127.0.0.1:{p}/eureka" for p in others)
    config = DiscoveryConfig(**FAST, peer_urls=peers)
    clock = SystemClock()
    metrics = Metrics(clock)
    registry = Registry(config, clock, metrics)
    # The production transport, as the registry service's: its connections live on the peer's
    # own loop, so the peer's lifespan closes them (an httpx client left open here kept
    # unconnected sockets of cancelled happy-eyeballs attempts until the session ended).
    transport = HttpTransport()
    replicator = Replicator(config, registry, transport.request, metrics)
    app = registry_app(registry, replicator)
    serve = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with serve(app):
                yield
        finally:
            await transport.aclose()

    app.router.lifespan_context = lifespan
    server = ThreadedServer(app, port).start()
    return Peer(f"{server.url}/eureka", server, metrics)


def service(app: str, instance_id: str, port: int, zone: str = "zone-a") -> InstanceInfo:
    return InstanceInfo.for_service(app, instance_id, "127.0.0.1", port, zone=zone)


def client(
    request: HttpxRequest, *peers: Peer, info: InstanceInfo | None = None
) -> DiscoveryClient:
    config = DiscoveryConfig(**FAST, registry_urls=tuple(p.url for p in peers))
    return DiscoveryClient(config, request, SystemClock(), Metrics(), info)


async def lookup(request: HttpxRequest, peer: Peer, path: str) -> tuple[int, Any]:
    response = await request("GET", f"{peer.url}{path}", JSON, b"", 5.0)
    return response.status, json.loads(response.body) if response.status == 200 else None


async def eventually(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {seconds} s")


def run(scenario: Callable[[HttpxRequest], Awaitable[None]]) -> None:
    async def main() -> None:
        request = HttpxRequest()
        try:
            await scenario(request)
        finally:
            await request.aclose()

    asyncio.run(main())


def test_two_peers_replicate_registrations_to_each_other_without_loops() -> None:
    port_a, port_b = free_port(), free_port()
    a, b = start_peer(port_a, port_b), start_peer(port_b, port_a)

    async def scenario(request: HttpxRequest) -> None:
        at_a = client(request, a, info=service("catalog", "c-1", 8001))
        at_b = client(request, b, info=service("homepage", "h-1", 8002))
        await at_a.start()
        await at_b.start()

        async def on_b() -> bool:
            return (await lookup(request, b, "/apps/CATALOG/c-1"))[0] == 200

        async def on_a() -> bool:
            return (await lookup(request, a, "/apps/HOMEPAGE/h-1"))[0] == 200

        await eventually(on_b, "c-1 (registered at A) showing at B")
        await eventually(on_a, "h-1 (registered at B) showing at A")
        await asyncio.sleep(1.0)  # about five heartbeats from each client
        for here, there in ((a, b), (b, a)):
            # Each peer got exactly one replicated registration (the other client's) ...
            assert here.count("discovery.registry.register", replication="true") == 1
            assert here.count("discovery.registry.register", replication="false") == 1
            # ... and sent exactly one: replicated calls are not sent on, so nothing loops.
            sent = here.count(
                "discovery.replication", peer=there.url, action="register", outcome="ok"
            )
            assert sent == 1
            renewed = here.count("discovery.registry.renew", replication="true", outcome="renewed")
            assert renewed >= 3
        await at_a.stop()

        async def gone_from_b() -> bool:
            return (await lookup(request, b, "/apps/CATALOG/c-1"))[0] == 404

        await eventually(gone_from_b, "c-1's cancel reaching B")
        await at_b.stop()

    try:
        run(scenario)
    finally:
        a.server.stop()
        b.server.stop()


def diagnostics(log: Path) -> str:
    return log.read_text(errors="replace")


async def read_event(proc: asyncio.subprocess.Process, log: Path) -> dict[str, Any]:
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
    except TimeoutError:
        proc.kill()
        raise AssertionError(f"py_eureka_client app is silent:\n{diagnostics(log)}") from None
    if not line:
        raise AssertionError(f"py_eureka_client app exited:\n{diagnostics(log)}")
    event: dict[str, Any] = json.loads(line)
    return event


async def command(proc: asyncio.subprocess.Process, text: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(f"{text}\n".encode())
    await proc.stdin.drain()


def test_py_eureka_client_registers_renews_and_discovers(tmp_path: Path) -> None:
    port = free_port()
    peer = start_peer(port)
    log = tmp_path / "py_eureka_app.log"

    async def scenario(request: HttpxRequest) -> None:
        # CATALOG points at the registry itself, so py_eureka_client can call it once discovered.
        ours = client(request, peer, info=service("catalog", "c-1", port))
        await ours.start()
        with log.open("wb") as stderr:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(PY_EUREKA_APP),
                peer.url,
                "12345",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        try:
            started = await read_event(proc, log)
            assert started == {"event": "started", "catalog": ["c-1"]}  # full fetch, in XML
            status, body = await lookup(request, peer, "/apps/LEGACY/legacy-1")
            assert status == 200
            legacy = body["instance"]
            assert (legacy["app"], legacy["status"]) == ("LEGACY", "UP")
            assert legacy["port"] == {"$": 12345, "@enabled": "true"}
            assert legacy["metadata"]["zone"] == "zone-a"
            # Our client discovers the instance py_eureka_client registered.
            await ours.refresh()
            assert [i.instance_id for i in ours.instances("legacy")] == ["legacy-1"]
            assert ours.instances("legacy")[0].base_url == "http://127.0.0.1:12345"
            # py_eureka_client picks up a new CATALOG instance through its delta fetches.
            other = client(request, peer, info=service("catalog", "c-2", port))
            await other.register()
            await command(proc, "wait 2")
            assert await read_event(proc, log) == {"event": "seen", "catalog": ["c-1", "c-2"]}
            # Its heartbeats renew the lease.
            _, body = await lookup(request, peer, "/apps/LEGACY/legacy-1")
            lease = body["instance"]["leaseInfo"]
            assert lease["lastRenewalTimestamp"] > lease["registrationTimestamp"]
            assert (
                peer.count("discovery.registry.renew", replication="false", outcome="renewed") > 0
            )
            # It routes a call to a discovered CATALOG instance.
            await command(proc, "call")
            called = await read_event(proc, log)
            assert called["body"]["instance"]["instanceId"] == "legacy-1"
            await command(proc, "stop")
            assert await read_event(proc, log) == {"event": "stopped"}
            assert (await lookup(request, peer, "/apps/LEGACY/legacy-1"))[0] == 404
            assert await asyncio.wait_for(proc.wait(), 10) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await ours.stop()
            await other.stop()

    try:
        run(scenario)
    finally:
        peer.server.stop()


def test_client_keeps_routing_from_its_cache_when_every_peer_is_down() -> None:
    port_a, port_b = free_port(), free_port()
    a, b = start_peer(port_a, port_b), start_peer(port_b, port_a)
    restarted: list[Peer] = []

    async def scenario(request: HttpxRequest) -> None:
        near = client(request, a, info=service("catalog", "c-1", 8001, zone="zone-a"))
        far = client(request, b, info=service("catalog", "c-2", 8002, zone="zone-b"))
        await near.register()
        await far.register()
        caller = client(request, a, b, info=service("gateway", "g-1", 8000))
        await caller.start()

        async def both_cached() -> bool:
            return len(caller.instances("catalog")) == 2

        await eventually(both_cached, "both CATALOG instances reaching the cache")
        balancer = LoadBalancer(caller, "catalog", zone="zone-a", clock=SystemClock())
        a.server.stop()
        b.server.stop()
        await asyncio.sleep(1.0)  # several refreshes and heartbeats fail
        assert caller.stale
        assert caller.cache_age() >= 0.9
        assert [i.instance_id for i in caller.instances("catalog")] == ["c-1", "c-2"]
        assert balancer.choose().instance_id == "c-1"
        assert balancer.choose(exclude={"c-1"}).instance_id == "c-2"
        # A peer comes back empty: the caller's next heartbeat gets 404 and it registers again.
        restarted.append(start_peer(port_a))

        async def registered_again() -> bool:
            return (await lookup(request, a, "/apps/GATEWAY/g-1"))[0] == 200

        await eventually(registered_again, "the caller registering with the restarted peer")

        async def fresh() -> bool:
            return not caller.stale

        await eventually(fresh, "the cache refreshing from the restarted peer")
        assert [i.instance_id for i in caller.instances("gateway")] == ["g-1"]
        await caller.stop()

    try:
        run(scenario)
    finally:
        for peer in (a, b, *restarted):
            peer.server.stop()
