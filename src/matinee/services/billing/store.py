"""Persistence: the billing queries, each run in a session the caller's transaction owns.

Reads that are followed by a change take ``lock=True`` (``SELECT ... FOR UPDATE`` on PostgreSQL
and MySQL; SQLite's write transactions are serialized by ``BEGIN IMMEDIATE`` already), so two
requests or renewal runs that race over one subscription or payment take turns.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Select, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from matinee.services.billing.errors import InvalidCursor
from matinee.services.billing.models import (
    IdempotencyRecord,
    Invoice,
    Payment,
    Plan,
    Subscription,
)
from matinee.services.billing.states import VISIBLE, Status

T = TypeVar("T")

_VISIBLE = sorted(str(s) for s in VISIBLE)
_ROW_ID = re.compile(r"[0-9a-f-]{1,36}")  # our ids are UUIDs


def _locked(stmt: Select[T], lock: bool) -> Select[T]:
    return stmt.with_for_update() if lock else stmt


# --- plans


async def plans(s: AsyncSession) -> Sequence[Plan]:
    """Every plan, smallest first."""
    rows = await s.scalars(select(Plan).order_by(Plan.max_streams, Plan.code))
    return rows.all()


async def plan(s: AsyncSession, code: str, *, lock: bool = False) -> Plan | None:
    return await s.scalar(_locked(select(Plan).where(Plan.code == code), lock))


# --- subscriptions


async def subscription(s: AsyncSession, sub_id: str, *, lock: bool = False) -> Subscription | None:
    return await s.scalar(_locked(select(Subscription).where(Subscription.id == sub_id), lock))


async def live_subscription(
    s: AsyncSession, account_id: str, *, lock: bool = False
) -> Subscription | None:
    """The account's live subscription (incomplete, trialing, active or past due), if any."""
    stmt = select(Subscription).where(Subscription.live_account == account_id)
    return await s.scalar(_locked(stmt, lock))


async def current_subscription(
    s: AsyncSession, account_id: str, *, lock: bool = False
) -> Subscription | None:
    """What the member sees: the live subscription, else the last one that was canceled
    (never an incomplete or expired signup)."""
    stmt = (
        select(Subscription)
        .where(Subscription.account_id == account_id, Subscription.status.in_(_VISIBLE))
        .order_by(
            case((Subscription.live_account.is_(None), 1), else_=0),
            Subscription.created_at.desc(),
            Subscription.id.desc(),
        )
        .limit(1)
    )
    return await s.scalar(_locked(stmt, lock))


async def had_subscription(s: AsyncSession, account_id: str) -> bool:
    """Whether the account ever had a subscription that started (trials are for newcomers)."""
    stmt = select(func.count()).where(
        Subscription.account_id == account_id, Subscription.status.in_(_VISIBLE)
    )
    return bool(await s.scalar(stmt))


async def due_period_ends(s: AsyncSession, now: datetime, limit: int) -> Sequence[str]:
    """Trialing and active subscriptions whose period ended and that have no renewal invoice."""
    stmt = (
        select(Subscription.id)
        .where(
            Subscription.status.in_([Status.TRIALING.value, Status.ACTIVE.value]),
            Subscription.current_period_end <= now,
            Subscription.open_invoice_id.is_(None),
        )
        .order_by(Subscription.current_period_end)
        .limit(limit)
    )
    return (await s.scalars(stmt)).all()


async def due_retries(s: AsyncSession, now: datetime, limit: int) -> Sequence[str]:
    """Past-due subscriptions whose next dunning retry is due."""
    stmt = (
        select(Subscription.id)
        .where(Subscription.status == Status.PAST_DUE.value, Subscription.next_retry_at <= now)
        .order_by(Subscription.next_retry_at)
        .limit(limit)
    )
    return (await s.scalars(stmt)).all()


# --- invoices and payments


