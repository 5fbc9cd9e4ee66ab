"""What a service instance is given: its context, and the process-wide pieces it shares.

A :class:`Node` is one OS process's shared pieces (settings, clock, metrics, the time-series
store, one transport). :func:`build_context` makes a :class:`ServiceContext` for one instance
on a node: its own discovery client (which registers it), its own dependencies (breakers are
per caller, as Hystrix's are per JVM) and its own clients. In the monolith every instance shares
the in-process transport; in a fleet each process has one node and one instance.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from matinee.clock import Clock, SystemClock
from matinee.discovery.balancer import LoadBalancer, Rule
from matinee.discovery.client import DiscoveryClient
from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.models import DEFAULT_ZONE, InstanceInfo
from matinee.gateway.config import GatewayConfig
from matinee.resilience.dependency import Dependencies, DependencyConfig
from matinee.runtime.client import Balancer, ClientConfig, Clients
from matinee.runtime.transport import HttpClientConfig, Transport
from matinee.settings import Settings
from matinee.telemetry.metrics import Registry
from matinee.telemetry.series import SeriesStore

if TYPE_CHECKING:
    from matinee.cache import Cache
    from matinee.db.aio import Database
    from matinee.platform import Platform

Topology = Literal["monolith", "fleet"]


@dataclass(frozen=True)
class LimitConfig:
    """The server's adaptive concurrency limit (Gradient2); ``enabled=False`` turns it off."""

    enabled: bool = True
    initial: int = 20
    min: int = 20
    max: int = 500


def default_dependencies() -> dict[str, DependencyConfig]:
    """Built-in per-dependency settings, under whatever the TOML file sets.

    Sign-in hashes a password with argon2id (tens of ms of CPU by design), so a burst of
    sign-ins queues at the identity service: its calls get more time and more room than the
    1 s / 10 concurrent default. So do calls to history (below).
    """
    return {
        "identity": DependencyConfig(timeout_s=3.0, max_concurrent=64),
        # Heartbeats arrive from every player every few seconds and are acknowledged only
        # once durable, by a group commit that needs many requests waiting at once.
        "history": DependencyConfig(timeout_s=3.0, max_concurrent=256),
    }


@dataclass(frozen=True)
class RuntimeConfig:
    """How instances run. The fleet-only fields (ports, grace) are ignored by the monolith.

    * ``drain_timeout``: how long a stopping instance waits for requests in flight;
    * ``deregister_grace``: how long it keeps serving after leaving discovery, so callers'
      caches (refreshed every ``discovery.registry_fetch_interval``) stop choosing it first;
    * ``balancer_skip_seconds``: how long a caller skips an instance it could not reach;
    * ``identity_key``: the key the gateway signs identities with and services verify them
      with; every process of a fleet needs the same one (None: a random key per process);
    * ``url_signing_key``: the key media URLs are signed with (None: a random key per process);
    * ``fault_injection``: every instance answers ``/faults`` and injects the faults set there
      (``runtime.faults``; for failure-injection tests, never in production).
    """

    topology: Topology = "monolith"
    zone: str = DEFAULT_ZONE
    host: str = "127.0.0.1"
    drain_timeout: float = 10.0
    deregister_grace: float = 0.0
    series_step: float = 10.0
    balancer_rule: Rule = "round_robin"
    balancer_skip_seconds: float = 30.0
    limit: LimitConfig = field(default_factory=LimitConfig)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    dependencies: dict[str, DependencyConfig] = field(default_factory=default_dependencies)
    default_dependency: DependencyConfig = field(default_factory=DependencyConfig)
    client: ClientConfig = field(default_factory=ClientConfig)
    http: HttpClientConfig = field(default_factory=HttpClientConfig)
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    identity_key: bytes | None = None
    url_signing_key: bytes | None = None
    fault_injection: bool = False


