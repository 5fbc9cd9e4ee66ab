"""The billing store on SQLite, PostgreSQL and MariaDB: the unique constraints that do the
concurrency work, the queries renewals use, locking reads and pagination."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from matinee.db.aio import Database
from matinee.services.billing import store
from matinee.services.billing.errors import InvalidCursor
from matinee.services.billing.models import (
    IdempotencyRecord,
    Invoice,
    Payment,
    Subscription,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def sub(account: str, status: str = "active", **fields: object) -> Subscription:
    live = status in ("incomplete", "trialing", "active", "past_due")
    values: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "account_id": account,
        "live_account": account if live else None,
        "status": status,
        "plan_code": "basic",
        "card_token": "tok_ok_1",
        "card_brand": "visa",
        "card_last4": "4242",
        "card_exp_month": 12,
        "card_exp_year": 2030,
        "anchor_at": T0,
        "current_period_start": T0,
        "current_period_end": T0 + timedelta(days=31),
        "cancel_at_period_end": False,
        "dunning_attempts": 0,
        "created_at": T0,
        "updated_at": T0,
        **fields,
    }
    return Subscription(**values)


def invoice(subscription: Subscription, key: str, created_at: datetime = T0) -> Invoice:
    return Invoice(
        id=str(uuid.uuid4()),
        key=key,
        account_id=subscription.account_id,
        subscription_id=subscription.id,
        reason="renewal",
        plan_code="basic",
        amount_cents=699,
        currency="USD",
        status="open",
        period_start=created_at,
        period_end=created_at + timedelta(days=30),
        attempts=1,
        created_at=created_at,
    )


def payment(inv: Invoice, attempt: int = 1, **fields: object) -> Payment:
    values: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "invoice_id": inv.id,
        "account_id": inv.account_id,
        "attempt": attempt,
        "idempotency_key": f"{inv.id}:{attempt}",
        "amount_cents": inv.amount_cents,
        "currency": "USD",
        "card_token": "tok_ok_1",
        "card_last4": "4242",
        "status": "pending",
        "provider_calls": 0,
        "created_at": T0,
        "updated_at": T0,
        **fields,
    }
    return Payment(**values)


async def add(db: Database, *rows: object) -> None:
    async with db.write() as s:
        for row in rows:
            s.add(row)
            await s.flush()


def test_an_account_has_one_live_subscription(db_url: str) -> None:
    async def main() -> None:
        db = Database(db_url)
        try:
            await add(db, sub("a"))
            with pytest.raises(IntegrityError):
                await add(db, sub("a", "incomplete"))
            await add(db, sub("a", "canceled"), sub("a", "expired"), sub("b", "trialing"))
            async with db.read() as s:
                live = await store.live_subscription(s, "a")
                assert live is not None
                assert live.status == "active"
                assert await store.had_subscription(s, "a")
                assert not await store.had_subscription(s, "nobody")
        finally:
            await db.close()

    asyncio.run(main())


def test_invoice_and_attempt_keys_are_unique(db_url: str) -> None:
    async def main() -> None:
        db = Database(db_url)
        try:
            owner = sub("a")
            first = invoice(owner, "renewal:x:1")
            await add(db, owner, first, payment(first))
            with pytest.raises(IntegrityError):
                await add(db, invoice(owner, "renewal:x:1"))
            with pytest.raises(IntegrityError):  # the same attempt number twice
                await add(db, payment(first, 1, idempotency_key="other"))
            with pytest.raises(IntegrityError):  # the same provider key twice
                await add(db, payment(first, 2, idempotency_key=f"{first.id}:1"))
            await add(db, payment(first, 2))
            async with db.read() as s:
                found = await store.invoice_by_key(s, "renewal:x:1")
                assert found is not None
                assert found.id == first.id
                latest = await store.latest_payment(s, first.id)
                assert latest is not None
                assert latest.attempt == 2
                assert [p.attempt for p in await store.payments_of(s, first.id)] == [1, 2]
        finally:
            await db.close()

    asyncio.run(main())


def test_idempotency_records_are_unique_per_account_and_key(db_url: str) -> None:
    async def main() -> None:
        db = Database(db_url)

        def record(account: str, key: str) -> IdempotencyRecord:
            return IdempotencyRecord(
                account_id=account,
                key=key,
                fingerprint="f" * 64,
                locked_until=T0,
                created_at=T0,
                updated_at=T0,
                response_body={"id": "s", "nested": {"n": 1}},
            )

        try:
            await add(db, record("a", "k"), record("b", "k"))
            with pytest.raises(IntegrityError):
                await add(db, record("a", "k"))
            async with db.write() as s:
                found = await store.idempotency(s, "a", "k", lock=True)
                assert found is not None
                assert found.response_body == {"id": "s", "nested": {"n": 1}}
                assert found.locked_until == T0
                await store.release_idempotency(s, found.id, T0)
            async with db.read() as s:
                released = await store.idempotency(s, "a", "k")
                assert released is not None
                assert released.locked_until is None
        finally:
            await db.close()

    asyncio.run(main())


def test_the_member_sees_the_live_subscription_else_the_last_canceled(db_url: str) -> None:
    async def main() -> None:
        db = Database(db_url)
        try:
            old = sub("a", "canceled", created_at=T0 - timedelta(days=40))
            await add(db, old, sub("a", "expired", created_at=T0 + timedelta(days=1)))
            async with db.read() as s:
                seen = await store.current_subscription(s, "a")
                assert seen is not None
                assert seen.id == old.id
            same_second = sub("a", "past_due", created_at=old.created_at)
            await add(db, same_second)
            async with db.write() as s:
                seen = await store.current_subscription(s, "a", lock=True)
                assert seen is not None
                assert seen.id == same_second.id
                assert seen.created_at.tzinfo is UTC
                assert await store.current_subscription(s, "nobody") is None
        finally:
            await db.close()

    asyncio.run(main())


def test_what_a_renewal_run_finds_due(db_url: str) -> None:
    async def main() -> None:
        db = Database(db_url)
        end = T0 + timedelta(days=31)
        try:
            due_a = sub("a", current_period_end=end - timedelta(seconds=1))
            due_b = sub("b", "trialing", current_period_end=end)
            later = sub("c", current_period_end=end + timedelta(seconds=1))
            billing = sub("d", current_period_end=end, open_invoice_id="inv")
            retry = sub("e", "past_due", next_retry_at=end)
            not_yet = sub("f", "past_due", next_retry_at=end + timedelta(hours=1))
            ended = sub("g", "canceled", current_period_end=end - timedelta(days=9))
            await add(db, due_a, due_b, later, billing, retry, not_yet, ended)
            inv = invoice(due_a, "k")
            old = payment(inv, 1, updated_at=end - timedelta(minutes=5))
            fresh = payment(inv, 2, updated_at=end)
            done = payment(inv, 3, status="succeeded", updated_at=end - timedelta(days=1))
            await add(db, inv, old, fresh, done)
            async with db.read() as s:
                assert list(await store.due_period_ends(s, end, 10)) == [due_a.id, due_b.id]
                assert list(await store.due_period_ends(s, end, 1)) == [due_a.id]
                assert list(await store.due_retries(s, end, 10)) == [retry.id]
                assert list(await store.stale_payments(s, end, 10)) == [old.id]
        finally:
            await db.close()

    asyncio.run(main())


def test_invoice_pages_are_newest_first_and_stable_on_ties(db_url: str) -> None:
    async def main() -> None:
        db = Database(db_url)
        try:
            owner = sub("a")
            rows = [
                invoice(owner, f"k{i}", T0 + timedelta(days=i // 2))  # pairs share a second
                for i in range(7)
            ]
            stranger = sub("b", "canceled")
            await add(db, owner, *rows, stranger, invoice(stranger, "other"))
            seen: list[str] = []
            after = None
            async with db.read() as s:
                while True:
                    page = list(await store.invoices_page(s, "a", 3, after))
                    seen += [i.id for i in page[:3]]
                    if len(page) <= 3:
                        break
                    last = page[2]
                    after = store.decode_cursor(store.encode_cursor(last.created_at, last.id))
            expected = sorted(rows, key=lambda i: (i.created_at, i.id), reverse=True)
            assert seen == [i.id for i in expected]
        finally:
            await db.close()

    asyncio.run(main())


def test_cursors_are_opaque_and_checked() -> None:
    cursor = store.encode_cursor(T0, "abc")
    assert "abc" not in cursor
    assert store.decode_cursor(cursor) == (T0, "abc")
    for bad in ("", "!!", "bm8", "YWJj", store.encode_cursor(T0, "x'; DROP\x00")):
        with pytest.raises(InvalidCursor, match=r"^cursor: "):
            store.decode_cursor(bad)


def test_plans_are_there_and_lockable(db_url: str) -> None:
    async def main() -> None:
        db = Database(db_url)
        try:
            async with db.write() as s:
                plan = await store.plan(s, "premium", lock=True)
                assert plan is not None
                assert (plan.max_streams, plan.max_height, plan.price_cents) == (4, 2160, 2299)
                plan.price_cents = 2399
            async with db.read() as s:
                assert [p.code for p in await store.plans(s)] == ["basic", "standard", "premium"]
                again = await store.plan(s, "premium")
                assert again is not None
                assert again.price_cents == 2399
                assert await store.plan(s, "gold") is None
        finally:
            await db.close()

    asyncio.run(main())
