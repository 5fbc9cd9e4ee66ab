"""The identity service behind the real gateway, in a monolith: sign-up, sign-in, sessions by
bearer token and by cookie, revocation, profiles, devices, the rate limit, the internal
contracts, and what the gateway does when identity cannot answer.

An ``echo`` service (routes ``/api/echo`` optional and ``/api/echo-required`` required) answers
the identity the gateway signed, so the tests see exactly what every service would see.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Request

from matinee.db import upgrade
from matinee.gateway.config import GatewayConfig
from matinee.gateway.routes import RouteConfig
from matinee.resilience.dependency import DependencyConfig
from matinee.runtime.app import ServiceSpec
from matinee.runtime.context import RuntimeConfig, ServiceContext
from matinee.runtime.identity import Callers
from matinee.runtime.monolith import Monolith
from matinee.services import gateway, registry
from matinee.services.identity import make_spec
from matinee.services.identity.config import HashingConfig, IdentityConfig, WindowLimit
from matinee.settings import Settings

PASSWORD = "correct horse battery"
BASE = "http://matinee.test"
CHEAP = IdentityConfig(
    hashing=HashingConfig(memory_kib=64, time_cost=1, parallelism=1),
    signin_per_account=WindowLimit(3, 900.0),
    prune_interval_s=0,
)


def echo_spec() -> ServiceSpec:
    def build(ctx: ServiceContext) -> APIRouter:
        callers = Callers(ctx)
        api = APIRouter()

        @api.get("/api/echo")
        @api.get("/api/echo-required")
        def echo(request: Request) -> dict[str, Any]:
            who = callers.optional(request)
            if who is None:
                return {"subject": None}
            return {
                "subject": who.subject,
                "profile": who.profile,
                "roles": list(who.roles),
                "session": who.session,
                "country": who.country,
                "expires": who.expires,
            }

        @api.get("/api/echo/member")
        def member(request: Request) -> dict[str, Any]:
            return {"subject": callers.member(request).subject}

        return api

    return ServiceSpec("echo", build=build)


@asynccontextmanager
async def platform(tmp_path: Path) -> AsyncIterator[tuple[Monolith, httpx.AsyncClient]]:
    settings = Settings(data_dir=tmp_path)
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    routes = [
        RouteConfig(prefix="/api/identity", service="identity"),
        RouteConfig(prefix="/api/echo", service="echo"),
        RouteConfig(
            prefix="/api/echo-required", service="echo", name="echo-required", auth="required"
        ),
    ]
    # Generous call timeouts: two shared cores may be busy with other test runs.
    slack = DependencyConfig(timeout_s=10.0)
    config = RuntimeConfig(
        gateway=GatewayConfig(routes=routes), dependencies={"identity": slack, "echo": slack}
    )
    m = Monolith(
        settings, config, services=[registry.SPEC, make_spec(CHEAP), echo_spec(), gateway.SPEC]
    )
    await m.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=m), base_url=BASE) as c:
            yield m, c
    finally:
        await m.leave()
        await m.stop()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def signup(c: httpx.AsyncClient, email: str = "ada@example.com") -> str:
    r = await c.post(
        "/api/identity/signup", json={"email": email, "password": PASSWORD, "country": "gb"}
    )
    assert r.status_code == 201, r.text
    c.cookies.clear()
    token: str = r.json()["token"]
    return token


async def signin(c: httpx.AsyncClient, email: str = "ada@example.com", **extra: str) -> str:
    r = await c.post("/api/identity/signin", json={"email": email, "password": PASSWORD, **extra})
    assert r.status_code == 200, r.text
    c.cookies.clear()
    token: str = r.json()["token"]
    return token


def run(tmp_path: Path, main: Callable[[Monolith, httpx.AsyncClient], Awaitable[None]]) -> None:
    async def wrapped() -> None:
        async with platform(tmp_path) as (m, c):
            await main(m, c)

    asyncio.run(wrapped())


def test_signup_signin_and_me_by_bearer_and_by_cookie(tmp_path: Path) -> None:
    async def main(m: Monolith, c: httpx.AsyncClient) -> None:
        r = await c.post(
            "/api/identity/signup",
            json={"email": " Ada@Example.com", "password": PASSWORD, "country": "gb"},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert set(body) == {"token", "expires_at", "account_id", "profile_id"}
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"matinee_session={body['token']};")
        for attribute in ("HttpOnly", "Path=/", "SameSite=lax", "Max-Age=2592000"):
            assert attribute in cookie
        assert "Secure" not in cookie  # plain HTTP here; Secure behind HTTPS
        c.cookies.clear()

        token = await signin(c, "ADA@example.COM ")
        me = await c.get("/api/identity/me", headers=bearer(token))
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "ada@example.com"
        assert me.json()["country"] == "GB"
        assert me.json()["profile"] is None

        by_cookie = await c.get("/api/identity/me", headers={"cookie": f"matinee_session={token}"})
        assert by_cookie.status_code == 200
        assert by_cookie.json()["id"] == body["account_id"]

        anonymous = await c.get("/api/identity/me")
        assert anonymous.status_code == 401
        assert anonymous.json()["error"] == "unauthorized"

        echo = (await c.get("/api/echo", headers=bearer(token))).json()
        assert echo["subject"] == body["account_id"]
        assert (echo["roles"], echo["country"], echo["profile"]) == (["member"], "GB", None)

    run(tmp_path, main)


def test_signout_ends_the_session(tmp_path: Path) -> None:
    async def main(m: Monolith, c: httpx.AsyncClient) -> None:
        token = await signup(c)
        assert (await c.get("/api/identity/me", headers=bearer(token))).status_code == 200
        out = await c.post("/api/identity/signout", headers=bearer(token))
        assert out.status_code == 204
        assert 'matinee_session=""' in out.headers["set-cookie"]
        assert "Max-Age=0" in out.headers["set-cookie"]
        after = await c.get("/api/identity/me", headers=bearer(token))
        assert after.status_code == 401
        again = await c.post("/api/identity/signout", headers=bearer(token))
        assert again.status_code == 204  # signing out twice is harmless

    run(tmp_path, main)


def test_a_password_change_revokes_the_other_sessions(tmp_path: Path) -> None:
    async def main(m: Monolith, c: httpx.AsyncClient) -> None:
        mine = await signup(c)
        other = await signin(c)
        wrong = await c.post(
            "/api/identity/password",
            headers=bearer(mine),
            json={"current_password": "not the one", "new_password": "a new password"},
        )
        assert wrong.status_code == 403
        assert wrong.json()["error"] == "wrong_password"
        short = await c.post(
            "/api/identity/password",
            headers=bearer(mine),
            json={"current_password": PASSWORD, "new_password": "short"},
        )
        assert short.status_code == 422
        assert "new_password" in short.json()["message"]
        changed = await c.post(
            "/api/identity/password",
            headers=bearer(mine),
            json={"current_password": PASSWORD, "new_password": "a new password"},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json() == {"revoked_sessions": 1}
        assert (await c.get("/api/identity/me", headers=bearer(other))).status_code == 401
        assert (await c.get("/api/identity/me", headers=bearer(mine))).status_code == 200

    run(tmp_path, main)


def test_selecting_a_profile_puts_it_in_the_signed_identity(tmp_path: Path) -> None:
    async def main(m: Monolith, c: httpx.AsyncClient) -> None:
        token = await signup(c)
        made = await c.post(
            "/api/identity/profiles",
            headers=bearer(token),
            json={"name": "Kid", "kids": True, "avatar": "owl"},
        )
        assert made.status_code == 201, made.text
        profile = made.json()
        assert (profile["maturity_level"], profile["kids"], profile["language"]) == (7, True, "en")

        chosen = await c.post(
            f"/api/identity/profiles/{profile['id']}/select", headers=bearer(token)
        )
        assert chosen.status_code == 200, chosen.text
        new = chosen.json()["token"]
        assert new != token
        assert chosen.json()["profile_id"] == profile["id"]
        assert "matinee_session=" in chosen.headers["set-cookie"]

        echo = (await c.get("/api/echo", headers=bearer(new))).json()
        assert echo["profile"] == profile["id"]
        me = (await c.get("/api/identity/me", headers=bearer(new))).json()
        assert me["profile"]["name"] == "Kid"
        assert (await c.get("/api/identity/me", headers=bearer(token))).status_code == 401

    run(tmp_path, main)


def test_profiles_are_capped_validated_and_private(tmp_path: Path) -> None:
    async def main(m: Monolith, c: httpx.AsyncClient) -> None:
        ada = await signup(c)
        bob = await signup(c, "bob@example.com")
        ids = []
        for i in range(5):
            r = await c.post("/api/identity/profiles", headers=bearer(ada), json={"name": f"P{i}"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        sixth = await c.post("/api/identity/profiles", headers=bearer(ada), json={"name": "P5"})
        assert sixth.status_code == 409
        assert sixth.json()["error"] == "profile_limit_reached"

        page = await c.get("/api/identity/profiles?limit=2", headers=bearer(ada))
        assert [p["id"] for p in page.json()["items"]] == ids[:2]
        assert page.json()["next_cursor"]
        bad_cursor = await c.get("/api/identity/profiles?cursor=zzz", headers=bearer(ada))
        assert bad_cursor.status_code == 422
        assert "cursor" in bad_cursor.json()["message"]

        for path in (f"/api/identity/profiles/{ids[0]}", f"/api/identity/profiles/{ids[0]}/select"):
            method = "POST" if path.endswith("select") else "GET"
            r = await c.request(method, path, headers=bearer(bob))
            assert r.status_code == 404
            assert r.json()["error"] == "profile_not_found"

        teen_kid = await c.post(
            "/api/identity/profiles",
            headers=bearer(bob),
            json={"name": "Kid", "kids": True, "maturity_level": 13},
        )
        assert teen_kid.status_code == 422
        assert teen_kid.json()["message"].startswith("maturity_level:")
        dragon = await c.post(
            "/api/identity/profiles", headers=bearer(bob), json={"name": "X", "avatar": "dragon"}
        )
        assert dragon.status_code == 422
        assert "avatar" in dragon.json()["message"]
        changed = await c.patch(
            f"/api/identity/profiles/{ids[1]}", headers=bearer(ada), json={"language": "pt-BR"}
        )
        assert changed.json()["language"] == "pt-BR"
        gone = await c.delete(f"/api/identity/profiles/{ids[1]}", headers=bearer(ada))
        assert gone.status_code == 204
        avatars = await c.get("/api/identity/avatars")
        assert "owl" in avatars.json()["avatars"]

    run(tmp_path, main)


def test_devices_list_and_sign_out(tmp_path: Path) -> None:
    async def main(m: Monolith, c: httpx.AsyncClient) -> None:
        browser = await signup(c)
        tv = await signin(c, device_id="tv-4f2a", device_name="Living-room TV")
        listed = await c.get("/api/identity/devices", headers=bearer(browser))
        assert listed.status_code == 200
        items = listed.json()["items"]
        assert [d["current"] for d in items] == [True, False]
        assert items[1]["name"] == "Living-room TV"
        removed = await c.delete(f"/api/identity/devices/{items[1]['id']}", headers=bearer(browser))
        assert removed.json() == {"revoked_sessions": 1}
        assert (await c.get("/api/identity/me", headers=bearer(tv))).status_code == 401
        assert (await c.get("/api/identity/me", headers=bearer(browser))).status_code == 200

    run(tmp_path, main)


def test_too_many_failed_signins_get_429(tmp_path: Path) -> None:
    async def main(m: Monolith, c: httpx.AsyncClient) -> None:
        await signup(c)
        messages = set()
        for email in ("ada@example.com", "ada@example.com", "ada@example.com"):
            r = await c.post("/api/identity/signin", json={"email": email, "password": "guess123"})
            assert r.status_code == 401
            messages.add(r.json()["message"])
        unknown = await c.post(
            "/api/identity/signin", json={"email": "nobody@example.com", "password": "guess123"}
        )
        messages.add(unknown.json()["message"])
        assert messages == {"The email or password is not right."}
        limited = await c.post(
            "/api/identity/signin", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert limited.status_code == 429
        assert limited.json()["error"] == "rate_limited"
        assert limited.json()["message"].startswith("Too many sign-in attempts")
        assert 890 <= int(limited.headers["retry-after"]) <= 900

    run(tmp_path, main)


def test_bad_input_names_the_field(tmp_path: Path) -> None:
    async def main(m: Monolith, c: httpx.AsyncClient) -> None:
        short = await c.post(
            "/api/identity/signup",
            json={"email": "a@example.com", "password": "short", "country": "US"},
        )
        assert short.status_code == 422
        assert "password" in short.json()["message"]
        country = await c.post(
            "/api/identity/signup",
            json={"email": "a@example.com", "password": PASSWORD, "country": "ZZ"},
        )
        assert country.status_code == 422
        assert country.json()["message"].startswith("country:")
        email = await c.post(
            "/api/identity/signup",
            json={"email": "not-an-email", "password": PASSWORD, "country": "US"},
        )
        assert email.status_code == 422
        assert "body.email: Value error, this is not an email address" in email.json()["message"]
        await signup(c)
        taken = await c.post(
            "/api/identity/signup",
            json={"email": "ADA@example.com", "password": PASSWORD, "country": "US"},
        )
        assert taken.status_code == 400
        assert taken.json()["error"] == "signup_refused"
        assert "exist" not in taken.json()["message"]

    run(tmp_path, main)


def test_internal_contracts(tmp_path: Path) -> None:
    async def main(m: Monolith, c: httpx.AsyncClient) -> None:
        token = await signup(c)
        made = await c.post("/api/identity/profiles", headers=bearer(token), json={"name": "Ada"})
        profile = made.json()
        host = "http://identity-1.local/internal/identity"
        json_headers = [("content-type", "application/json")]

        async def call(method: str, path: str, body: Any = None) -> Any:
            data = b"" if body is None else json.dumps(body).encode()
            return await m.transport.request(method, host + path, json_headers, data)

        valid = await call("POST", "/sessions/validate", {"token": token})
        assert valid.status == 200
        v = valid.json()
        assert set(v) == {
            "account_id",
            "profile_id",
            "roles",
            "session_id",
            "expires_at",
            "country",
        }
        assert (v["profile_id"], v["roles"], v["country"]) == (None, ["member"], "GB")
        unknown = await call("POST", "/sessions/validate", {"token": "nope"})
        assert (unknown.status, unknown.json()["error"]) == (404, "unknown_session")

        account = await call("GET", f"/accounts/{v['account_id']}")
        assert set(account.json()) == {"id", "email", "country", "roles", "created_at"}
        assert account.json()["email"] == "ada@example.com"
        assert (await call("GET", "/accounts/nobody")).status == 404
        got = await call("GET", f"/profiles/{profile['id']}")
        assert got.json() == profile
        assert set(got.json()) == {
            "id", "account_id", "name", "avatar", "language", "maturity_level", "kids"
        }  # fmt: skip
        assert (await call("GET", "/profiles/nobody")).status == 404
        # The gateway never routes /internal.
        assert (await c.post("/internal/identity/sessions/validate")).status_code == 404

    run(tmp_path, main)


def test_when_identity_cannot_answer(tmp_path: Path) -> None:
    async def main(m: Monolith, c: httpx.AsyncClient) -> None:
        token = await signup(c)  # never validated by the gateway yet, so nothing is cached
        await m.instance("identity").runtime.deregister()
        await m.instance("gateway").runtime.ctx.discovery.refresh()

        optional = await c.get("/api/echo", headers=bearer(token))
        assert optional.status_code == 200
        assert optional.json() == {"subject": None}  # goes on anonymously (a counted fallback)
        required = await c.get("/api/echo-required", headers=bearer(token))
        assert required.status_code == 503
        assert required.json()["error"] == "identity_unavailable"
        counted = m.node.metrics.counter("gateway.auth.unverified")
        assert counted.value == 1
        nobody = await c.get("/api/echo-required")
        assert nobody.status_code == 401  # no token at all: nothing to check
        # An optional route whose service needs a member: 503 too, never "sign in again".
        member = await c.get("/api/echo/member", headers=bearer(token))
        assert member.status_code == 503, member.text
        assert "could not be checked" in member.json()["message"]
        assert member.headers["retry-after"] == "5"
        assert (await c.get("/api/echo/member")).status_code == 401

    run(tmp_path, main)


def test_public_routes_are_documented(tmp_path: Path) -> None:
    async def main(m: Monolith, c: httpx.AsyncClient) -> None:
        spec = (await m.transport.request("GET", "http://identity-1.local/openapi.json")).json()
        public = {p: ops for p, ops in spec["paths"].items() if p.startswith("/api/identity")}
        assert len(public) >= 10
        for path, ops in public.items():
            for method, op in ops.items():
                assert op.get("summary"), f"{method} {path} has no summary"
        schemas = spec["components"]["schemas"]
        for name in ("SignUpIn", "SignInIn", "SessionOut", "ProfileIn", "MeOut", "ValidateOut"):
            assert schemas[name].get("examples"), f"{name} has no examples"

    run(tmp_path, main)
