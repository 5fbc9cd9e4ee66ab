"""Signing up and the life of a subscription, on a FakeClock: every transition of the state
machine through the service (signup, renewals, dunning, cancel, resume, trials)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from matinee.clock import FakeClock
from matinee.services.billing.config import BillingConfig
from matinee.services.billing.errors import (
    AlreadySubscribed,
    CardExpired,
    IllegalTransition,
    PaymentDeclined,
    PaymentProviderUnavailable,
    PlanNotFound,
    SubscriptionNotFound,
)
from matinee.services.billing.schemas import RenewalRunOut

from .helpers import DAY, DECLINES, LOSES, OK, QUICK, START, TRANSIENT, billing, signup


def test_signup_charges_once_and_activates(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            answer = await b.service.subscribe("acct", signup("standard"), "key-1")
            assert (answer.status, answer.replayed) == (201, False)
            body = answer.body
            assert body["status"] == "active"
            assert body["plan"]["code"] == "standard"
            assert body["card"] == {"brand": "visa", "last4": "4242", "exp_month": 12,
                                    "exp_year": 2030}  # fmt: skip
            assert body["current_period_start"] == "2026-01-31T10:00:00Z"
            assert body["current_period_end"] == "2026-02-28T10:00:00Z"
            (invoice,) = await b.invoices("acct")
            assert (invoice.reason, invoice.status, invoice.amount_cents) == (
                "signup",
                "paid",
                1549,
            )
            (payment,) = await b.payments(invoice.id)
            assert (payment.status, payment.provider_calls) == ("succeeded", 1)
            assert payment.idempotency_key == f"{invoice.id}:1"
            (charge,) = b.provider.succeeded
            assert (charge.amount_cents, charge.currency, charge.id) == (
                1549,
                "USD",
                payment.provider_charge_id,
            )
            ent = await b.service.entitlements("acct")
            assert (ent.status, ent.entitled) == ("active", True)
            assert ent.plan is not None
            assert (ent.plan.max_streams, ent.plan.max_height) == (2, 1080)

    asyncio.run(main())


def test_card_numbers_are_never_stored(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup(card="4242 4242 4242 4242"), "k")
            async with b.db.read() as s:
                conn = await s.connection()
                dump = []
                for table in ("billing_subscriptions", "billing_payments",
                              "billing_idempotency_keys", "billing_invoices"):  # fmt: skip
                    rows = (await conn.exec_driver_sql(f"SELECT * FROM {table}")).all()  # noqa: S608
                    dump.append(repr(rows))
            assert "4242424242424242" not in "".join(dump)
            assert "4242 4242 4242 4242" not in "".join(dump)

    asyncio.run(main())


def test_a_declined_signup_expires_and_frees_the_account(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            with pytest.raises(PaymentDeclined, match="declined"):
                await b.service.subscribe("acct", signup(card=DECLINES), "k1")
            assert (await b.service.entitlements("acct")).status == "none"
            with pytest.raises(SubscriptionNotFound):
                await b.service.subscription("acct")
            (invoice,) = await b.invoices("acct")
            assert invoice.status == "void"
            # The slot is free: another card goes through.
            answer = await b.service.subscribe("acct", signup(card=OK), "k2")
            assert answer.body["status"] == "active"
            assert len(b.provider.succeeded) == 1

    asyncio.run(main())


def test_bad_input_is_refused_before_any_charge(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            with pytest.raises(CardExpired):
                await b.service.subscribe("acct", signup(exp_month=1, exp_year=2025), "k1")
            with pytest.raises(PlanNotFound):
                await b.service.subscribe(
                    "acct", signup().model_copy(update={"plan": "gold"}), "k2"
                )
            assert b.provider.calls == 0
            assert (await b.service.entitlements("acct")).status == "none"

    asyncio.run(main())


def test_a_transient_failure_keeps_the_attempt_and_gives_up_after_the_limit(
    sqlite_url: str,
) -> None:
    async def main() -> None:
        config = replace(QUICK, charge_attempts=3, max_provider_calls=6)
        async with billing(sqlite_url, config) as b:
            with pytest.raises(PaymentProviderUnavailable, match="same Idempotency-Key"):
                await b.service.subscribe("acct", signup(card=TRANSIENT), "k")
            assert b.provider.calls == 3  # retried with the same key, no answer
            (invoice,) = await b.invoices("acct")
            (payment,) = await b.payments(invoice.id)
            assert (payment.status, payment.provider_calls) == ("pending", 3)
            assert (await b.service.entitlements("acct")).status == "none"
            # The retry resumes the same attempt; at the limit the payment is marked failed.
            with pytest.raises(PaymentDeclined, match="could not be completed"):
                await b.service.subscribe("acct", signup(card=TRANSIENT), "k")
            (payment,) = await b.payments(invoice.id)
            assert (payment.status, payment.provider_calls) == ("failed", 6)
            assert b.provider.charges == {}
            assert (await b.sub("acct")).status == "expired"

    asyncio.run(main())


def test_a_lost_answer_is_recovered_without_a_second_charge(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            answer = await b.service.subscribe("acct", signup(card=LOSES), "k")
            assert answer.body["status"] == "active"
            assert (b.provider.calls, len(b.provider.succeeded)) == (2, 1)
            (invoice,) = await b.invoices("acct")
            (payment,) = await b.payments(invoice.id)
            assert (payment.status, payment.provider_calls) == ("succeeded", 2)

    asyncio.run(main())


def test_active_renews_into_anchored_periods(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup("basic"), "k")
            assert await b.service.renewals.run() == RenewalRunOut()
            b.clock.advance(28 * DAY)  # 28 February 10:00, the period's end
            assert await b.service.renewals.run() == RenewalRunOut(renewed=1)
            assert await b.service.renewals.run() == RenewalRunOut()
            sub = await b.sub("acct")
            assert sub.status == "active"
            assert sub.current_period_start == START + timedelta(days=28)
            assert sub.current_period_end == START.replace(month=3)  # 31 March
            b.clock.advance(31 * DAY)
            assert await b.service.renewals.run() == RenewalRunOut(renewed=1)
            assert (await b.sub("acct")).current_period_end == START.replace(month=4, day=30)
            invoices = await b.invoices("acct")
            assert [(i.reason, i.status, i.amount_cents) for i in invoices] == [
                ("signup", "paid", 699),
                ("renewal", "paid", 699),
                ("renewal", "paid", 699),
            ]
            assert len(b.provider.succeeded) == 3

    asyncio.run(main())


def test_past_due_returns_to_active_when_a_retry_succeeds(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup(), "k")
            b.provider.script(await b.token("acct"), "decline", "succeed")
            b.clock.advance(28 * DAY)
            assert await b.service.renewals.run() == RenewalRunOut(past_due=1)
            sub = await b.sub("acct")
            assert sub.status == "past_due"
            assert sub.next_retry_at == START + timedelta(days=29)
            ent = await b.service.entitlements("acct")
            assert (ent.status, ent.entitled) == ("past_due", False)
            assert await b.service.renewals.run() == RenewalRunOut()  # not due yet
            b.clock.advance(DAY)
            assert await b.service.renewals.run() == RenewalRunOut(retried=1, renewed=1)
            sub = await b.sub("acct")
            assert (sub.status, sub.past_due_since, sub.next_retry_at) == ("active", None, None)
            assert sub.current_period_start == START + timedelta(days=28)  # the anchor holds
            assert sub.current_period_end == START.replace(month=3)
            renewal = (await b.invoices("acct"))[-1]
            assert (renewal.status, renewal.attempts) == ("paid", 2)
            assert [p.status for p in await b.payments(renewal.id)] == ["declined", "succeeded"]

    asyncio.run(main())


def test_past_due_is_canceled_after_the_last_retry(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup(), "k")
            b.provider.script(await b.token("acct"), "decline", "decline", "decline")
            b.clock.advance(28 * DAY)
            assert (await b.service.renewals.run()).past_due == 1
            b.clock.advance(DAY)
            assert await b.service.renewals.run() == RenewalRunOut(retried=1, past_due=1)
            sub = await b.sub("acct")
            assert (sub.status, sub.dunning_attempts) == ("past_due", 1)
            assert sub.next_retry_at == START + timedelta(days=28 + 3)
            b.clock.advance(2 * DAY)
            assert await b.service.renewals.run() == RenewalRunOut(retried=1, canceled=1)
            sub = await b.sub("acct")
            assert (sub.status, sub.live_account) == ("canceled", None)
            assert (await b.invoices("acct"))[-1].status == "uncollectible"
            ent = await b.service.entitlements("acct")
            assert (ent.status, ent.entitled) == ("canceled", False)
            assert len(b.provider.succeeded) == 1  # only the signup

    asyncio.run(main())


def test_cancel_at_period_end_then_the_period_ends(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup(), "k")
            view = await b.service.cancel("acct", at_period_end=True)
            assert (view.status, view.cancel_at_period_end) == ("active", True)
            assert (await b.service.entitlements("acct")).entitled
            b.clock.advance(28 * DAY)
            assert await b.service.renewals.run() == RenewalRunOut(canceled=1)
            view = await b.service.subscription("acct")
            assert view.status == "canceled"
            assert view.canceled_at == START + timedelta(days=28)
            assert len(await b.invoices("acct")) == 1  # nothing billed after the end

    asyncio.run(main())


def test_resume_undoes_a_scheduled_cancel(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup(), "k")
            await b.service.cancel("acct")
            assert not (await b.service.resume("acct")).cancel_at_period_end
            b.clock.advance(28 * DAY)
            assert await b.service.renewals.run() == RenewalRunOut(renewed=1)

    asyncio.run(main())


def test_cancel_now_and_what_a_canceled_subscription_refuses(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup(), "k")
            b.clock.advance(DAY)
            view = await b.service.cancel("acct", at_period_end=False)
            assert (view.status, view.canceled_at) == ("canceled", START + timedelta(days=1))
            with pytest.raises(IllegalTransition, match="canceled cannot become canceled"):
                await b.service.cancel("acct", at_period_end=False)
            with pytest.raises(IllegalTransition, match="canceled cannot become active"):
                await b.service.resume("acct")
            # Coming back is a new subscription (charged now: trials are for newcomers).
            again = await b.service.subscribe("acct", signup(), "k2")
            assert again.body["status"] == "active"
            assert again.body["id"] != view.id
            assert (await b.service.subscription("acct")).id == again.body["id"]

    asyncio.run(main())


def test_a_past_due_subscription_cancels_at_once(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup(), "k")
            b.provider.script(await b.token("acct"), "decline")
            b.clock.advance(28 * DAY)
            await b.service.renewals.run()
            view = await b.service.cancel("acct", at_period_end=True)
            assert view.status == "canceled"
            assert (await b.invoices("acct"))[-1].status == "void"
            b.clock.advance(5 * DAY)
            assert await b.service.renewals.run() == RenewalRunOut()  # no more retries

    asyncio.run(main())


def test_a_trial_then_its_first_charge(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url, replace(QUICK, trial_days=7)) as b:
            answer = await b.service.subscribe("acct", signup(), "k")
            assert answer.body["status"] == "trialing"
            assert answer.body["trial_end"] == "2026-02-07T10:00:00Z"
            assert b.provider.calls == 0
            assert await b.invoices("acct") == []
            assert (await b.service.entitlements("acct")).entitled
            b.clock.advance(7 * DAY)
            assert await b.service.renewals.run() == RenewalRunOut(renewed=1)
            view = await b.service.subscription("acct")
            assert view.status == "active"
            assert str(view.current_period_end) == "2026-03-07 10:00:00+00:00"
            assert len(b.provider.succeeded) == 1

    asyncio.run(main())


def test_a_trial_whose_first_charge_is_declined_goes_past_due(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url, replace(QUICK, trial_days=7)) as b:
            await b.service.subscribe("acct", signup(card=DECLINES), "k")
            b.clock.advance(7 * DAY)
            assert await b.service.renewals.run() == RenewalRunOut(past_due=1)
            assert (await b.sub("acct")).status == "past_due"

    asyncio.run(main())


def test_a_trial_can_be_canceled_and_is_offered_once(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url, replace(QUICK, trial_days=7)) as b:
            await b.service.subscribe("acct", signup(), "k")
            assert (await b.service.cancel("acct", at_period_end=False)).status == "canceled"
            again = await b.service.subscribe("acct", signup(), "k2")
            assert again.body["status"] == "active"  # no second trial: charged at once
            assert len(b.provider.succeeded) == 1

    asyncio.run(main())


def test_a_second_signup_is_refused_and_the_refusal_replayed(sqlite_url: str) -> None:
    async def main() -> None:
        async with billing(sqlite_url) as b:
            await b.service.subscribe("acct", signup(), "k1")
            for _ in range(2):
                with pytest.raises(AlreadySubscribed, match="already have a subscription"):
                    await b.service.subscribe("acct", signup("premium"), "k2")
            assert len(b.provider.succeeded) == 1
            assert len(b.provider.tokens) == 1  # the replay did not even tokenize

    asyncio.run(main())


def test_the_background_loop_renews_on_the_clock(sqlite_url: str) -> None:
    class SteppedClock:
        """The FakeClock's time, but each sleep waits a little real time instead of jumping."""

        def __init__(self, inner: FakeClock) -> None:
            self.inner = inner
            self.sleeps = 0

        def time(self) -> float:
            return self.inner.time()

        def monotonic(self) -> float:
            return self.inner.monotonic()

        async def sleep(self, seconds: float) -> None:
            self.sleeps += 1
            await asyncio.sleep(0.01)

    async def main() -> None:
        config = BillingConfig(renewal_interval=60.0, charge_backoff=0.0)
        async with billing(sqlite_url, config) as b:
            await b.service.subscribe("acct", signup(), "k")
            stepped = SteppedClock(b.clock)
            b.service.renewals.clock = stepped
            async with b.service.renewals.loop():
                b.clock.advance(28 * DAY)
                for _ in range(500):
                    if (await b.sub("acct")).current_period_end == START.replace(month=3):
                        break
                    await asyncio.sleep(0.01)
            assert (await b.sub("acct")).current_period_end == START.replace(month=3)
            assert len(b.provider.succeeded) == 2
            assert stepped.sleeps >= 1

    asyncio.run(main())