class Node:
    """One process's shared pieces. The owner (monolith, instance) closes the transport."""

    def __init__(
        self,
        settings: Settings,
        config: RuntimeConfig,
        transport: Transport,
        *,
        clock: Clock | None = None,
        metrics: Registry | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.transport = transport
        self.clock: Clock = clock or SystemClock()
        self.metrics = metrics or Registry(self.clock)
        self.series = SeriesStore(self.metrics, step=config.series_step, clock=self.clock)
        self._cache: Cache | None = None

    def cache(self) -> Cache:
        """The process's cache cluster (``settings.cache_url``), opened on first use.

        One per process, so in the monolith every service shares the in-process cache as
        they would share memcached in a fleet. The owner closes it (:meth:`close`)."""
        if self._cache is None:
            from matinee.cache import open_cache  # noqa: PLC0415 - only services that use it pay

            self._cache = open_cache(
                self.settings.cache_url,
                name="matinee",
                zone=self.config.zone,
                clock=self.clock,
                metrics=self.metrics,
            )
        return self._cache

    async def close(self) -> None:
        """Close what the node opened for its services (the cache cluster)."""
        if self._cache is not None:
            await self._cache.close()
            self._cache = None


@dataclass
class ServiceContext:
    """Everything a service's ``build`` may use. Never says which topology it runs in.

    ``build`` may also :meth:`add_lifespan` for what must run while the instance lives.
    """

    service: str
    instance_id: str
    zone: str
    settings: Settings
    config: RuntimeConfig
    clock: Clock
    metrics: Registry
    series: SeriesStore
    transport: Transport
    discovery: DiscoveryClient
    dependencies: Dependencies
    clients: Clients
    platform_override: Platform | None = None
    node: Node | None = field(default=None, repr=False)
    lifespans: list[Callable[[], AbstractAsyncContextManager[None]]] = field(default_factory=list)
    _database: Database | None = field(default=None, repr=False)

    def add_lifespan(self, lifespan: Callable[[], AbstractAsyncContextManager[None]]) -> None:
        """Run ``lifespan`` around the instance's life: entered before it registers with
        discovery, exited after it drained (background loops, pools, ...)."""
        self.lifespans.append(lifespan)

    def database(self) -> Database:
        """The relational database (``settings.database_url``), opened on first use and closed
        when the instance stops. Migrations are not run here: ``matinee up`` and
        ``matinee db upgrade`` run them once, before any instance starts."""
        if self._database is None:
            from matinee.db.aio import Database  # noqa: PLC0415 - only services that use it pay

            self._database = Database(self.settings.resolved_database_url)
            self.add_lifespan(self._database.lifespan)
        return self._database

    def _node_cache(self) -> Cache:
        if self.node is None:
            raise RuntimeError("this context was built without a node; it has no cache")
        return self.node.cache()

    def cache(self, name: str) -> Cache:
        """The cache called ``name`` (keys live under ``<name>:``) on the process's cluster:
        in-process by default, memcached zones when ``settings.cache_url`` says so."""
        return self._node_cache().named(name)

    @cached_property
    def platform(self) -> Platform:
        """matinee's domain parts (stores, object store) built from settings, on first use.
        Like :meth:`database`, it does not migrate: ``matinee up`` did, once."""
        if self.platform_override is not None:
            return self.platform_override
        from matinee.platform import Platform  # noqa: PLC0415 - only services that use it pay

        return Platform(self.settings, migrate=False)


def build_context(
    service: str,
    node: Node,
    *,
    instance_id: str,
    host: str,
    port: int,
    platform: Platform | None = None,
) -> ServiceContext:
    """The context of one instance of ``service``, reachable at ``http://host:port``."""
    cfg = node.config
    info = InstanceInfo.for_service(
        service,
        instance_id,
        host,
        port,
        zone=cfg.zone,
        renewal_interval=cfg.discovery.renewal_interval,
        lease_duration=cfg.discovery.lease_duration,
    )
    discovery = DiscoveryClient(
        cfg.discovery, node.transport.request, node.clock, node.metrics, self_info=info
    )
    dependencies = Dependencies(node.clock, node.metrics, cfg.dependencies, cfg.default_dependency)

    def balancer(app: str) -> Balancer:
        return LoadBalancer(
            discovery,
            app,
            clock=node.clock,
            zone=cfg.zone,
            rule=cfg.balancer_rule,
            skip_seconds=cfg.balancer_skip_seconds,
            metrics=node.metrics,
        )

    clients = Clients(
        balancer,
        dependencies,
        node.transport,
        metrics=node.metrics,
        caller=service,
        config=cfg.client,
    )
    return ServiceContext(
        service=service,
        instance_id=instance_id,
        zone=cfg.zone,
        settings=node.settings,
        config=cfg,
        clock=node.clock,
        metrics=node.metrics,
        series=node.series,
        transport=node.transport,
        discovery=discovery,
        dependencies=dependencies,
        clients=clients,
        platform_override=platform,
        node=node,
    )
