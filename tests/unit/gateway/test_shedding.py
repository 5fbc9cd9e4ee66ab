from __future__ import annotations

import asyncio

import pytest

from matinee.clock import FakeClock
from matinee.gateway.app import Gateway, create_gateway
from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.gateway.filters import RequestContext
from matinee.gateway.routes import Route
from matinee.gateway.shedding import (
    LoadShedder,
    SheddingConfig,
    assign_priority,
    cutoff_for,
    priority_class,
)
from matinee.runtime.transport import Response
from matinee.telemetry.metrics import Registry

from .fakes import Call, FakeContext, call, ok


def ctx_with(*headers: tuple[str, str]) -> RequestContext:
    return RequestContext("GET", "/", headers=list(headers))


@pytest.mark.parametrize(
    ("route", "headers", "expected"),
    [
        (100, [], 100),
        (60, [("x-request-priority", "30")], 30),
        (60, [("x-request-priority", "90")], 60),  # a client can lower, never raise
        (60, [("x-request-priority", "0")], 1),
        (60, [("x-request-priority", "high")], 60),
        (100, [("sec-purpose", "prefetch;prerender")], 20),
        (100, [("purpose", "Prefetch")], 20),
        (10, [("sec-purpose", "prefetch")], 10),
    ],
)
def test_priority_from_route_and_headers(
    route: int, headers: list[tuple[str, str]], expected: int
) -> None:
    assert assign_priority(route, ctx_with(*headers), prefetch_priority=20) == expected


def test_priority_classes() -> None:
    assert [priority_class(p) for p in (100, 90, 70, 40, 39, 1)] == [
        "critical",
        "critical",
        "degraded",
        "degraded",
        "non_critical",
        "non_critical",
    ]


def test_cubic_cutoff_curve() -> None:
    assert cutoff_for(0.0) == 0.0
    assert cutoff_for(-1.0) == 0.0
    assert cutoff_for(0.35) == pytest.approx(4.2875)  # a blip barely sheds anything
    assert cutoff_for(0.5) == pytest.approx(12.5)
    assert cutoff_for(0.8) == pytest.approx(51.2)  # half the priorities at 80 %
    assert cutoff_for(0.95) == pytest.approx(85.7375)
    assert cutoff_for(1.0) == 100.0
    assert cutoff_for(3.0) == 100.0
    points = [cutoff_for(i / 100) for i in range(101)]
    assert points == sorted(points)


def test_overload_from_inflight_against_the_limit() -> None:
    clock = FakeClock()
    shedder = LoadShedder(SheddingConfig(max_inflight=100, throttle_at=0.6), clock, Registry(clock))
    for inflight, expected in [(0, 0.0), (60, 0.0), (80, 0.5), (90, 0.75), (100, 1.0), (500, 1.0)]:
        shedder.inflight = inflight
        assert shedder.overload() == pytest.approx(expected)
    shedder.inflight = 90  # x = 0.75: cutoff 42.2
    assert shedder.try_admit(42) is not None
    assert shedder.try_admit(43) is None
    shedder.inflight = 1000  # far past the limit: only priority 100 goes through
    assert shedder.try_admit(99) is not None
    assert shedder.try_admit(100) is None


def gateway(ctx: FakeContext, shedding: SheddingConfig) -> Gateway:
    config = GatewayConfig(shedding=shedding, rate_limit=RateLimitConfig(enabled=False))
    routes = [
        Route("/api/playback", "playback", priority=100),
        Route("/api/browse", "browse", priority=60),
        Route("/api/logs", "logs", priority=20),
    ]
    return create_gateway(ctx, routes, config=config, identity_key=b"k")


def test_at_overload_critical_requests_pass_and_non_critical_are_shed() -> None:
    ctx = FakeContext()
    app = gateway(ctx, SheddingConfig(max_inflight=10, throttle_at=0.5))
    release = asyncio.Event()

    async def slow(_: Call) -> Response:
        await release.wait()
        return ok("played")

    ctx.clients.behaviours["playback"] = slow

    async def main() -> None:
        held = [asyncio.create_task(call(app, "GET", "/api/playback/start")) for _ in range(9)]
        await asyncio.sleep(0)  # all 9 are now in flight: signal 0.9, x = 0.8, cutoff 51.2
        assert app.shedder.inflight == 9
        shed = await call(app, "POST", "/api/logs", body=b"{}")
        assert shed.status == 503
        assert shed.json()["error"] == "overloaded"
        assert shed.header("retry-after") == "5"  # 1 + 4 * 0.8 s, rounded up
        prefetch = await call(app, "GET", "/api/browse/row", headers=[("sec-purpose", "prefetch")])
        assert prefetch.status == 503
        assert (await call(app, "GET", "/api/browse/row")).status == 200  # 60 > 51.2
        release.set()
        critical = await asyncio.gather(*held, call(app, "GET", "/api/playback/start"))
        assert [r.status for r in critical] == [200] * 10
        assert app.shedder.inflight == 0
        assert (await call(app, "POST", "/api/logs", body=b"{}")).status == 200

    asyncio.run(main())
    shed = ctx.metrics.counter("gateway.shed", priority="20", **{"class": "non_critical"})
    assert shed.value == 2
    assert app.shedder.shed_counts() == {20: 2}
    assert [c.service for c in ctx.clients.calls].count("logs") == 1
    assert ctx.metrics.timer("gateway.requests", route="logs", status="503").count == 1


