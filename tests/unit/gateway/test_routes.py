from __future__ import annotations

from pathlib import Path

import pytest

from matinee.gateway.config import load_gateway_config
from matinee.gateway.routes import (
    LastGoodFallback,
    Route,
    RouteConfigError,
    RouteTable,
    StaticFallback,
    default_routes,
)


def table() -> RouteTable:
    return RouteTable(
        [
            Route("/api/catalog", "catalog"),
            Route("/api/catalog/search", "search"),
            Route("/api/playback/", "playback", priority=100),
            Route("/", "media"),
        ]
    )


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/catalog", "catalog"),
        ("/api/catalog/", "catalog"),
        ("/api/catalog/titles/42", "catalog"),
        ("/api/catalog/search", "search"),
        ("/api/catalog/search/q", "search"),
        ("/api/catalogue", "media"),  # whole segments only
        ("/api/playback", "playback"),
        ("/", "media"),
        ("/players/x.html", "media"),
        ("/internalx", "media"),
    ],
)
def test_longest_prefix_on_whole_segments(path: str, service: str) -> None:
    route = table().match(path)
    assert route is not None
    assert route.service == service


def test_no_root_route_means_no_match() -> None:
    routes = RouteTable([Route("/api/a", "a")])
    assert routes.match("/api/b") is None
    assert routes.match("/") is None


@pytest.mark.parametrize("path", ["/internal", "/internal/", "/internal/catalog/titles/1"])
def test_internal_paths_are_never_routed(path: str) -> None:
    routes = RouteTable([Route("/internal", "catalog"), Route("/", "media")])
    assert routes.match(path) is None


def test_strip_prefix() -> None:
    route = Route("/api/catalog", "catalog", strip_prefix=True)
    assert route.upstream_path("/api/catalog/titles?x") == "/titles?x"
    assert route.upstream_path("/api/catalog") == "/"
    assert Route("/api/catalog", "catalog").upstream_path("/api/catalog/t") == "/api/catalog/t"


def test_bad_routes_are_refused() -> None:
    with pytest.raises(RouteConfigError):
        RouteTable([Route("/a", "x"), Route("/a/", "y")])
    with pytest.raises(RouteConfigError):
        Route("api", "x")
    with pytest.raises(RouteConfigError):
        Route("/a", "x", priority=0)


def test_default_routes_put_playback_first() -> None:
    routes = {r.service: r for r in default_routes()}
    assert routes["playback"].priority == 100
    assert routes["homepage"].priority < routes["playback"].priority
    RouteTable(default_routes())  # consistent


def test_routes_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        """
max_body_bytes = 1000
[rate_limit]
rate = 5.0
burst = 10.0

[[routes]]
prefix = "/api/homepage"
service = "homepage"
priority = 70
fallback = { kind = "static", body = { rows = [] } }

[[routes]]
prefix = "/api/catalog"
service = "catalog"
strip_prefix = true
timeout = 2.5
fallback = { kind = "last-good", max_age = 60 }
auth = "required"
"""
    )
    config = load_gateway_config(path)
    assert config.max_body_bytes == 1000
    assert config.rate_limit.rate == 5.0
    home, catalog = config.build_routes()
    assert home.priority == 70
    assert home.fallback == StaticFallback(200, b'{"rows":[]}')
    assert catalog.fallback == LastGoodFallback(max_age=60)
    assert catalog.strip_prefix
    assert catalog.timeout == 2.5
    assert catalog.auth == "required"
