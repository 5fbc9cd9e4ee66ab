from __future__ import annotations

import asyncio

import pytest

from matinee.clock import FakeClock
from matinee.gateway.app import Gateway, create_gateway
from matinee.gateway.auth import (
    IDENTITY_HEADER,
    SIGNATURE_HEADER,
    CachingTokenValidator,
    Identity,
    IdentityUnavailable,
    InvalidIdentity,
    identity_headers,
    verify_identity,
)
from matinee.gateway.routes import Route

from .fakes import FakeContext, call

KEY = b"shared-secret-of-the-platform"
ALICE = Identity("alice", profile="kids", roles=("member",), session="s1")


class Validator:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def validate(self, token: str) -> Identity | None:
        self.asked.append(token)
        return ALICE if token == "good-token" else None


def gateway(validator: Validator | None = None) -> tuple[FakeContext, Gateway]:
    ctx = FakeContext()
    app = create_gateway(
        ctx,
        [
            Route("/api/open", "open", auth="none"),
            Route("/api/account", "account", auth="required"),
            Route("/", "media"),
        ],
        validator=validator or Validator(),
        identity_key=KEY,
    )
    return ctx, app


FORGED = [
    (IDENTITY_HEADER, "eyJzdWIiOiJhZG1pbiJ9"),
    (SIGNATURE_HEADER, "v1.forged"),
    ("x-matinee-priority", "100"),
    ("X-Matinee-Anything", "x"),
]


@pytest.mark.parametrize("path", ["/api/open/x", "/api/x", "/api/account/me"])
def test_client_sent_internal_headers_never_reach_a_service(path: str) -> None:
    ctx = FakeContext()
    app = create_gateway(
        ctx,
        [Route("/api/open", "open", auth="none"), Route("/", "media")],
        validator=Validator(),
        identity_key=KEY,
    )
    headers = [*FORGED, ("authorization", "Bearer good-token")]
    reply = asyncio.run(call(app, "GET", path, headers=headers))
    assert reply.status == 200
    (sent,) = ctx.clients.calls
    assert "eyJzdWIiOiJhZG1pbiJ9" not in [v for _, v in sent.headers]
    assert "v1.forged" not in [v for _, v in sent.headers]
    assert sent.all("x-matinee-anything") == []
    assert sent.all("x-matinee-priority") == ["60"]  # the gateway's own, not the client's
    assert ctx.metrics.counter("gateway.auth.stripped").value == 1
    if path.startswith("/api/open"):
        assert sent.header(IDENTITY_HEADER) is None  # auth "none": no identity at all
    else:
        assert verify_identity(sent.headers, KEY) == ALICE


def test_verified_identity_is_signed_and_verifies_with_the_key_only() -> None:
    validator = Validator()
    ctx = FakeContext()
    app = create_gateway(ctx, [Route("/", "media")], validator=validator, identity_key=KEY)
    asyncio.run(call(app, "GET", "/x", headers=[("cookie", "a=b; matinee_session=good-token")]))
    (sent,) = ctx.clients.calls
    assert validator.asked == ["good-token"]
    assert verify_identity(sent.headers, KEY) == ALICE
    with pytest.raises(InvalidIdentity):
        verify_identity(sent.headers, b"another key")


def test_tampering_is_detected() -> None:
    headers = dict(identity_headers(ALICE, KEY, issued_at=1000.0))
    mallory = dict(identity_headers(Identity("mallory", roles=("admin",)), b"guess", 1000.0))
    with pytest.raises(InvalidIdentity):
        verify_identity({**headers, IDENTITY_HEADER: mallory[IDENTITY_HEADER]}, KEY)
    with pytest.raises(InvalidIdentity):
        verify_identity({IDENTITY_HEADER: headers[IDENTITY_HEADER]}, KEY)  # no signature
    assert verify_identity({}, KEY) is None
    # any header shape a service has: a mapping, str pairs or raw ASGI bytes pairs
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    assert verify_identity(raw, KEY) == ALICE
    assert verify_identity(list(headers.items()), KEY) == ALICE


