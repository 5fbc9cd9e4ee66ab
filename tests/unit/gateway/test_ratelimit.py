from __future__ import annotations

import asyncio

from matinee.clock import FakeClock
from matinee.gateway.app import Gateway, create_gateway
from matinee.gateway.auth import Identity
from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.gateway.ratelimit import RateLimiter
from matinee.gateway.routes import Route

from .fakes import FakeContext, call


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2.0, burst=3.0, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == 0.5  # one token comes back every 0.5 s
    assert limiter.acquire("b") == 0.0  # another client has its own bucket
    clock.advance(0.5)
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == 0.5
    clock.advance(100)
    assert [limiter.acquire("a") for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]  # capped at burst


def test_idle_clients_are_forgotten_when_the_table_is_full() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1.0, clock=clock, max_clients=2)
    limiter.acquire("a")
    limiter.acquire("b")
    clock.advance(5)  # both buckets are full again
    limiter.acquire("c")
    assert len(limiter) == 1


def limited_gateway(ctx: FakeContext) -> Gateway:
    config = GatewayConfig(rate_limit=RateLimitConfig(rate=1.0, burst=2.0))
    routes = [Route("/free", "free", rate_limited=False), Route("/", "media")]

    class Validator:
        async def validate(self, token: str) -> Identity | None:
            return Identity(token)

    return create_gateway(ctx, routes, config=config, validator=Validator(), identity_key=b"k")


def test_429_with_retry_after_then_allowed_again() -> None:
    ctx = FakeContext()
    app = limited_gateway(ctx)

    async def main() -> None:
        assert (await call(app, "GET", "/a")).status == 200
        assert (await call(app, "GET", "/a")).status == 200
        reply = await call(app, "GET", "/a")
        assert reply.status == 429
        assert reply.header("retry-after") == "1"
        assert reply.json()["error"] == "rate_limited"
        assert (await call(app, "GET", "/a", client=("198.51.100.1", 1))).status == 200
        assert (await call(app, "GET", "/free")).status == 200  # route not rate-limited
        ctx.clock.advance(1.0)
        assert (await call(app, "GET", "/a")).status == 200

    asyncio.run(main())
    assert len(ctx.clients.calls) == 5
    assert ctx.metrics.counter("gateway.ratelimited", route="media").value == 1


def test_signed_in_callers_are_limited_per_user_not_per_address() -> None:
    ctx = FakeContext()
    app = limited_gateway(ctx)

    async def status(user: str) -> int:
        reply = await call(app, "GET", "/a", headers=[("authorization", f"Bearer {user}")])
        return reply.status

    async def main() -> list[int]:
        return [await status("ann"), await status("ann"), await status("ann"), await status("bob")]

    assert asyncio.run(main()) == [200, 200, 429, 200]
