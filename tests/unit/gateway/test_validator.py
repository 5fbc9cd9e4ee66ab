"""The gateway's validator against a fake identity service: answers, the 5 s cache, and what
happens when identity cannot answer (optional routes go on anonymously, required ones 503)."""

from __future__ import annotations

import asyncio
import json

from matinee.gateway.app import Gateway, create_gateway
from matinee.gateway.auth import (
    IDENTITY_HEADER,
    SIGNATURE_HEADER,
    UNVERIFIED_HEADER,
    Identity,
    verify_identity,
)
from matinee.gateway.routes import Route
from matinee.gateway.validator import VALIDATE_PATH, session_validator
from matinee.resilience.errors import CircuitOpen, NoInstance
from matinee.runtime.transport import Response

from .fakes import Call, FakeContext, call, ok

KEY = b"shared-secret-of-the-platform"
TOKEN = "Zq1n3v8yJb0mXo0sY9cT6b4xQ2wE5rT7uI8oP1aS3dF"
ANSWER = {
    "account_id": "acc-1",
    "profile_id": "pro-1",
    "roles": ["member"],
    "session_id": "ses-1",
    "expires_at": 1_000_000 + 3600,
    "country": "GB",
}


async def identity_service(c: Call) -> Response:
    """The validation endpoint as the contract describes it."""
    assert (c.method, c.path, c.idempotent) == ("POST", VALIDATE_PATH, True)
    if json.loads(c.body) == {"token": TOKEN}:
        return ok(ANSWER)
    return ok({"error": "unknown_session", "message": "no"}, status=404)


def gateway() -> tuple[FakeContext, Gateway]:
    ctx = FakeContext()  # its clock starts at 1_000_000
    ctx.clients.behaviours["identity"] = identity_service
    app = create_gateway(
        ctx,
        [
            Route("/api/account", "account", auth="required"),
            Route("/", "media"),
        ],
        validator=session_validator(ctx.clients, ctx.clock, ctx.metrics),
        identity_key=KEY,
    )
    return ctx, app


def signed(ctx: FakeContext, service: str) -> Identity | None:
    sent = [c for c in ctx.clients.calls if c.service == service][-1]
    identity = verify_identity(sent.headers, KEY)
    assert (sent.header(IDENTITY_HEADER) is None) == (sent.header(SIGNATURE_HEADER) is None)
    return identity


def validations(ctx: FakeContext) -> int:
    return sum(1 for c in ctx.clients.calls if c.service == "identity")


def test_a_valid_token_becomes_the_signed_identity() -> None:
    async def main() -> None:
        ctx, app = gateway()
        reply = await call(app, "GET", "/x", headers=[("authorization", f"Bearer {TOKEN}")])
        assert reply.status == 200
        identity = signed(ctx, "media")
        assert identity is not None
        assert identity == Identity(
            subject="acc-1",
            profile="pro-1",
            roles=("member",),
            session="ses-1",
            expires=1_003_600.0,
            country="GB",
        )

    asyncio.run(main())


def test_unknown_tokens_are_nobody() -> None:
    async def main() -> None:
        ctx, app = gateway()
        for token in ("UnknownButWellFormed", "not a token!", "x" * 600):
            reply = await call(app, "GET", "/x", headers=[("authorization", f"Bearer {token}")])
            assert reply.status == 200
            assert signed(ctx, "media") is None
            refused = await call(
                app, "GET", "/api/account/me", headers=[("cookie", f"matinee_session={token}")]
            )
            assert refused.status == 401
        assert validations(ctx) == 1  # malformed tokens are not even asked about

    asyncio.run(main())


def test_answers_are_cached_for_five_seconds() -> None:
    async def main() -> None:
        ctx, app = gateway()
        headers = [("authorization", f"Bearer {TOKEN}")]
        for _ in range(3):
            await call(app, "GET", "/x", headers=headers)
        assert validations(ctx) == 1
        ctx.clock.advance(4.9)
        await call(app, "GET", "/x", headers=headers)
        assert validations(ctx) == 1  # a sign-out now would not be seen yet...
        ctx.clock.advance(0.2)
        await call(app, "GET", "/x", headers=headers)
        assert validations(ctx) == 2  # ...but from here on it is

    asyncio.run(main())


def test_when_identity_cannot_answer() -> None:
    async def main() -> None:
        ctx, app = gateway()
        headers = [("authorization", f"Bearer {TOKEN}")]
        for failure in (NoInstance("no identity", dependency="identity"), CircuitOpen("open")):
            ctx.clients.answer("identity", failure)
            anonymous = await call(app, "GET", "/x", headers=headers)
            assert anonymous.status == 200  # an optional route goes on without an identity
            assert signed(ctx, "media") is None
            # ... telling the service a token came that could not be checked (503, not 401)
            assert ctx.clients.calls[-1].header(UNVERIFIED_HEADER) == "1"
            required = await call(app, "GET", "/api/account/me", headers=headers)
            assert required.status == 503
            assert required.json()["error"] == "identity_unavailable"
            assert "try again" in required.json()["message"]
        assert ctx.metrics.counter("gateway.auth.unverified").value == 2
        assert ctx.metrics.counter("gateway.auth.validation", outcome="unavailable").value == 4
        # Nothing was cached while identity was away: once it answers, the token works.
        ctx.clients.behaviours["identity"] = identity_service
        reply = await call(app, "GET", "/api/account/me", headers=headers)
        assert reply.status == 200
        await call(app, "GET", "/x", headers=headers)
        assert ctx.clients.calls[-1].header(UNVERIFIED_HEADER) is None
        # a client cannot send the mark itself (internal headers are stripped)
        forged = [*headers, (UNVERIFIED_HEADER, "1")]
        await call(app, "GET", "/x", headers=forged)
        assert ctx.clients.calls[-1].header(UNVERIFIED_HEADER) is None

    asyncio.run(main())


def test_a_malformed_answer_is_nobody() -> None:
    async def main() -> None:
        ctx, app = gateway()
        ctx.clients.answer("identity", ok({"account_id": "acc-1"}))
        reply = await call(app, "GET", "/x", headers=[("authorization", f"Bearer {TOKEN}")])
        assert reply.status == 200
        assert signed(ctx, "media") is None

    asyncio.run(main())