def test_old_identity_headers_can_be_refused() -> None:
    headers = identity_headers(ALICE, KEY, issued_at=1000.0)
    assert verify_identity(headers, KEY, now=1030.0, max_age=60) == ALICE
    with pytest.raises(InvalidIdentity):
        verify_identity(headers, KEY, now=1061.0, max_age=60)


def test_required_route_needs_a_valid_session() -> None:
    ctx, app = gateway()
    reply = asyncio.run(call(app, "GET", "/api/account/me"))
    assert reply.status == 401
    assert reply.json()["error"] == "unauthorized"
    assert reply.header("www-authenticate") == 'Bearer realm="matinee"'
    bad = asyncio.run(
        call(app, "GET", "/api/account/me", headers=[("authorization", "Bearer nope")])
    )
    assert bad.status == 401
    good = asyncio.run(
        call(app, "GET", "/api/account/me", headers=[("authorization", "Bearer good-token")])
    )
    assert good.status == 200
    assert [c.service for c in ctx.clients.calls] == ["account"]
    assert ctx.metrics.counter("gateway.auth.rejected").value == 2


def test_optional_route_passes_anonymous_callers_without_identity() -> None:
    ctx, app = gateway()
    reply = asyncio.run(call(app, "GET", "/x", headers=[("authorization", "Bearer nope")]))
    assert reply.status == 200
    assert ctx.clients.calls[0].header(IDENTITY_HEADER) is None


def test_caching_validator_asks_once_per_ttl() -> None:
    clock = FakeClock()
    inner = Validator()
    cached = CachingTokenValidator(inner, clock, ttl=30, negative_ttl=5)

    async def main() -> None:
        for _ in range(3):
            assert await cached.validate("good-token") == ALICE
            assert await cached.validate("bad") is None
        clock.advance(6)
        await cached.validate("good-token")
        await cached.validate("bad")
        clock.advance(25)
        await cached.validate("good-token")

    asyncio.run(main())
    assert inner.asked == ["good-token", "bad", "bad", "good-token"]


class SlowValidator:
    """Answers when released; counts how often it was asked."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.asked = 0
        self.release = asyncio.Event()
        self.failure = failure

    async def validate(self, token: str) -> Identity | None:
        self.asked += 1
        await self.release.wait()
        if self.failure is not None:
            raise self.failure
        return ALICE if token == "good-token" else None


def test_concurrent_requests_with_one_token_validate_it_once() -> None:
    inner = SlowValidator()
    cached = CachingTokenValidator(inner, FakeClock(), ttl=30, negative_ttl=5)

    async def main() -> list[Identity | None]:
        waiting = [asyncio.ensure_future(cached.validate("good-token")) for _ in range(30)]
        others = [asyncio.ensure_future(cached.validate("bad")) for _ in range(5)]
        await asyncio.sleep(0)
        waiting[0].cancel()  # a client that went away does not cancel the others' answer
        inner.release.set()
        answers = await asyncio.gather(*waiting[1:], *others)
        assert await cached.validate("good-token") == ALICE  # cached now
        return answers

    answers = asyncio.run(main())
    assert answers == [ALICE] * 29 + [None] * 5
    assert inner.asked == 2  # one per token


def test_every_concurrent_caller_learns_that_identity_is_unavailable() -> None:
    inner = SlowValidator(failure=IdentityUnavailable("identity is down"))
    cached = CachingTokenValidator(inner, FakeClock(), ttl=30, negative_ttl=5)

    async def main() -> list[Identity | BaseException | None]:
        waiting = [asyncio.ensure_future(cached.validate("good-token")) for _ in range(10)]
        await asyncio.sleep(0)
        inner.release.set()
        answers = await asyncio.gather(*waiting, return_exceptions=True)
        inner.failure = None
        assert await cached.validate("good-token") == ALICE  # a failure is not cached
        return answers

    answers = asyncio.run(main())
    assert all(isinstance(a, IdentityUnavailable) for a in answers)
    assert inner.asked == 2
