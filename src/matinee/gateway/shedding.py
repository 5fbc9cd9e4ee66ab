"""Prioritized load shedding, after Netflix's Zuul (2020).

Every request gets a priority from 1 to 100 (higher matters more): its route's priority,
lowered - never raised - by what the client says about it (``x-request-priority``, or a
prefetch hint such as ``Sec-Purpose: prefetch``).

The overload signal is the worst of three ratios against their limits: requests in flight
through the gateway / ``max_inflight``, the route's service's recent mean latency /
``target_latency``, and (optionally) event-loop lag / ``loop_lag_target``. Below ``throttle_at``
nothing is shed. Between ``throttle_at`` and 1.0 the overload ``x`` (0..1) maps to a priority
cutoff through a cubic curve, ``cutoff = 100 * x**3``: a blip barely moves it (x = 0.35 sheds
only priorities below 5), it crosses 50 at x = 0.8 and reaches 86 at x = 0.95. A request whose
priority is below the cutoff gets 503 with ``Retry-After`` (longer the worse the overload), and
``gateway.shed`` {priority, class} counts it. Priority 100 is never shed here.

A service's latency is learnt only from the requests that reach it, so a service whose every
request is shed would keep its last (bad) figure until the window ran out. While shedding,
one request per service is therefore let through every ``probe_interval`` as a probe
(``gateway.shed.probes`` counts them): its answer refreshes the figure, and shedding stops as
soon as the service is fast again.
"""

from __future__ import annotations

import asyncio
import contextlib
import math

from pydantic import BaseModel, ConfigDict, Field

from matinee.clock import Clock
from matinee.gateway.filters import RequestContext
from matinee.gateway.response import GatewayResponse
from matinee.resilience.errors import Overloaded
from matinee.telemetry.metrics import Counter, Registry

PRIORITY_HEADER = "x-request-priority"
_PURPOSE_HEADERS = frozenset({"sec-purpose", "purpose", "x-purpose", "x-moz"})


class SheddingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    max_inflight: int = Field(default=256, ge=1)
    target_latency: float = Field(default=0.5, gt=0)
    throttle_at: float = Field(default=0.6, ge=0, lt=1)
    latency_alpha: float = Field(default=0.1, gt=0, le=1)
    latency_window: float = Field(default=5.0, gt=0)
    probe_interval: float = Field(default=0.25, gt=0)
    loop_lag_target: float | None = Field(default=None, gt=0)
    prefetch_priority: int = Field(default=20, ge=1, le=100)
    retry_after_min: float = Field(default=1.0, ge=0)
    retry_after_max: float = Field(default=5.0, ge=0)


def priority_class(priority: int) -> str:
    if priority >= 90:
        return "critical"
    if priority >= 40:
        return "degraded"
    return "non_critical"


def assign_priority(route_priority: int, ctx: RequestContext, prefetch_priority: int = 20) -> int:
    """The route's priority, lowered by client hints; always within 1..100."""
    priority = route_priority
    for name, value in ctx.headers:  # one pass; most requests carry neither hint
        if name == PRIORITY_HEADER:
            if value.isdigit():
                priority = min(priority, int(value))
        elif name in _PURPOSE_HEADERS and "prefetch" in value.lower():
            priority = min(priority, prefetch_priority)
    return max(1, min(100, priority))


def cutoff_for(overload: float) -> float:
    """The cubic curve: overload 0..1 to the priority below which requests are shed."""
    x = 0.0 if overload <= 0.0 else min(overload, 1.0)
    return 100.0 * x * x * x