async def invoice(s: AsyncSession, invoice_id: str, *, lock: bool = False) -> Invoice | None:
    return await s.scalar(_locked(select(Invoice).where(Invoice.id == invoice_id), lock))


async def invoice_by_key(s: AsyncSession, key: str) -> Invoice | None:
    return await s.scalar(select(Invoice).where(Invoice.key == key))


async def void_upgrades(s: AsyncSession, sub_id: str, period_start: datetime, plan: str) -> int:
    """How many upgrades to ``plan`` in this period failed (each retry gets a fresh key)."""
    stmt = select(func.count()).where(
        Invoice.subscription_id == sub_id,
        Invoice.reason == "upgrade",
        Invoice.period_start == period_start,
        Invoice.plan_code == plan,
        Invoice.status == "void",
    )
    return int(await s.scalar(stmt) or 0)


async def payment(s: AsyncSession, payment_id: str, *, lock: bool = False) -> Payment | None:
    return await s.scalar(_locked(select(Payment).where(Payment.id == payment_id), lock))


async def latest_payment(s: AsyncSession, invoice_id: str) -> Payment | None:
    stmt = (
        select(Payment)
        .where(Payment.invoice_id == invoice_id)
        .order_by(Payment.attempt.desc())
        .limit(1)
    )
    return await s.scalar(stmt)


async def payments_of(s: AsyncSession, invoice_id: str) -> Sequence[Payment]:
    stmt = select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.attempt)
    return (await s.scalars(stmt)).all()


async def stale_payments(s: AsyncSession, before: datetime, limit: int) -> Sequence[str]:
    """Payments still pending (the provider gave no answer) last touched before ``before``."""
    stmt = (
        select(Payment.id)
        .where(Payment.status == "pending", Payment.updated_at < before)
        .order_by(Payment.updated_at)
        .limit(limit)
    )
    return (await s.scalars(stmt)).all()


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = f"{int(created_at.timestamp())}:{row_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises InvalidCursor for anything :func:`encode_cursor` did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        seconds, row_id = raw.split(":", 1)
        at = datetime.fromtimestamp(int(seconds), UTC)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError, OSError) as exc:
        raise InvalidCursor("cursor: this is not a cursor from this list.") from exc
    if not _ROW_ID.fullmatch(row_id):
        raise InvalidCursor("cursor: this is not a cursor from this list.")
    return at, row_id


async def invoices_page(
    s: AsyncSession, account_id: str, limit: int, after: tuple[datetime, str] | None
) -> Sequence[Invoice]:
    """The account's invoices, newest first, from after the cursor; ``limit + 1`` rows at most
    (the extra one says there is a next page)."""
    stmt = select(Invoice).where(Invoice.account_id == account_id)
    if after is not None:
        at, row_id = after
        stmt = stmt.where(
            (Invoice.created_at < at) | ((Invoice.created_at == at) & (Invoice.id < row_id))
        )
    stmt = stmt.order_by(Invoice.created_at.desc(), Invoice.id.desc()).limit(limit + 1)
    return (await s.scalars(stmt)).all()


# --- idempotency records


async def idempotency(
    s: AsyncSession, account_id: str, key: str, *, lock: bool = False
) -> IdempotencyRecord | None:
    stmt = select(IdempotencyRecord).where(
        IdempotencyRecord.account_id == account_id, IdempotencyRecord.key == key
    )
    return await s.scalar(_locked(stmt, lock))


async def release_idempotency(s: AsyncSession, record_id: int, now: datetime) -> None:
    """Give the key up without an answer, so the next retry may take over at once."""
    await s.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id, IdempotencyRecord.response_status.is_(None))
        .values(locked_until=None, updated_at=now)
    )


async def prune_idempotency(s: AsyncSession, before: datetime, now: datetime) -> int:
    """Forget Idempotency-Key records made before ``before`` that nobody holds now."""
    result = await s.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.created_at < before,
            IdempotencyRecord.locked_until.is_(None) | (IdempotencyRecord.locked_until < now),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
