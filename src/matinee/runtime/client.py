"""The client stack every call between services goes through, in every topology.

``ServiceClient.request`` is one :meth:`Dependency.call` (breaker, bulkhead, timeout, retries,
fallback) around attempts; each attempt asks the load balancer for an instance it has not tried
yet, adds the tracing headers of a new child span, and sends through the transport (in-process
ASGI in the monolith, sockets in a fleet). The service that calls never learns which.

An answer with a 5xx status raises :class:`UpstreamStatusError` (a failure for the breaker,
retried on another instance only when the call is idempotent and the status is 503); any other
status is returned as it is. Only failures to reach an instance (connect errors, timeouts, a
dropped connection) make the balancer skip that instance for a while; an instance that answers,
even with an error, is alive.

Metrics: ``ipc.client.call`` timer {service (the caller), dependency, status} per attempt, where
``status`` is the HTTP status or the error's class name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from matinee.clock import Clock
from matinee.discovery.models import InstanceInfo
from matinee.resilience.dependency import Dependencies, Dependency
from matinee.resilience.errors import (
    NoInstance,
    UpstreamConnectError,
    UpstreamError,
    UpstreamReadTimeout,
    UpstreamStatusError,
)
from matinee.runtime import tracing
from matinee.runtime.transport import Response, Transport
from matinee.telemetry.metrics import Registry, Timer

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

Fallback = Callable[[Exception], Awaitable[Response]]


class Balancer(Protocol):
    """Picks instances of one service (``discovery.balancer.LoadBalancer`` has this shape)."""

    def choose(self, exclude: Collection[str] = ...) -> InstanceInfo: ...

    def on_start(self, instance: InstanceInfo) -> None: ...

    def on_finish(self, instance: InstanceInfo, ok: bool) -> None: ...


BalancerFactory = Callable[[str], Balancer]


@dataclass(frozen=True)
class ClientConfig:
    """``attempt_timeout`` bounds one attempt on one instance; None splits the dependency's
    overall timeout evenly over the first try and its retries, as Zuul sizes Hystrix's."""

    attempt_timeout: float | None = None


class ServiceClient:
    """Calls one service (``app``) through balancer, resilience and transport."""

    def __init__(
        self,
        app: str,
        balancer: Balancer,
        dependency: Dependency,
        transport: Transport,
        *,
        metrics: Registry,
        caller: str = "",
        config: ClientConfig | None = None,
    ) -> None:
        self.app = app
        self.balancer = balancer
        self.dependency = dependency
        self.transport = transport
        self.caller = caller
        cfg = config or ClientConfig()
        dep = dependency.config
        self.attempt_timeout = cfg.attempt_timeout or dep.timeout_s / (dep.retries + 1)
        self._metrics = metrics
        self._timers: dict[str, Timer] = {}
        self._clock: Clock = metrics.clock

    def _timer(self, status: str) -> Timer:
        timer = self._timers.get(status)
        if timer is None:
            timer = self._metrics.timer(
                "ipc.client.call", service=self.caller, dependency=self.app, status=status
            )
            self._timers[status] = timer
        return timer

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes = b"",
        idempotent: bool | None = None,
        fallback: Fallback | None = None,
        attempt_timeout: float | None = None,
        call_timeout: float | None = None,
    ) -> Response:
        """One call to the service. ``path`` includes any query string; ``call_timeout`` replaces
        the dependency's overall timeout for this call (its attempts then share it evenly);
        ``attempt_timeout`` overrides the time one attempt on one instance may take. Raises a
        ``ResilienceError`` when no answer (and no fallback) can be had."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        if not path.startswith("/"):
            path = "/" + path
        sent = headers or ()
        tried: set[str] = set()
        failed: list[Exception] = []
        limit = attempt_timeout or self.attempt_timeout
        if call_timeout is not None and attempt_timeout is None:
            limit = call_timeout / (self.dependency.config.retries + 1)

        async def attempt(n: int) -> Response:
            try:
                instance = self.balancer.choose(tried)
            except NoInstance:
                if failed:  # nowhere else to retry: the caller learns why the last try failed
                    raise failed[-1] from None
                raise
            tried.add(instance.instance_id)
            try:
                return await self._send(
                    instance, method, path, headers=sent, body=body, limit=limit
                )
            except UpstreamError as exc:
                failed.append(exc)
                raise

        return await self.dependency.call(
            attempt, idempotent=idempotent, fallback=fallback, timeout_s=call_timeout
        )

    async def _send(
        self,
        instance: InstanceInfo,
        method: str,
        path: str,
        *,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        limit: float,
    ) -> Response:
        url = instance.base_url + path
        self.balancer.on_start(instance)
        reachable = True
        start = self._clock.monotonic()
        status = "cancelled"
        try:
            response = await self.transport.request(
                method, url, [*headers, *tracing.outgoing_headers()], body, limit
            )
        except UpstreamError as exc:
            status = type(exc).__name__
            reachable = not isinstance(exc, UpstreamConnectError | UpstreamReadTimeout)
            exc.instance = instance.instance_id
            exc.dependency = self.app
            raise
        else:
            status = str(response.status)
        finally:
            self._timer(status).record(self._clock.monotonic() - start)
            self.balancer.on_finish(instance, reachable)
        response.instance = instance.instance_id
        if response.status >= 500:
            raise UpstreamStatusError(response, instance=instance.instance_id, dependency=self.app)
        return response


class Clients:
    """Every :class:`ServiceClient` of one service instance, made on first use."""

    def __init__(
        self,
        balancers: BalancerFactory,
        dependencies: Dependencies,
        transport: Transport,
        *,
        metrics: Registry,
        caller: str = "",
        config: ClientConfig | None = None,
    ) -> None:
        self._balancers = balancers
        self.dependencies = dependencies
        self.transport = transport
        self._metrics = metrics
        self._caller = caller
        self._config = config or ClientConfig()
        self._clients: dict[str, ServiceClient] = {}

    def get(self, app: str) -> ServiceClient:
        key = app.lower()
        client = self._clients.get(key)
        if client is None:
            client = ServiceClient(
                key,
                self._balancers(key),
                self.dependencies.get(key),
                self.transport,
                metrics=self._metrics,
                caller=self._caller,
                config=self._config,
            )
            self._clients[key] = client
        return client