def test_slow_service_sheds_its_own_low_priority_traffic_until_it_recovers() -> None:
    ctx = FakeContext()
    app = gateway(
        ctx,
        SheddingConfig(target_latency=0.5, throttle_at=0.5, latency_alpha=1.0, latency_window=5.0),
    )
    delay = {"browse": 1.0}

    async def timed(c: Call) -> Response:
        ctx.clock.advance(delay.get(c.service, 0.0))
        return ok()

    for service in ("playback", "browse", "logs"):
        ctx.clients.behaviours[service] = timed

    async def main() -> None:
        assert (await call(app, "GET", "/api/browse/a")).status == 200  # took 1 s: 2x target
        # browse is over its latency limit: x = 1, only priority 100 would pass
        assert (await call(app, "GET", "/api/browse/a")).status == 503
        # other services are not held back by browse being slow
        assert (await call(app, "GET", "/api/logs")).status == 200
        ctx.clock.advance(5.1)  # no browse answer for a whole window: the signal is gone
        delay["browse"] = 0.1
        assert (await call(app, "GET", "/api/browse/a")).status == 200
        assert (await call(app, "GET", "/api/browse/a")).status == 200

    asyncio.run(main())


def test_while_shedding_a_probe_learns_that_the_service_recovered() -> None:
    ctx = FakeContext()
    app = gateway(
        ctx,
        SheddingConfig(
            target_latency=0.5,
            throttle_at=0.5,
            latency_alpha=1.0,
            latency_window=60.0,
            probe_interval=0.25,
        ),
    )
    delay = {"browse": 1.0}

    async def timed(c: Call) -> Response:
        ctx.clock.advance(delay.get(c.service, 0.0))
        return ok()

    ctx.clients.behaviours["browse"] = timed

    async def main() -> None:
        assert (await call(app, "GET", "/api/browse/a")).status == 200  # 1 s: twice the target
        delay["browse"] = 0.05  # browse is fast again, but nothing reaches it to show that
        assert (await call(app, "GET", "/api/browse/a")).status == 503
        ctx.clock.advance(0.1)
        assert (await call(app, "GET", "/api/browse/a")).status == 503  # too soon to probe
        ctx.clock.advance(0.2)
        assert (await call(app, "GET", "/api/browse/a")).status == 200  # the probe
        # its 50 ms answer replaced the stale figure: traffic flows long before the window ends
        assert (await call(app, "GET", "/api/browse/a")).status == 200
        assert ctx.metrics.counter("gateway.shed.probes").value == 1

    asyncio.run(main())


def test_uploads_do_not_teach_the_shedder_their_service_latency() -> None:
    ctx = FakeContext()
    config = GatewayConfig(
        shedding=SheddingConfig(target_latency=0.5, throttle_at=0.5, latency_alpha=1.0),
        rate_limit=RateLimitConfig(enabled=False),
    )
    routes = [
        Route("/api/media/uploads", "media", name="uploads", latency_signal=False),
        Route("/api/media", "media", priority=60),
    ]
    app = create_gateway(ctx, routes, config=config, identity_key=b"k")

    async def upload(c: Call) -> Response:
        ctx.clock.advance(4.0 if "uploads" in c.path else 0.01)  # a chunk at the client's pace
        return ok()

    ctx.clients.behaviours["media"] = upload

    async def main() -> None:
        assert (await call(app, "PATCH", "/api/media/uploads/u1")).status == 200
        assert (await call(app, "GET", "/api/media/jobs")).status == 200  # not shed
        assert app.shedder.inflight == 0

    asyncio.run(main())


def test_shedding_can_be_switched_off() -> None:
    ctx = FakeContext()
    app = gateway(ctx, SheddingConfig(enabled=False, max_inflight=1, throttle_at=0.0))
    app.shedder.inflight = 50
    assert asyncio.run(call(app, "GET", "/api/logs")).status == 200


def test_event_loop_lag_counts_as_overload() -> None:
    clock = FakeClock()
    shedder = LoadShedder(
        SheddingConfig(loop_lag_target=0.1, throttle_at=0.5), clock, Registry(clock)
    )
    assert shedder.loop_lag is not None

    async def main() -> None:
        assert shedder.try_admit(10) is None  # starts the lag monitor on this loop
        shedder.release("", 0.0)
        assert shedder.loop_lag is not None
        shedder.loop_lag.lag = 0.1  # the loop wakes sleepers 100 ms late: at the limit
        assert shedder.overload() == 1.0
        assert shedder.try_admit(99) is not None
        await shedder.aclose()

    asyncio.run(main())
