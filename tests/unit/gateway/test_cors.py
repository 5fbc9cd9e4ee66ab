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
    allowed = (reply.header("access-control-allow-headers") or "").split(", ")
    assert {"authorization", "tus-resumable", "upload-offset", "upload-length"} <= set(allowed)
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
    assert created.header("vary") == "Accept, Origin"
    exposed = (created.header("access-control-expose-headers") or "").split(", ")
    assert {"location", "upload-offset", "tus-resumable", "retry-after"} <= set(exposed)
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


def test_any_origin_and_credentials() -> None:
    anyone = gateway(FakeContext(), allowed_origins=["*"])
    reply = asyncio.run(
        call(anyone, "GET", "/media/a", headers=[("origin", "https://x.example.org")])
    )
    assert reply.header("access-control-allow-origin") == "*"
    assert reply.header("vary") is None  # the same answer for every origin
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
    ],
)
def test_bad_settings_are_refused_in_plain_words(settings: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        CorsConfig.model_validate(settings)


def test_read_from_the_runtime_toml(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[cors]\nallowed_origins = ["https://studio.example.com"]\n')
    config = load_gateway_config(path)
    assert config.cors.allowed_origins == [STUDIO]
    assert config.rate_limit == RateLimitConfig()