class _Latency:
    __slots__ = ("probed", "stamp", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.stamp = -math.inf  # when the last answer came
        self.probed = -math.inf  # when the last probe was let through


class LoopLag:
    """Measures how late the event loop wakes a sleeper (a CPU-saturation signal)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.lag = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start measuring on the running loop (again, if an earlier loop has gone)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            late = max(0.0, loop.time() - before - self.interval)
            self.lag = 0.7 * self.lag + 0.3 * late


class LoadShedder:
    """Tracks in-flight requests and latency per service, and decides who is shed."""

    def __init__(self, config: SheddingConfig, clock: Clock, metrics: Registry) -> None:
        self.config = config
        self.clock = clock
        self.metrics = metrics
        self.inflight = 0
        self._max_inflight = float(config.max_inflight)
        self._target = config.target_latency
        self._throttle_at = config.throttle_at
        self._span = 1.0 - config.throttle_at
        self._alpha = config.latency_alpha
        self._window = config.latency_window
        self._probe_interval = config.probe_interval
        self._probes = metrics.counter("gateway.shed.probes")
        self._latency: dict[str, _Latency] = {}
        self.loop_lag = LoopLag() if config.loop_lag_target is not None else None
        self._lag_target = config.loop_lag_target or 1.0
        self._shed: list[Counter | None] = [None] * 101
        metrics.gauge_fn("gateway.inflight", lambda: float(self.inflight))
        metrics.gauge_fn("gateway.shed.cutoff", lambda: cutoff_for(self.overload()))

    def latency(self, service: str) -> float:
        """The service's recent mean latency (0.0 when it has not answered for a while)."""
        lat = self._latency.get(service)
        if lat is None or self.clock.monotonic() - lat.stamp > self._window:
            return 0.0
        return lat.value

    def signal(self, service: str = "") -> float:
        """The worst load ratio: 1.0 means at the limit."""
        s = self.inflight / self._max_inflight
        if service:
            s = max(s, self.latency(service) / self._target)
        if self.loop_lag is not None:
            s = max(s, self.loop_lag.lag / self._lag_target)
        return s

    def overload(self, service: str = "") -> float:
        """How far past the throttling threshold, 0.0 (fine) to 1.0 (at or over the limit)."""
        s = self.signal(service)
        if s <= self._throttle_at:
            return 0.0
        return min(1.0, (s - self._throttle_at) / self._span)

    def try_admit(self, priority: int, service: str = "") -> float | None:
        """None when admitted (then call :meth:`release`), else the Retry-After seconds."""
        if self.loop_lag is not None:
            self.loop_lag.start()
        x = self.overload(service)
        if x > 0.0 and priority < cutoff_for(x) and not self._probe(service):
            self._count_shed(priority)
            c = self.config
            return c.retry_after_min + (c.retry_after_max - c.retry_after_min) * x
        self.inflight += 1
        return None

    def _probe(self, service: str) -> bool:
        """Whether to let this request through to learn the service's latency afresh."""
        lat = self._latency.get(service) if service else None
        if lat is None:
            return False
        now = self.clock.monotonic()
        interval = self._probe_interval
        if now - lat.stamp < interval or now - lat.probed < interval:
            return False
        lat.probed = now
        self._probes.inc()
        return True

    def release(self, service: str, latency: float) -> None:
        """One admitted request is done; ``latency`` is a sample of ``service`` (none if "")."""
        self.inflight -= 1
        if not service:
            return
        lat = self._latency.get(service)
        if lat is None:
            lat = self._latency[service] = _Latency()
        now = self.clock.monotonic()
        if now - lat.stamp > self._window:
            lat.value = latency
        else:
            lat.value += self._alpha * (latency - lat.value)
        lat.stamp = now

    def _count_shed(self, priority: int) -> None:
        counter = self._shed[priority]
        if counter is None:
            counter = self.metrics.counter(
                "gateway.shed", priority=str(priority), **{"class": priority_class(priority)}
            )
            self._shed[priority] = counter
        counter.inc()

    def shed_counts(self) -> dict[int, float]:
        return {p: c.value for p, c in enumerate(self._shed) if c is not None}

    async def aclose(self) -> None:
        if self.loop_lag is not None:
            await self.loop_lag.stop()


class SheddingFilter:
    """Inbound filter (order 30): set ``ctx.priority``; 503 + Retry-After below the cutoff."""

    name = "shedding"
    order = 30

    def __init__(self, shedder: LoadShedder) -> None:
        self.shedder = shedder
        self._enabled = shedder.config.enabled
        self._prefetch = shedder.config.prefetch_priority

    def should_filter(self, ctx: RequestContext) -> bool:
        return ctx.route is not None

    async def apply(self, ctx: RequestContext) -> GatewayResponse | None:
        route = ctx.route
        if route is None:
            return None
        ctx.priority = assign_priority(route.priority, ctx, self._prefetch)
        if not self._enabled:
            return None
        wait = self.shedder.try_admit(ctx.priority, route.service)
        if wait is not None:
            raise Overloaded(
                "The platform is overloaded; please try again shortly.", retry_after=wait
            )
        ctx.on_complete(self._release)
        return None

    def _release(self, ctx: RequestContext, response: GatewayResponse) -> None:
        route = ctx.route
        if route is None or not route.latency_signal:
            self.shedder.release("", 0.0)  # in flight no more; no latency sample
            return
        self.shedder.release(route.service, self.shedder.clock.monotonic() - ctx.start)
