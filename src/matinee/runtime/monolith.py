"""The whole platform in one process on one port (the embedded default topology).

Every service is an instance with its own context, mounted in an in-process
:class:`AsgiTransport` as ``http://<instance-id>.local``; the registry is one of them. Calls
between services take the same path as in a fleet - discovery lookup, load balancer,
resilience, transport - only the transport stays in the process. The gateway instance is the
front door: :class:`Monolith` is an ASGI app that hands it every HTTP request.

Instances start in dependency order (registry first, gateway last) and stop in reverse, each
leaving discovery before it stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import replace

import uvloop

from matinee.clock import Clock
from matinee.discovery.client import DiscoveryClient
from matinee.discovery.models import InstanceInfo
from matinee.errors import MatineeError
from matinee.platform import Platform
from matinee.runtime.app import ServiceInstance, ServiceSpec, build_instance
from matinee.runtime.config import load_runtime_config
from matinee.runtime.context import Node, RuntimeConfig, build_context
from matinee.runtime.server import ServerConfig, serve_until_signalled
from matinee.runtime.transport import AsgiTransport, Receive, Scope, Send
from matinee.services import all_services
from matinee.settings import Settings
from matinee.telemetry.metrics import Registry

log = logging.getLogger(__name__)

REGISTRY = "registry"
GATEWAY = "gateway"


def start_order(specs: Iterable[ServiceSpec]) -> list[ServiceSpec]:
    """Registry first, then every service after what it depends on, the gateway last."""
    by_name = {s.name: s for s in specs}
    ordered: list[ServiceSpec] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str) -> None:
        spec = by_name.get(name)
        if spec is None or name in done:
            return
        if name in visiting:
            raise MatineeError(f"services depend on each other in a circle through {name!r}")
        visiting.add(name)
        for dep in spec.depends_on:
            visit(dep)
        visiting.discard(name)
        done.add(name)
        ordered.append(spec)

    for name in (REGISTRY, *sorted(set(by_name) - {REGISTRY, GATEWAY}), GATEWAY):
        visit(name)
    return ordered


class Monolith:
    """Every service in this process behind the gateway; an ASGI app with a lifespan."""

    def __init__(
        self,
        settings: Settings,
        config: RuntimeConfig | None = None,
        *,
        services: Sequence[ServiceSpec] | None = None,
        platform: Platform | None = None,
        clock: Clock | None = None,
        metrics: Registry | None = None,
        sidecars: Sequence[InstanceInfo] = (),
    ) -> None:
        specs = start_order(services if services is not None else all_services().values())
        names = [s.name for s in specs]
        if REGISTRY not in names or GATEWAY not in names:
            raise MatineeError("the monolith needs the registry and gateway services")
        base = config or RuntimeConfig()
        registry_url = f"http://{_host(REGISTRY)}/eureka"
        discovery = base.discovery.model_copy(
            update={"registry_urls": (registry_url,), "peer_urls": ()}
        )
        # Without configured keys, one random key each for the whole process: every instance in
        # it must sign and verify with the same one.
        self.config = replace(
            base,
            topology="monolith",
            discovery=discovery,
            identity_key=base.identity_key or os.urandom(32),
            url_signing_key=base.url_signing_key or os.urandom(32),
        )
        self.transport = AsgiTransport()
        self.node = Node(settings, self.config, self.transport, clock=clock, metrics=metrics)
        self.instances: list[ServiceInstance] = []
        for spec in specs:
            instance_id = f"{spec.name}-1"
            ctx = build_context(
                spec.name,
                self.node,
                instance_id=instance_id,
                host=_host(spec.name),
                port=80,
                platform=platform,
            )
            instance = build_instance(spec, ctx)
            self.transport.mount(_host(spec.name), instance.app)
            self.instances.append(instance)
        self.front = self.instances[-1].app  # the gateway
        # Processes beside the monolith (the CDN's edges) cannot reach its in-process registry:
        # it registers them on their behalf (as Netflix's Prana sidecar did for non-JVM apps).
        self.sidecars = [
            DiscoveryClient(
                self.config.discovery,
                self.transport.request,
                self.node.clock,
                self.node.metrics,
                self_info=info,
            )
            for info in sidecars
        ]
        self._sampling: asyncio.Task[None] | None = None
        self._stop_sampling = asyncio.Event()
        self._started = False

    def instance(self, service: str) -> ServiceInstance:
        for instance in self.instances:
            if instance.spec.name == service:
                return instance
        raise KeyError(service)

    async def start(self) -> None:
        """Start every instance in order; then every discovery cache sees all of them."""
        if self._started:
            return
        self._started = True
        self._stop_sampling.clear()
        self._sampling = asyncio.create_task(self.node.series.run(self._stop_sampling))
        for instance in self.instances:
            await instance.runtime.start()
        for sidecar in self.sidecars:
            await sidecar.start()
        for instance in self.instances:
            await instance.runtime.ctx.discovery.refresh()
        log.info("monolith is up: %s", ", ".join(i.spec.name for i in self.instances))

    async def leave(self) -> None:
        """Every instance but the registry leaves discovery (the first step of shutdown)."""
        for sidecar in self.sidecars:
            await sidecar.stop()
        for instance in reversed(self.instances):
            if instance.spec.name != REGISTRY:
                await instance.runtime.deregister()

    async def stop(self) -> None:
        """Stop the instances in reverse order (gateway first, registry last)."""
        if not self._started:
            return
        self._started = False
        for sidecar in self.sidecars:
            await sidecar.stop(deregister=False)  # left already, or the registry is going
        try:
            for instance in reversed(self.instances):
                try:
                    await instance.runtime.stop()
                except Exception:
                    log.exception("%s did not stop cleanly", instance.spec.name)
        finally:
            await self.node.close()
            self._stop_sampling.set()
            if self._sampling is not None:
                await self._sampling
                self._sampling = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.front(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    log.exception("the monolith failed to start")
                    await self.stop()
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.leave()
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _host(service: str) -> str:
    return f"{service}-1.local"


async def run_monolith(
    settings: Settings,
    config: RuntimeConfig | None = None,
    *,
    platform: Platform | None = None,
    stop_event: asyncio.Event | None = None,
    sidecars: Sequence[InstanceInfo] = (),
) -> None:
    """Serve the monolith on ``settings.host:settings.port`` until SIGTERM/SIGINT;
    ``sidecars`` are processes beside it that it registers in its registry."""
    monolith = Monolith(
        settings, config or load_runtime_config(settings), platform=platform, sidecars=sidecars
    )
    await serve_until_signalled(
        monolith,
        ServerConfig(host=settings.host, port=settings.port),
        start=monolith.start,
        leave=monolith.leave,
        stop=monolith.stop,
        grace=monolith.config.deregister_grace,
        stop_event=stop_event,
    )


def serve(platform: Platform, sidecars: Sequence[InstanceInfo] = ()) -> None:
    """``matinee serve``: the monolith on the platform's settings, until Ctrl-C."""
    settings = platform.settings
    print(f"matinee is serving on http://{settings.host}:{settings.port}/")
    uvloop.run(run_monolith(settings, platform=platform, sidecars=sidecars))
