"""A retried charge never charges twice: Idempotency-Key replays, concurrent retries (in one
instance and across two), racing signups, racing settlements and racing renewal runs, on
SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from matinee.services.billing.errors import (
    AlreadySubscribed,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    PaymentDeclined,
    PaymentInProgress,
    PaymentProviderUnavailable,
)
from matinee.services.billing.idempotency import Answer, fingerprint
from matinee.services.billing.models import IdempotencyRecord
from matinee.services.billing.periods import now_utc
from matinee.services.billing.provider import TestProvider
from matinee.services.billing.schemas import RenewalRunOut

from .helpers import DAY, DECLINES, QUICK, TRANSIENT, billing, clock_at_start, signup


def test_a_retry_with_the_same_key_replays_without_charging(db_url: str) -> None:
    async def main() -> None:
        async with billing(db_url) as b:
            first = await b.service.subscribe("acct", signup(), "k")
            again = await b.service.subscribe("acct", signup(), "k")
            assert (first.replayed, again.replayed) == (False, True)
            assert (again.status, again.body) == (first.status, first.body)
            assert (b.provider.calls, len(b.provider.tokens)) == (1, 1)

    asyncio.run(main())


def test_a_key_belongs_to_one_request_of_one_account(db_url: str) -> None:
    async def main() -> None:
        async with billing(db_url) as b:
            await b.service.subscribe("acct", signup("standard"), "k")
            with pytest.raises(IdempotencyKeyReused, match="different request"):
                await b.service.subscribe("acct", signup("premium"), "k")
            other = await b.service.subscribe("other", signup("premium"), "k")
            assert other.replayed is False
            assert len(b.provider.succeeded) == 2

    asyncio.run(main())


def test_a_decline_is_the_key_s_answer(db_url: str) -> None:
    async def main() -> None:
        async with billing(db_url) as b:
            for _ in range(3):
                with pytest.raises(PaymentDeclined, match="declined"):
                    await b.service.subscribe("acct", signup(card=DECLINES), "k")
            assert b.provider.calls == 1

    asyncio.run(main())


def test_concurrent_retries_charge_once_and_all_get_the_answer(db_url: str) -> None:
    async def main() -> None:
        clock = clock_at_start()
        provider = TestProvider(clock, latency=0.05)
        async with billing(db_url, clock=clock, provider=provider) as b:
            answers = await asyncio.gather(
                *(b.service.subscribe("acct", signup(), "same-key") for _ in range(8))
            )
            assert len({a.body["id"] for a in answers}) == 1
            assert {a.status for a in answers} == {201}
            assert sorted(a.replayed for a in answers) == [False] + [True] * 7
            assert (provider.calls, len(provider.succeeded), len(provider.tokens)) == (1, 1, 1)

    asyncio.run(main())


def test_concurrent_retries_across_two_instances_charge_once(db_url: str) -> None:
    async def main() -> None:
        clock = clock_at_start()
        provider = TestProvider(clock, latency=0.05)
        async with (
            billing(db_url, clock=clock, provider=provider) as one,
            billing(db_url, clock=clock, provider=provider) as two,
        ):
            calls = [
                service.subscribe("acct", signup(), "same-key")
                for service in (one.service, two.service)
                for _ in range(3)
            ]
            answers = await asyncio.gather(*calls)
            assert len({a.body["id"] for a in answers}) == 1
            assert sum(not a.replayed for a in answers) == 1
            assert len(provider.succeeded) == 1
            assert provider.calls == 1

    asyncio.run(main())


def test_racing_signups_with_different_keys_charge_once(db_url: str) -> None:
    async def main() -> None:
        clock = clock_at_start()
        provider = TestProvider(clock, latency=0.02)
        async with billing(db_url, clock=clock, provider=provider) as b:
            results = await asyncio.gather(
                *(b.service.subscribe("acct", signup(), f"key-{i}") for i in range(6)),
                return_exceptions=True,
            )
            won = [r for r in results if isinstance(r, Answer)]
            lost = [r for r in results if not isinstance(r, Answer)]
            assert len(won) == 1
            assert all(isinstance(r, AlreadySubscribed | PaymentInProgress) for r in lost), lost
            assert len(provider.succeeded) == 1
            assert (await b.service.subscription("acct")).id == won[0].body["id"]

    asyncio.run(main())


def test_a_transient_failure_is_retried_with_the_same_provider_key(db_url: str) -> None:
    async def main() -> None:
        async with billing(db_url) as b:
            with pytest.raises(PaymentProviderUnavailable):
                await b.service.subscribe("acct", signup(card=TRANSIENT), "k")
            key = b.provider.call_keys[0]
            assert b.provider.call_keys == [key] * 3
            b.provider.script(b.provider.tokens[-1].token, "succeed")  # the provider recovers
            answer = await b.service.subscribe("acct", signup(card=TRANSIENT), "k")
            assert (answer.status, answer.replayed, answer.body["status"]) == (201, False, "active")
            assert b.provider.call_keys == [key] * 4
            assert [c.idempotency_key for c in b.provider.succeeded] == [key]
            assert len(b.provider.tokens) == 1  # the retry carried on, it did not start over

    asyncio.run(main())


def test_a_request_that_died_holding_its_key_is_taken_over_after_the_lease(db_url: str) -> None:
    async def main() -> None:
        config = replace(QUICK, idempotency_lease=30.0, idempotency_wait=0.2)
        async with billing(db_url, config) as b:
            body = signup()
            digest = fingerprint("subscribe", body.plan, "4242", 16, 12, 2030)
            now = now_utc(b.clock)
            async with b.db.write() as s:  # what a request leaves behind when its process dies
                s.add(
                    IdempotencyRecord(
                        account_id="acct",
                        key="k",
                        fingerprint=digest,
                        locked_until=now + timedelta(seconds=30),
                        created_at=now,
                        updated_at=now,
                    )
                )
            with pytest.raises(IdempotencyKeyInUse, match="still running"):
                await b.service.subscribe("acct", body, "k")
            assert b.provider.calls == 0
            b.clock.advance(31)
            answer = await b.service.subscribe("acct", body, "k")
            assert (answer.status, answer.body["status"]) == (201, "active")
            assert len(b.provider.succeeded) == 1

    asyncio.run(main())


def test_racing_settlements_of_one_attempt_charge_and_apply_once(db_url: str) -> None:
    async def main() -> None:
        clock = clock_at_start()
        provider = TestProvider(clock, latency=0.02)
        async with billing(db_url, clock=clock, provider=provider) as b:
            with pytest.raises(PaymentProviderUnavailable):
                await b.service.subscribe("acct", signup(card=TRANSIENT), "k")
            provider.script(provider.tokens[-1].token, "succeed")
            (invoice,) = await b.invoices("acct")
            (payment,) = await b.payments(invoice.id)
            settled = await asyncio.gather(*(b.service.ledger.settle(payment.id) for _ in range(5)))
            assert {s.status for s in settled} == {"succeeded"}
            assert len(provider.succeeded) == 1
            sub = await b.sub("acct")
            assert sub.status == "active"
            (payment,) = await b.payments(invoice.id)
            assert payment.provider_charge_id == provider.succeeded[0].id

    asyncio.run(main())


def test_racing_renewal_runs_invoice_and_charge_each_period_once(db_url: str) -> None:
    async def main() -> None:
        clock = clock_at_start()
        provider = TestProvider(clock, latency=0.02)
        async with (
            billing(db_url, clock=clock, provider=provider) as one,
            billing(db_url, clock=clock, provider=provider) as two,
        ):
            for account in ("a", "b", "c"):
                await one.service.subscribe(account, signup(), f"k-{account}")
            clock.advance(28 * DAY)
            reports = await asyncio.gather(
                *(b.service.renewals.run() for b in (one, two, one, two))
            )
            assert sum(r.renewed for r in reports) == 3
            assert len(provider.succeeded) == 6
            for account in ("a", "b", "c"):
                assert [i.reason for i in await one.invoices(account)] == ["signup", "renewal"]

    asyncio.run(main())


def test_racing_dunning_retries_make_one_attempt(db_url: str) -> None:
    async def main() -> None:
        clock = clock_at_start()
        provider = TestProvider(clock, latency=0.02)
        async with (
            billing(db_url, clock=clock, provider=provider) as one,
            billing(db_url, clock=clock, provider=provider) as two,
        ):
            await one.service.subscribe("acct", signup(), "k")
            provider.script(await one.token("acct"), "decline", "succeed")
            clock.advance(28 * DAY)
            assert await one.service.renewals.run() == RenewalRunOut(past_due=1)
            clock.advance(DAY)
            reports = await asyncio.gather(*(b.service.renewals.run() for b in (one, two) * 2))
            assert sum(r.retried for r in reports) == 1
            renewal = (await one.invoices("acct"))[-1]
            assert [p.status for p in await one.payments(renewal.id)] == ["declined", "succeeded"]
            assert (await one.sub("acct")).status == "active"

    asyncio.run(main())


def test_unanswered_payments_are_settled_by_a_later_run(db_url: str) -> None:
    async def main() -> None:
        config = replace(QUICK, settle_after=60.0)
        async with billing(db_url, config) as b:
            await b.service.subscribe("acct", signup(), "k")
            token = await b.token("acct")
            b.provider.script(token, "fail", "fail", "fail")
            b.clock.advance(28 * DAY)
            assert await b.service.renewals.run() == RenewalRunOut(pending=1)
            sub = await b.sub("acct")
            assert (sub.status, sub.open_invoice_id is not None) == ("active", True)
            assert await b.service.renewals.run() == RenewalRunOut()  # too soon to ask again
            b.clock.advance(61)
            assert await b.service.renewals.run() == RenewalRunOut(settled=1, renewed=1)
            assert len(set(b.provider.call_keys[1:])) == 1  # one key for all 4 calls
            assert (await b.sub("acct")).current_period_end.month == 3

    asyncio.run(main())


def test_keys_are_forgotten_after_a_day(db_url: str) -> None:
    async def main() -> None:
        async with billing(db_url) as b:
            await b.service.subscribe("acct", signup(), "k")
            await b.service.renewals.run()
            assert (await b.service.subscribe("acct", signup(), "k")).replayed
            b.clock.advance(DAY + 1)
            await b.service.renewals.run()
            with pytest.raises(AlreadySubscribed):  # a new request now, and a refused one
                await b.service.subscribe("acct", signup(), "k")
            assert len(b.provider.succeeded) == 1

    asyncio.run(main())
