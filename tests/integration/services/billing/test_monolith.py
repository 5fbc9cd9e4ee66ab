"""Billing in a monolith with the registry and the real gateway: the public plans through the
gateway, member requests with an identity signed by the monolith's key, the internal
entitlements contract through the client stack, renewals on demand, errors and OpenAPI.

The identity service is not part of this monolith: member requests carry an identity the test
signs itself (as the gateway would) and go to the billing instance directly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matinee.clock import FakeClock
from matinee.db import upgrade
from matinee.gateway.auth import Identity, identity_headers
from matinee.runtime.context import RuntimeConfig
from matinee.runtime.monolith import Monolith
from matinee.runtime.transport import AsgiTransport, Response
from matinee.services import gateway, registry
from matinee.services.billing import BillingConfig, TestProvider, billing_spec
from matinee.settings import Settings

FRONT = "http://matinee.test"
BILLING = "http://billing-1.local"
CARD = {"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


@dataclass
class Platform:
    monolith: Monolith
    provider: TestProvider
    billing_clock: FakeClock
    front: AsgiTransport  # the front door, as a client sees it

    def signed(self, account: str, *roles: str) -> list[tuple[str, str]]:
        key = self.monolith.config.identity_key
        assert key is not None
        now = self.monolith.node.clock.time()
        return identity_headers(Identity(subject=account, roles=roles), key, now)

    async def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        sent = list(headers or [])
        data = b""
        if body is not None:
            sent.append(("content-type", "application/json"))
            data = json.dumps(body).encode()
        transport = self.front if url.startswith(FRONT) else self.monolith.transport
        return await transport.request(method, url, sent, data)

    async def member(
        self, method: str, path: str, account: str, body: Any = None, key: str | None = None
    ) -> Response:
        headers = self.signed(account)
        if key is not None:
            headers.append(("Idempotency-Key", key))
        return await self.call(method, BILLING + path, body, headers)


@asynccontextmanager
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings.resolved_database_url)
    billing_clock = FakeClock(1_800_000_000.0)  # 15 January 2027
    provider = TestProvider(billing_clock, latency=0.02)
    config = BillingConfig(renewal_interval=None, charge_backoff=0.0)
    spec = billing_spec(provider, config, clock=billing_clock)
    monolith = Monolith(settings, RuntimeConfig(), services=[registry.SPEC, spec, gateway.SPEC])
    await monolith.start()
    try:
        yield Platform(monolith, provider, billing_clock, AsgiTransport({"matinee.test": monolith}))
    finally:
        await monolith.leave()
        await monolith.stop()


def test_plans_are_public_through_the_gateway_and_members_need_a_session(tmp_path: Path) -> None:
    async def main() -> None:
        async with platform(tmp_path) as p:
            plans = await p.call("GET", f"{FRONT}/api/billing/plans")
            assert plans.status == 200
            assert [(x["code"], x["max_streams"], x["max_height"], x["price_cents"])
                    for x in plans.json()["items"]] == [
                ("basic", 1, 720, 699), ("standard", 2, 1080, 1549), ("premium", 4, 2160, 2299)
            ]  # fmt: skip
            mine = await p.call("GET", f"{FRONT}/api/billing/subscription")
            assert (mine.status, mine.json()["error"]) == (401, "unauthorized")
            # A forged identity header is stripped by the gateway: still nobody.
            forged = await p.call(
                "GET", f"{FRONT}/api/billing/subscription", headers=p.signed("acct")
            )
            assert forged.status == 401
            # The gateway never routes internal paths, whatever its table says.
            hidden = await p.call("GET", f"{FRONT}/internal/billing/entitlements/acct")
            assert hidden.status == 404
            assert hidden.json()["error"] == "not_found"

    asyncio.run(main())


def test_a_member_subscribes_once_however_often_the_request_is_sent(tmp_path: Path) -> None:
    async def main() -> None:
        async with platform(tmp_path) as p:
            body = {"plan": "standard", **CARD}
            answers = await asyncio.gather(
                *(p.member("POST", "/api/billing/subscription", "acct", body, "k-1")
                  for _ in range(5))
            )  # fmt: skip
            assert {a.status for a in answers} == {201}
            assert len({a.json()["id"] for a in answers}) == 1
            assert sum(a.header("idempotent-replayed") == "true" for a in answers) == 4
            assert len(p.provider.succeeded) == 1
            sub = answers[0].json()
            assert (sub["status"], sub["plan"]["code"], sub["card"]["last4"]) == (
                "active",
                "standard",
                "4242",
            )
            again = await p.member("POST", "/api/billing/subscription", "acct", body, "k-2")
            assert (again.status, again.json()["error"]) == (409, "already_subscribed")
            reused = await p.member(
                "POST", "/api/billing/subscription", "acct", {**body, "plan": "basic"}, "k-1"
            )
            assert (reused.status, reused.json()["error"]) == (422, "idempotency_key_reused")

            ent = (
                await p.monolith.instance("gateway")
                .runtime.ctx.clients.get("billing")
                .request("GET", "/internal/billing/entitlements/acct")
            )
            assert ent.status == 200
            assert ent.json() == {
                "account_id": "acct",
                "status": "active",
                "entitled": True,
                "plan": {
                    "code": "standard",
                    "name": "Standard",
                    "max_streams": 2,
                    "max_height": 1080,
                    "price_cents": 1549,
                    "currency": "USD",
                },
            }
            nobody = await p.call("GET", f"{BILLING}/internal/billing/entitlements/nobody")
            assert nobody.json() == {
                "account_id": "nobody",
                "status": "none",
                "entitled": False,
                "plan": None,
            }

    asyncio.run(main())


def test_bad_input_names_the_field_and_declines_explain_themselves(tmp_path: Path) -> None:
    async def main() -> None:
        async with platform(tmp_path) as p:
            body = {"plan": "standard", **CARD}
            no_key = await p.member("POST", "/api/billing/subscription", "acct", body)
            assert no_key.status == 422
            assert "Idempotency-Key" in no_key.json()["message"]
            bad = await p.member(
                "POST", "/api/billing/subscription", "acct", {**body, "card_number": "12ab"}, "k"
            )
            assert bad.status == 422
            assert "card_number" in bad.json()["message"]
            plan = await p.member(
                "POST", "/api/billing/subscription", "acct", {**body, "plan": "gold"}, "k"
            )
            assert (plan.status, "plan" in plan.json()["message"]) == (422, True)
            luhn = await p.member(
                "POST",
                "/api/billing/subscription",
                "acct",
                {**body, "card_number": "4242424242424241"},
                "k1",
            )
            assert (luhn.status, luhn.json()["error"]) == (422, "card_invalid")
            declined = await p.member(
                "POST",
                "/api/billing/subscription",
                "acct",
                {**body, "card_number": TestProvider.INSUFFICIENT_FUNDS},
                "k2",
            )
            assert declined.status == 402
            assert declined.json()["error"] == "card_declined"
            assert "insufficient funds" in declined.json()["message"]
            assert declined.json()["request_id"]
            flaky = await p.member(
                "POST",
                "/api/billing/subscription",
                "acct",
                {**body, "card_number": TestProvider.FAILS_TRANSIENTLY},
                "k3",
            )
            assert (flaky.status, flaky.json()["error"]) == (503, "payment_provider_unavailable")
            none = await p.member("GET", "/api/billing/subscription", "acct")
            assert (none.status, none.json()["error"]) == (404, "no_subscription")

    asyncio.run(main())


def test_plan_changes_cancel_invoices_and_renewals_over_http(tmp_path: Path) -> None:
    async def main() -> None:
        async with platform(tmp_path) as p:
            body = {"plan": "basic", **CARD}
            made = await p.member("POST", "/api/billing/subscription", "acct", body, "k")
            assert made.status == 201
            p.billing_clock.advance(86_400.0)
            up = await p.member(
                "POST", "/api/billing/subscription/plan", "acct", {"plan": "premium"}
            )
            assert (up.status, up.json()["plan"]["code"]) == (200, "premium")
            page = await p.member("GET", "/api/billing/invoices?limit=1", "acct")
            assert page.status == 200
            assert page.json()["items"][0]["reason"] == "upgrade"
            cursor = page.json()["next_cursor"]
            rest = await p.member("GET", f"/api/billing/invoices?limit=1&cursor={cursor}", "acct")
            assert [i["reason"] for i in rest.json()["items"]] == ["signup"]
            assert rest.json()["next_cursor"] is None
            too_many = await p.member("GET", "/api/billing/invoices?limit=101", "acct")
            assert too_many.status == 422
            assert "limit" in too_many.json()["message"]

            canceled = await p.member("POST", "/api/billing/subscription/cancel", "acct")
            assert canceled.json()["cancel_at_period_end"] is True
            resumed = await p.member("POST", "/api/billing/subscription/resume", "acct")
            assert resumed.json()["cancel_at_period_end"] is False

            p.billing_clock.advance(40 * 86_400.0)
            run = await p.call("POST", f"{BILLING}/internal/billing/renewals/run")
            assert run.status == 200
            assert run.json() == {
                "renewed": 1, "past_due": 0, "canceled": 0, "retried": 0, "settled": 0,
                "pending": 0,
            }  # fmt: skip
            assert [c.amount_cents for c in p.provider.succeeded][-1] == 2299

            now = await p.member(
                "POST", "/api/billing/subscription/cancel", "acct", {"at_period_end": False}
            )
            assert now.json()["status"] == "canceled"
            twice = await p.member(
                "POST", "/api/billing/subscription/cancel", "acct", {"at_period_end": False}
            )
            assert (twice.status, twice.json()["error"]) == (409, "illegal_transition")

    asyncio.run(main())


def test_prices_are_for_administrators(tmp_path: Path) -> None:
    async def main() -> None:
        async with platform(tmp_path) as p:
            price = {"price_cents": 1599}
            url = f"{BILLING}/api/billing/plans/standard"
            member = await p.call("PUT", url, price, p.signed("acct"))
            assert member.status == 403
            admin = await p.call("PUT", url, price, p.signed("boss", "admin"))
            assert (admin.status, admin.json()["price_cents"]) == (200, 1599)
            unknown = await p.call(
                "PUT", f"{BILLING}/api/billing/plans/gold", price, p.signed("boss", "admin")
            )
            assert (unknown.status, unknown.json()["error"]) == (404, "plan_not_found")
            plans = await p.call("GET", f"{FRONT}/api/billing/plans")
            assert plans.json()["items"][1]["price_cents"] == 1599

    asyncio.run(main())


def test_openapi_documents_every_route_with_examples(tmp_path: Path) -> None:
    async def main() -> None:
        async with platform(tmp_path) as p:
            doc = (await p.call("GET", f"{BILLING}/openapi.json")).json()
            ours = {
                (path, method): op
                for path, item in doc["paths"].items()
                if "/billing" in path
                for method, op in item.items()
            }
            assert len(ours) == 11
            for (path, method), op in ours.items():
                assert op.get("summary"), (path, method)
                ok = next(iter(op["responses"].values()))
                assert ok, (path, method)
            schemas = doc["components"]["schemas"]
            for name in ("SubscribeIn", "SubscriptionOut", "PlanOut", "InvoiceOut",
                         "EntitlementsOut", "ErrorOut", "PlanPriceIn", "CancelIn"):  # fmt: skip
                assert schemas[name].get("examples"), name
            params = ours[("/api/billing/subscription", "post")]["parameters"]
            assert [x["name"] for x in params] == ["Idempotency-Key"]
            assert params[0]["required"] is True

    asyncio.run(main())
