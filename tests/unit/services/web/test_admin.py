"""The admin read API in a monolith: who may ask, what it gathers from discovery, the breakers,
the shedding, steering and the telemetry store, and how it answers when parts are dead."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from matinee.db import upgrade
from matinee.gateway.config import GatewayConfig, RateLimitConfig
from matinee.gateway.shedding import SheddingConfig
from matinee.runtime.context import RuntimeConfig
from matinee.services import media, steering
from matinee.settings import Settings

from .stack import FRONT, KEY, ShiftedClock, Stack, build_dist, running

STEP = 600.0  # one step of the series per test: the test moves the wall clock past it
# Shed every request below priority 100 once its service has answered one (any latency is
# over a target of a microsecond): the first /api/assets gets through, the rest are shed.
SHEDDING = GatewayConfig(
    shedding=SheddingConfig(target_latency=1e-6, throttle_at=0.0),
    rate_limit=RateLimitConfig(enabled=False),
)


async def odd_registry(scope: Any, receive: Any, send: Any) -> None:
    """Answers every request 200 with JSON that is no registry's."""
    del scope, receive
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"apps": "many", "replicas": 3}'})


def settings_for(tmp_path: Path) -> Settings:
    settings = Settings(
        data_dir=tmp_path,
        web_dist=build_dist(tmp_path / "dist"),
        cdn_url="http://127.0.0.1:9",  # a CDN tier that is down
    )
    upgrade(settings.resolved_database_url)  # as `matinee up` does before instances start
    return settings


def at_step_start() -> ShiftedClock:
    """A clock whose wall time has just begun a step, so no sample falls inside the test."""
    clock = ShiftedClock()
    now = clock.time()
    clock.offset = math.ceil(now / STEP) * STEP - now + 1.0
    return clock


def run(
    tmp_path: Path,
    body: Callable[[Stack, ShiftedClock], Awaitable[None]],
    *,
    with_steering: bool = True,
    gateway: GatewayConfig = FRONT,
) -> None:
    clock = at_step_start()
    config = RuntimeConfig(gateway=gateway, identity_key=KEY, series_step=STEP)
    services = [media.SPEC, steering.SPEC] if with_steering else [media.SPEC]

    async def main() -> None:
        async with running(settings_for(tmp_path), services, config=config, clock=clock) as s:
            await body(s, clock)

    asyncio.run(main())


def next_step(stack: Stack, clock: ShiftedClock) -> None:
    """Close the series' step: what happened so far becomes one point of every series."""
    clock.offset += STEP
    assert stack.monolith.node.series.sample() > 0


