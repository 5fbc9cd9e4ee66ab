"""Per-client rate limits: one token bucket per caller, refilled from an injected clock.

A caller is the verified identity's subject when there is one, else the client's address.
An empty bucket answers 429 with ``Retry-After`` (the seconds until one token is back).
"""

from __future__ import annotations

from matinee.clock import Clock
from matinee.gateway.errors import RateLimited
from matinee.gateway.filters import RequestContext
from matinee.gateway.response import GatewayResponse
from matinee.telemetry.metrics import Counter, Registry


class TokenBucket:
    """``burst`` tokens at most, ``rate`` tokens back per second."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens: 0.0 when granted, else the seconds until they would be there."""
        tokens = self.tokens + (now - self.stamp) * self.rate
        tokens = min(tokens, self.burst)
        self.stamp = now
        if tokens >= cost:
            self.tokens = tokens - cost
            return 0.0
        self.tokens = tokens
        return (cost - tokens) / self.rate if self.rate > 0 else float("inf")

    def full_at(self) -> float:
        """When the bucket will be full again (an idle full bucket can be forgotten)."""
        return self.stamp + (self.burst - self.tokens) / self.rate if self.rate > 0 else 0.0


class RateLimiter:
    """Token buckets by client key; at most ``max_clients`` (idle full ones are dropped first)."""

    def __init__(
        self, rate: float, burst: float, clock: Clock, *, max_clients: int = 100_000
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, TokenBucket] = {}

    def acquire(self, key: str) -> float:
        """0.0 when ``key`` may go ahead, else the seconds it should wait."""
        now = self.clock.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._prune(now)
            bucket = TokenBucket(self.rate, self.burst, now)
            self._buckets[key] = bucket
        return bucket.take(now)

    def _prune(self, now: float) -> None:
        self._buckets = {k: b for k, b in self._buckets.items() if b.full_at() > now}
        if len(self._buckets) >= self.max_clients:
            # Every caller is active: forget the oldest half (they start again with full buckets).
            keep = list(self._buckets.items())[len(self._buckets) // 2 :]
            self._buckets = dict(keep)

    def __len__(self) -> int:
        return len(self._buckets)


def client_key(ctx: RequestContext, *, trust_forwarded: bool = False) -> str:
    """Who to charge: the signed-in subject, else the client address."""
    if ctx.identity is not None:
        return "user:" + ctx.identity.subject
    if trust_forwarded:
        forwarded = ctx.header("x-forwarded-for")
        if forwarded:
            return "ip:" + forwarded.split(",", 1)[0].strip()
    return "ip:" + (ctx.client or "unknown")


class RateLimitFilter:
    """Inbound filter (order 50): 429 + Retry-After when the caller's bucket is empty."""

    name = "rate_limit"
    order = 50

    def __init__(
        self, limiter: RateLimiter, metrics: Registry, *, trust_forwarded: bool = False
    ) -> None:
        self.limiter = limiter
        self.metrics = metrics
        self.trust_forwarded = trust_forwarded
        self._counters: dict[str, Counter] = {}

    def should_filter(self, ctx: RequestContext) -> bool:
        route = ctx.route
        return route is None or route.rate_limited

    async def apply(self, ctx: RequestContext) -> GatewayResponse | None:
        wait = self.limiter.acquire(client_key(ctx, trust_forwarded=self.trust_forwarded))
        if wait <= 0.0:
            return None
        route = ctx.route.name if ctx.route is not None else ""
        counter = self._counters.get(route)
        if counter is None:
            counter = self.metrics.counter("gateway.ratelimited", route=route)
            self._counters[route] = counter
        counter.inc()
        raise RateLimited("Too many requests from this client; slow down.", retry_after=wait)
