"""The gateway's CORS policy: preflights for allowed origins, headers on every answer to them,
nothing for other origins or when no origin is configured (the default)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from matinee.gateway.app import Gateway, create_gateway
from matinee.gateway.config import GatewayConfig, RateLimitConfig, load_gateway_config
from matinee.gateway.cors import CorsConfig
from matinee.gateway.routes import Route
from matinee.runtime.transport import Response

from .fakes import FakeContext, Reply, call

KEY = b"k" * 32
STUDIO = "https://studio.example.com"
ROUTES = [
    Route("/api/media", "media", name="media-api", auth="required"),
    Route("/media", "media"),
]


def gateway(ctx: FakeContext, **cors: object) -> Gateway:
    config = GatewayConfig(cors=CorsConfig.model_validate(cors))
    return create_gateway(ctx, ROUTES, config=config, identity_key=KEY)


def preflight(app: Gateway, path: str, origin: str = STUDIO) -> Reply:
    headers = [
        ("origin", origin),
        ("access-control-request-method", "PATCH"),
        ("access-control-request-headers", "authorization, tus-resumable, upload-offset"),
    ]
    return asyncio.run(call(app, "OPTIONS", path, headers=headers))


def test_no_origin_is_allowed_by_default() -> None:
    ctx = FakeContext()
    app = gateway(ctx)
    assert "cors_preflight" not in str(app.chain.describe())
    reply = asyncio.run(call(app, "GET", "/media/a.mpd", headers=[("origin", STUDIO)]))
    assert reply.status == 200
    assert reply.header("access-control-allow-origin") is None
    # A preflight is just a request then: the service answers it (media allows any origin).
    preflight(app, "/media/a.mpd")
    assert [(c.method, c.path) for c in ctx.clients.calls][-1] == ("OPTIONS", "/media/a.mpd")


def test_an_allowed_origins_preflight_is_answered_before_auth_and_routing() -> None:
    ctx = FakeContext()
    app = gateway(ctx, allowed_origins=[STUDIO], max_age_s=120)
    # /api/media requires a session; a preflight carries none and must still pass
    reply = preflight(app, "/api/media/uploads/abc")
    assert reply.status == 204
    assert reply.header("access-control-allow-origin") == STUDIO
    assert reply.header("vary") == "Origin"
    assert "PATCH" in (reply.header("access-control-allow-methods") or "")
    # what the browser asked for, and only that (the origin is trusted; '*' is the default)
    allowed = reply.header("access-control-allow-headers")
    assert allowed == "authorization, tus-resumable, upload-offset"
    assert reply.header("access-control-max-age") == "120"
    assert reply.header("access-control-allow-credentials") is None
    assert reply.header("x-request-id")  # outbound filters ran as for any answer
    assert ctx.clients.calls == []
    # a path no service answers: still a preflight, answered the same way
    assert preflight(app, "/nowhere").status == 204


def test_answers_to_an_allowed_origin_carry_cors_headers_errors_included() -> None:
    ctx = FakeContext()
    ctx.clients.answer(
        "media",
        Response(201, [("location", "/api/media/uploads/abc"), ("vary", "Accept")], b""),
    )
    app = gateway(ctx, allowed_origins=["HTTPS://Studio.Example.com/"])
    headers = [("origin", STUDIO), ("authorization", "Bearer x")]
    created = asyncio.run(call(app, "POST", "/media/uploads", headers=headers))
    assert created.status == 201
    assert created.header("access-control-allow-origin") == STUDIO
    assert [v for k, v in created.headers if k == "vary"] == ["Accept", "Origin"]
    exposed = (created.header("access-control-expose-headers") or "").split(", ")
    tus = {"location", "upload-offset", "upload-length", "upload-expires", "tus-resumable"}
    assert tus | {"retry-after", "x-request-id"} <= set(exposed)
    # the gateway's own refusal (a session is required) is readable by the page too
    refused = asyncio.run(call(app, "GET", "/api/media/x", headers=[("origin", STUDIO)]))
    assert refused.status == 401
    assert refused.header("access-control-allow-origin") == STUDIO
    missing = asyncio.run(call(app, "GET", "/nowhere", headers=[("origin", STUDIO)]))
    assert (missing.status, missing.header("access-control-allow-origin")) == (404, STUDIO)


def test_other_origins_get_nothing_and_their_preflights_go_to_the_service() -> None:
    ctx = FakeContext()
    app = gateway(ctx, allowed_origins=[STUDIO])
    evil = "https://evil.example.net"
    reply = asyncio.run(call(app, "GET", "/media/a.mpd", headers=[("origin", evil)]))
    assert reply.header("access-control-allow-origin") is None
    assert reply.header("access-control-expose-headers") is None
    # ... but a cache is told the answer depends on the origin, so it never hands this answer
    # (without a grant) to the allowed page, nor the allowed page's to anybody else
    assert reply.header("vary") == "Origin"
    no_origin = asyncio.run(call(app, "GET", "/media/a.mpd"))
    assert (no_origin.header("vary"), no_origin.header("access-control-allow-origin")) == (
        "Origin",
        None,
    )
    preflight(app, "/media/a.mpd", origin=evil)
    assert [(c.method, c.path) for c in ctx.clients.calls][-1] == ("OPTIONS", "/media/a.mpd")
    # the same host on another scheme or port is another origin
    other_port = asyncio.run(
        call(app, "GET", "/media/a", headers=[("origin", "https://studio.example.com:8443")])
    )
    assert other_port.header("access-control-allow-origin") is None


def test_a_plain_options_request_is_tus_discovery_and_goes_to_the_service() -> None:
    ctx = FakeContext()
    ctx.clients.answer("media", Response(204, [("tus-version", "1.0.0")], b""))
    app = gateway(ctx, allowed_origins=[STUDIO])
    reply = asyncio.run(call(app, "OPTIONS", "/media/uploads", headers=[("origin", STUDIO)]))
    assert reply.status == 204
    assert reply.header("tus-version") == "1.0.0"
    assert reply.header("access-control-allow-origin") == STUDIO
    assert [(c.method, c.path) for c in ctx.clients.calls] == [("OPTIONS", "/media/uploads")]


def test_a_services_own_cors_answer_is_kept() -> None:
    ctx = FakeContext()
    ctx.clients.answer("media", Response(200, [("access-control-allow-origin", "*")], b"x"))
    app = gateway(ctx, allowed_origins=[STUDIO])
    reply = asyncio.run(call(app, "GET", "/media/seg.m4s", headers=[("origin", STUDIO)]))
    assert [v for k, v in reply.headers if k == "access-control-allow-origin"] == ["*"]
    assert reply.header("access-control-expose-headers") is None


def test_a_vary_the_answer_has_already_is_respected() -> None:
    ctx = FakeContext()
    app = gateway(ctx, allowed_origins=[STUDIO])
    for given, expected in [
        ([("vary", "Accept"), ("vary", "origin")], ["Accept", "origin"]),
        ([("vary", "Accept-Encoding, Origin")], ["Accept-Encoding, Origin"]),
        ([("vary", "*")], ["*"]),
    ]:
        ctx.clients.answer("media", Response(200, list(given), b""))
        reply = asyncio.run(call(app, "GET", "/media/a", headers=[("origin", STUDIO)]))
        assert [v for k, v in reply.headers if k == "vary"] == expected


def test_media_preflights_from_an_allowed_origin_keep_what_media_allows() -> None:
    app = gateway(FakeContext(), allowed_origins=[STUDIO])
    headers = [
        ("origin", STUDIO),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "range,if-none-match,If-Range,bad header"),
    ]
    reply = asyncio.run(call(app, "OPTIONS", "/media/a/seg-1.m4s", headers=headers))
    assert reply.status == 204
    assert reply.header("access-control-allow-headers") == "range, if-none-match, if-range"


def test_a_configured_header_list_restricts_preflights() -> None:
    app = gateway(FakeContext(), allowed_origins=[STUDIO], allow_headers=["Authorization"])
    reply = preflight(app, "/api/media/uploads")
    assert reply.header("access-control-allow-headers") == "authorization"


def test_any_origin_and_credentials() -> None:
    anyone = gateway(FakeContext(), allowed_origins=["*"])
    for headers in ([("origin", "https://x.example.org")], []):
        reply = asyncio.run(call(anyone, "GET", "/media/a", headers=headers))
        # the same answer for every origin, and for requests without one
        assert reply.header("access-control-allow-origin") == "*"
        assert reply.header("vary") is None
        assert reply.header("access-control-allow-credentials") is None

    signed_in = gateway(FakeContext(), allowed_origins=[STUDIO], allow_credentials=True)
    reply = preflight(signed_in, "/api/media/uploads")
    assert reply.header("access-control-allow-origin") == STUDIO
    assert reply.header("access-control-allow-credentials") == "true"


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"allowed_origins": ["studio.example.com"]}, "is not an origin"),
        ({"allowed_origins": ["ftp://studio.example.com"]}, "is not an origin"),
        ({"allowed_origins": ["https://studio.example.com/upload"]}, "no path"),
        ({"allowed_origins": ["https://user@studio.example.com"]}, "no path, query or user"),
        ({"allowed_origins": ["*"], "allow_credentials": True}, "listed one by one"),
        ({"max_age_s": -1}, "greater than or equal to 0"),
        ({"allowed_origins": [" https://studio.example.com"]}, "no spaces"),
        ({"allowed_origins": ["https://bücher.example"]}, "punycode"),
        ({"allowed_origins": ["https://*.example.com"]}, "is not an origin"),
        ({"allowed_origins": ["https://studio.example.com?"]}, "no path, query"),
        ({"allowed_origins": ["https://studio.example.com#top"]}, "no path, query"),
        ({"allowed_origins": ["https://studio.example.com:99999"]}, "port is not a number"),
        ({"allowed_origins": ["https://studio.example.com:x"]}, "port is not a number"),
        ({"allow_headers": ["x bad"]}, "is not a header name"),
        (
            {"allowed_origins": [STUDIO], "allow_credentials": True, "expose_headers": ["*"]},
            "list the headers",
        ),
    ],
)
def test_bad_settings_are_refused_in_plain_words(settings: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        CorsConfig.model_validate(settings)


@pytest.mark.parametrize(
    ("given", "as_browsers_send_it"),
    [
        ("HTTPS://Studio.Example.com/", STUDIO),
        ("https://studio.example.com:443", STUDIO),
        ("http://studio.example.com:80", "http://studio.example.com"),
        ("http://studio.example.com:8080", "http://studio.example.com:8080"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_origins_are_kept_as_browsers_send_them(given: str, as_browsers_send_it: str) -> None:
    assert CorsConfig(allowed_origins=[given]).allowed_origins == [as_browsers_send_it]


def test_credentials_with_plain_http_origins_are_allowed_for_development() -> None:
    config = CorsConfig(allowed_origins=["http://localhost:5173"], allow_credentials=True)
    assert config.allowed_origins == ["http://localhost:5173"]


def test_read_from_the_runtime_toml(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[cors]\nallowed_origins = ["https://studio.example.com"]\n')
    config = load_gateway_config(path)
    assert config.cors.allowed_origins == [STUDIO]
    assert config.rate_limit == RateLimitConfig()