def by(rows: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def test_only_admins_may_read(tmp_path: Path) -> None:
    async def body(stack: Stack, clock: ShiftedClock) -> None:
        del clock
        paths = (
            "/api/admin/services",
            "/api/admin/cdn",
            "/api/admin/metrics/names",
            "/api/admin/metrics/query?name=gateway.requests",
        )
        for path in paths:
            assert (await stack.direct("web", path)).status == 401, path
            member = await stack.direct("web", path, stack.signed("member"))
            assert member.status == 403, path
            assert member.json()["error"] == "forbidden"
            assert (await stack.front(path)).status == 401, path  # through the gateway too
            assert (await stack.admin(path)).status == 200, path

    run(tmp_path, body, with_steering=False)


def test_services_lists_instances_breakers_and_shed_rates(tmp_path: Path) -> None:
    async def body(stack: Stack, clock: ShiftedClock) -> None:
        statuses = [(await stack.front("/api/assets")).status for _ in range(4)]
        assert statuses == [200, 503, 503, 503]  # shed: see SHEDDING
        next_step(stack, clock)

        answer = await stack.admin("/api/admin/services?minutes=30")
        assert answer.status == 200
        assert answer.header("cache-control") == "no-store"
        state = answer.json()
        assert state["source"] == "registry"
        assert state["unavailable"] == []
        apps = {a["name"]: a["instances"] for a in state["apps"]}
        assert set(apps) == {"media", "steering", "web", "gateway"}
        (web,) = apps["web"]
        assert (web["id"], web["host"], web["port"], web["status"]) == (
            "web-1",
            "web-1.local",
            80,
            "UP",
        )
        assert web["zone"] == stack.monolith.config.zone
        assert abs(web["last_renewal"] - clock.time()) < 2 * STEP
        # the registry peer (the monolith has one) answers for itself
        (peer,) = state["registries"]
        assert peer["up"] is True
        assert peer["url"].endswith("/eureka")
        assert (peer["apps"], peer["instances"]) == (4, 4)
        # just registered: renewals have not built up past the threshold yet (as in Eureka)
        assert peer["renews_last_window"] < peer["renew_threshold"]
        assert peer["self_preservation"] is True
        assert peer["replicas"] == []  # its only peer is itself: nothing to replicate to

        # the gateway's breaker for media counted the one call that got through
        (to_media,) = by(state["breakers"], instance="gateway-1", dependency="media")
        assert (to_media["state"], to_media["calls"], to_media["error_rate"]) == ("closed", 1, 0)
        assert by(state["breakers"], instance="web-1", dependency="registry")

        # the gateway shed 3 of the 4 requests at priority 60 (its routes of that priority)
        (shed,) = by(state["shedding"], instance="gateway-1", priority=60)
        assert (shed["admitted"], shed["shed"], shed["shed_rate"]) == (1, 3, 0.75)
        assert "media-assets" in shed["route"].split(", ")
        # media's own concurrency limit shed nothing; it served the one request let through
        (limit,) = by(state["shedding"], instance="media-1")
        assert (limit["route"], limit["shed"], limit["shed_rate"]) == ("*", 0, 0.0)
        assert limit["admitted"] >= 1

    run(tmp_path, body, gateway=SHEDDING)


def test_cdn_shows_steering_edges_fill_and_tier(tmp_path: Path) -> None:
    async def body(stack: Stack, clock: ShiftedClock) -> None:
        del clock
        answer = await stack.admin("/api/admin/cdn")
        assert answer.status == 200
        cdn = answer.json()
        assert cdn["unavailable"] == []
        assert cdn["edges"] == []  # no edge in discovery
        assert set(cdn["fill"]) >= {"window", "last_run", "clusters"}
        tier = cdn["cdn_tier"]
        assert (tier["configured"], tier["base_url"], tier["up"]) == (
            True,
            "http://127.0.0.1:9",
            False,
        )

    run(tmp_path, body)


def test_metrics_names_and_queries_from_the_store(tmp_path: Path) -> None:
    async def body(stack: Stack, clock: ShiftedClock) -> None:
        for _ in range(3):
            assert (await stack.front("/api/assets")).status == 200
        next_step(stack, clock)

        names = (await stack.admin("/api/admin/metrics/names")).json()
        assert {"gateway.requests", "ipc.server.call"} <= set(names["names"])
        assert {"web-1", "media-1", "gateway-1"} <= set(names["sources"]["here"])
        assert names["sources"]["asked"] == []  # one process, one store: nothing to ask

        tags = (await stack.admin("/api/admin/metrics/tags?name=gateway.requests")).json()
        assert "media-assets" in tags["tags"]["route"]

        path = "/api/admin/metrics/query?name=gateway.requests&tags=statistic:count"
        query = (await stack.admin(f"{path}&group_by=route&minutes=30")).json()
        assert (query["step"], query["group_by"]) == (STEP, ["route"])
        (assets,) = [s for s in query["series"] if s["tags"] == {"route": "media-assets"}]
        ((_, rate),) = assets["points"]
        assert round(rate * STEP) == 3

        served = "name=ipc.server.call&tag=statistic:count&tag=route:/api/assets&minutes=30"
        mean = (await stack.admin(f"/api/admin/metrics/query?{served}&agg=avg")).json()
        total = (await stack.admin(f"/api/admin/metrics/query?{served}&agg=sum")).json()
        ((_, avg),) = mean["series"][0]["points"]
        ((_, sum_),) = total["series"][0]["points"]
        assert mean["series"][0]["tags"] == {}
        assert 0 < avg <= sum_

        bad = await stack.admin("/api/admin/metrics/query?name=x&agg=median")
        assert bad.status == 400
        assert bad.json()["message"].startswith("agg:")
        bad = await stack.admin("/api/admin/metrics/query?name=x&tags=service")
        assert (bad.status, bad.json()["error"]) == (400, "bad_query")
        assert (await stack.admin("/api/admin/metrics/query")).status == 400
        assert (await stack.admin("/api/admin/metrics/query?name=x&minutes=999")).status == 400

    run(tmp_path, body)


def test_dead_parts_are_named_and_the_rest_is_answered(tmp_path: Path) -> None:
    async def body(stack: Stack, clock: ShiftedClock) -> None:
        del clock
        metrics = stack.monolith.node.metrics
        assert (await stack.front("/api/assets")).status == 200
        # steering is not running at all: the CDN view says so
        cdn = await stack.admin("/api/admin/cdn")
        assert cdn.status == 200
        body = cdn.json()
        assert (body["edges"], body["fill"], body["cdn_tier"]) == ([], None, None)
        parts = {(u["source"], u["part"]) for u in body["unavailable"]}
        assert parts == {("steering", "edges"), ("steering", "fill")}
        assert "no instance of steering" in body["unavailable"][0]["reason"].lower()

        # media's instance dies (nothing listens at its address any more)
        stack.monolith.transport.unmount("media-1.local")
        answer = await stack.admin("/api/admin/services")
        assert answer.status == 200
        state = answer.json()
        assert {a["name"] for a in state["apps"]} == {"media", "web", "gateway"}
        dead = {(u["source"], u["part"]) for u in state["unavailable"]}
        assert dead == {("media-1", "breakers"), ("media-1", "shedding")}
        assert not by(state["breakers"], instance="media-1")
        assert by(state["breakers"], instance="gateway-1")  # the others are still there
        assert by(state["shedding"], instance="gateway-1")
        fallbacks = metrics.counter(
            "resilience.fallback", dependency="instance:media-1", cause="failure"
        )
        assert fallbacks.value >= 2
        assert metrics.counter("admin.unavailable", part="breakers").value == 1

        # the registry dies too: the instances come from web's cached copy of it
        stack.monolith.transport.unmount("registry-1.local")
        state = (await stack.admin("/api/admin/services")).json()
        assert state["source"] == "cache"
        assert {a["name"] for a in state["apps"]} == {"media", "web", "gateway"}
        missing = {(u["source"], u["part"]) for u in state["unavailable"]}
        assert {("registry", "apps"), ("registry", "peers")} <= missing
        (peer,) = state["registries"]
        assert peer["up"] is False
        assert peer["error"]

        # something else answers at the registry's address, 200 with JSON it does not expect:
        # the peer's row says so and the rest of the answer stands
        stack.monolith.transport.mount("registry-1.local", odd_registry)
        answer = await stack.admin("/api/admin/services")
        assert answer.status == 200
        (peer,) = answer.json()["registries"]
        assert peer["up"] is False
        assert "cannot read" in peer["error"]

    run(tmp_path, body, with_steering=False)
