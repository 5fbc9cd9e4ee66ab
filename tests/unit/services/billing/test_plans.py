"""Plans and prices, changing plan (upgrade now with proration, downgrade at renewal), paying
with another card, and the invoice list."""

from __future__ import annotations

import asyncio

import pytest

from matinee.services.billing.errors import (
    InvalidCursor,
    PaymentDeclined,
    PlanChangeRefused,
    PlanNotFound,
)
from matinee.services.billing.schemas import CardIn, RenewalRunOut

from .helpers import DAY, DECLINES, OK, billing, signup


def card(number: str = OK) -> CardIn:
    return CardIn(card_number=number, exp_month=11, exp_year=2031, cvc="999")


def test_plans_come_from_the_migration_and_prices_can_change(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            page = await b.service.plans()
            assert [(p.code, p.max_streams, p.max_height, p.price_cents, p.currency)
                    for p in page.items] == [
                ("basic", 1, 720, 699, "USD"),
                ("standard", 2, 1080, 1549, "USD"),
                ("premium", 4, 2160, 2299, "USD"),
            ]  # fmt: skip
            assert page.next_cursor is None
            first = await b.service.plans(limit=2)
            assert [p.code for p in first.items] == ["basic", "standard"]
            assert first.next_cursor is not None
            rest = await b.service.plans(limit=2, cursor=first.next_cursor)
            assert ([p.code for p in rest.items], rest.next_cursor) == (["premium"], None)
            with pytest.raises(InvalidCursor, match="cursor"):
                await b.service.plans(cursor="bm9wZQ")
            changed = await b.service.set_price("standard", 1699, None)
            assert (changed.price_cents, changed.currency) == (1699, "USD")
            assert (await b.service.plans()).items[1].price_cents == 1699
            with pytest.raises(PlanNotFound):
                await b.service.set_price("gold", 1, None)

    asyncio.run(main())


def test_a_new_price_applies_from_the_next_invoice(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup("standard"), "k")
            await b.service.set_price("standard", 1699, None)
            b.clock.advance(28 * DAY)
            await b.service.renewals.run()
            amounts = [i.amount_cents for i in await b.invoices("acct")]
            assert amounts == [1549, 1699]

    asyncio.run(main())


def test_an_upgrade_charges_the_rest_of_the_period_now(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup("basic"), "k")  # 31 Jan - 28 Feb: 28 days
            b.clock.advance(14 * DAY)
            view = await b.service.change_plan("acct", "premium")
            assert (view.plan.code, view.pending_plan) == ("premium", None)
            upgrade = (await b.invoices("acct"))[-1]
            # (2299 - 699) for 14 of 28 days.
            assert (upgrade.reason, upgrade.status, upgrade.amount_cents) == (
                "upgrade",
                "paid",
                800,
            )
            assert [c.amount_cents for c in b.provider.succeeded] == [699, 800]
            ent = await b.service.entitlements("acct")
            assert ent.plan is not None
            assert ent.plan.max_streams == 4
            # Asking again changes nothing and charges nothing.
            await b.service.change_plan("acct", "premium")
            assert len(b.provider.succeeded) == 2

    asyncio.run(main())


def test_a_declined_upgrade_keeps_the_plan_and_may_be_tried_again(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup("basic"), "k")
            b.provider.script(await b.token("acct"), "decline")
            b.clock.advance(DAY)
            with pytest.raises(PaymentDeclined):
                await b.service.change_plan("acct", "standard")
            assert (await b.service.subscription("acct")).plan.code == "basic"
            assert (await b.invoices("acct"))[-1].status == "void"
            b.clock.advance(DAY)
            view = await b.service.change_plan("acct", "standard")  # a fresh invoice and key
            assert view.plan.code == "standard"
            assert [i.status for i in await b.invoices("acct")] == ["paid", "void", "paid"]

    asyncio.run(main())


def test_a_downgrade_waits_for_the_renewal(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup("premium"), "k")
            view = await b.service.change_plan("acct", "basic")
            assert (view.plan.code, view.pending_plan) == ("premium", "basic")
            assert len(b.provider.succeeded) == 1
            b.clock.advance(28 * DAY)
            assert await b.service.renewals.run() == RenewalRunOut(renewed=1)
            view = await b.service.subscription("acct")
            assert (view.plan.code, view.pending_plan) == ("basic", None)
            assert (await b.invoices("acct"))[-1].amount_cents == 699

    asyncio.run(main())


def test_choosing_the_current_plan_drops_a_scheduled_change(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup("premium"), "k")
            await b.service.change_plan("acct", "basic")
            assert (await b.service.change_plan("acct", "premium")).pending_plan is None

    asyncio.run(main())


def test_a_trial_changes_plan_for_free(sqlite_url: str) -> None:
    async def main() -> None:
        from dataclasses import replace  # noqa: PLC0415

        from .helpers import QUICK  # noqa: PLC0415

        async with billing(sqlite_url, replace(QUICK, trial_days=5)) as b:
            await b.service.subscribe("acct", signup("basic"), "k")
            view = await b.service.change_plan("acct", "premium")
            assert (view.status, view.plan.code) == ("trialing", "premium")
            assert b.provider.calls == 0

    asyncio.run(main())


def test_past_due_and_canceled_refuse_plan_changes(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup("basic"), "k")
            b.provider.script(await b.token("acct"), "decline")
            b.clock.advance(28 * DAY)
            await b.service.renewals.run()
            with pytest.raises(PlanChangeRefused, match="overdue"):
                await b.service.change_plan("acct", "premium")
            await b.service.cancel("acct", at_period_end=False)
            with pytest.raises(PlanChangeRefused, match="canceled"):
                await b.service.change_plan("acct", "premium")

    asyncio.run(main())


def test_a_new_card_settles_a_past_due_invoice_at_once(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup(card=OK), "k")
            b.provider.script(await b.token("acct"), "decline")
            b.clock.advance(28 * DAY)
            await b.service.renewals.run()
            assert (await b.sub("acct")).status == "past_due"
            view = await b.service.update_card("acct", card("5555555555554444"))
            assert view.status == "active"
            assert (view.card.brand, view.card.last4, view.card.exp_year) == (
                "mastercard",
                "4444",
                2031,
            )
            renewal = (await b.invoices("acct"))[-1]
            assert [p.card_last4 for p in await b.payments(renewal.id)] == ["4242", "4444"]

    asyncio.run(main())


def test_a_new_card_that_declines_counts_as_a_retry(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup(card=OK), "k")
            b.provider.script(await b.token("acct"), "decline")
            b.clock.advance(28 * DAY)
            await b.service.renewals.run()
            view = await b.service.update_card("acct", card(DECLINES))
            assert view.status == "past_due"
            assert (await b.sub("acct")).dunning_attempts == 1

    asyncio.run(main())


def test_invoices_page_newest_first(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup("basic"), "k")
            for _ in range(3):
                b.clock.advance(31 * DAY)
                await b.service.renewals.run()
            seen: list[str] = []
            cursor = None
            while True:
                page = await b.service.invoices("acct", 3, cursor)
                seen += [i.id for i in page.items]
                cursor = page.next_cursor
                if cursor is None:
                    break
            everything = await b.service.invoices("acct", 100, None)
            assert seen == [i.id for i in everything.items]
            assert len(seen) == 4
            starts = [i.period_start for i in everything.items]
            assert starts == sorted(starts, reverse=True)
            assert (await b.service.invoices("other", 20, None)).items == []
            with pytest.raises(InvalidCursor):
                await b.service.invoices("acct", 3, "%%%")

    asyncio.run(main())


def test_a_change_while_a_renewal_is_being_collected_waits_for_it(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup("basic"), "k")
            b.provider.script(await b.token("acct"), "fail", "fail", "fail")
            b.clock.advance(28 * DAY)
            assert await b.service.renewals.run() == RenewalRunOut(pending=1)
            view = await b.service.change_plan("acct", "premium")
            assert (view.plan.code, view.pending_plan) == ("basic", "premium")
            assert [i.reason for i in await b.invoices("acct")] == ["signup", "renewal"]

    asyncio.run(main())
