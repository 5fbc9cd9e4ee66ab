"""The telemetry HTTP endpoints, called in-process through httpx's ASGI transport."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from matinee.clock import FakeClock
from matinee.telemetry import Registry, SeriesStore
from matinee.telemetry.api import router

T0 = 1_000_000.0


class Client:
    """A tiny synchronous client over the ASGI app (one event loop per request)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, url: str, params: tuple[tuple[str, str], ...] = ()) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.get(url, params=params or None)

        return asyncio.run(call())


@pytest.fixture
def setup() -> tuple[FakeClock, Registry, SeriesStore, Client]:
    clock = FakeClock(T0)
    registry = Registry(clock)
    store = SeriesStore(registry, step=10, retention=3 * 3600, clock=clock)
    app = FastAPI()
    app.include_router(router(registry, store))
    return clock, registry, store, Client(app)


def test_metrics_is_prometheus_text(setup: tuple[FakeClock, Registry, SeriesStore, Client]) -> None:
    _, registry, _, client = setup
    registry.counter("gateway.requests", route="/api").inc(2)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'gateway_requests_total{route="/api"} 2.0' in response.text


def test_query_groups_and_aggregates(
    setup: tuple[FakeClock, Registry, SeriesStore, Client],
) -> None:
    clock, registry, store, client = setup
    registry.counter("calls", service="a", route="/x").inc(10)
    registry.counter("calls", service="a", route="/y").inc(20)
    registry.counter("calls", service="b", route="/x").inc(40)
    clock.advance(10)
    store.sample()
    response = client.get(
        "/api/telemetry/query",
        params=(("name", "calls"), ("tag", "service:a"), ("group_by", "route"), ("agg", "sum")),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["series"] == [
        {"tags": {"route": "/x"}, "points": [[T0 + 10, 1.0]]},
        {"tags": {"route": "/y"}, "points": [[T0 + 10, 2.0]]},
    ]
    assert body["where"] == {"service": "a"}
    assert body["group_by"] == ["route"]
    assert body["step"] == 10
    assert body["end"] == T0 + 10
    assert body["start"] == T0 + 10 - 3600  # 60 minutes by default


def test_query_minutes_and_comma_separated_group_by(
    setup: tuple[FakeClock, Registry, SeriesStore, Client],
) -> None:
    clock, registry, store, client = setup
    gauge = registry.gauge("g", zone="z1", service="s")
    for value in range(5):
        gauge.set(value)
        clock.advance(60)
        store.sample()
    response = client.get("/api/telemetry/query?name=g&minutes=2&group_by=zone,service&agg=max")
    assert response.status_code == 200
    [series] = response.json()["series"]
    assert series["tags"] == {"zone": "z1", "service": "s"}
    assert [v for _, v in series["points"]] == [2.0, 3.0, 4.0]  # the last 2 minutes, both ends in


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "the name parameter is required"),
        ("name=a%20b", "is not a metric name"),
        ("name=calls&tag=service", "should look like key:value"),
        ("name=calls&tag=:a", "should look like key:value"),
        ("name=calls&tag=a:1&tag=a:2", "given twice"),
        ("name=calls&group_by=a,,b", "empty tag key"),
        ("name=calls&agg=median", "agg should be one of sum, avg, max, min, count"),
        ("name=calls&minutes=soon", "minutes should be a number"),
        ("name=calls&minutes=0", "more than 0 and at most 180"),
        ("name=calls&minutes=181", "at most 180"),
        ("name=calls&minutes=nan", "at most 180"),
        ("name=calls&step=1", "unknown parameter 'step'"),
    ],
)
def test_bad_query_answers_400_in_plain_words(
    setup: tuple[FakeClock, Registry, SeriesStore, Client], query: str, message: str
) -> None:
    client = setup[3]
    response = client.get(f"/api/telemetry/query?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_request"
    assert message in body["message"]


def test_names_and_tags(setup: tuple[FakeClock, Registry, SeriesStore, Client]) -> None:
    clock, registry, store, client = setup
    registry.gauge("pool.size", pool="db").set(3)
    clock.advance(10)
    store.sample()
    assert "pool.size" in client.get("/api/telemetry/names").json()["names"]
    assert client.get("/api/telemetry/tags?name=pool.size").json() == {
        "name": "pool.size",
        "tags": {"pool": ["db"]},
    }
    bad = client.get("/api/telemetry/tags")
    assert bad.status_code == 400
    assert "name parameter is required" in bad.json()["message"]
    assert client.get("/api/telemetry/names?x=1").json()["message"].endswith("takes no parameters")


def test_router_without_a_store_serves_only_metrics() -> None:
    app = FastAPI()
    app.include_router(router(Registry(FakeClock())))
    client = Client(app)
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/telemetry/query?name=x").status_code == 404
