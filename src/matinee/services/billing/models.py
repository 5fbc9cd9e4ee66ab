"""The billing service's tables: plans, subscriptions, invoices, the payments ledger and the
Idempotency-Key records of member requests.

Uniqueness does the concurrency work, portably on SQLite, PostgreSQL and MySQL:

* ``billing_subscriptions.live_account`` holds the account id while the subscription is live
  and NULL once it ended (NULLs never collide), so an account has at most one live subscription;
* ``billing_invoices.key`` names what an invoice is for (``renewal:<sub>:<period start>``), so a
  period is invoiced once whatever races;
* ``billing_payments.idempotency_key`` (``<invoice>:<attempt>``) is the key sent to the
  provider, so an attempt is charged at most once;
* ``billing_idempotency_keys`` (account, key) records a member's request and its answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from matinee.db.base import Base, UTCDateTime

ACCOUNT_ID_LEN = 64
KEY_LEN = 200


class Plan(Base):
    __tablename__ = "billing_plans"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    max_streams: Mapped[int] = mapped_column(Integer)
    max_height: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Subscription(Base):
    __tablename__ = "billing_subscriptions"
    __table_args__ = (
        Index("ix_billing_subscriptions_status_period_end", "status", "current_period_end"),
        Index("ix_billing_subscriptions_status_next_retry_at", "status", "next_retry_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LEN), index=True)
    live_account: Mapped[str | None] = mapped_column(String(ACCOUNT_ID_LEN), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    plan_code: Mapped[str] = mapped_column(ForeignKey("billing_plans.code"))
    pending_plan_code: Mapped[str | None] = mapped_column(ForeignKey("billing_plans.code"))
    card_token: Mapped[str] = mapped_column(String(100))
    card_brand: Mapped[str] = mapped_column(String(20))
    card_last4: Mapped[str] = mapped_column(String(4))
    card_exp_month: Mapped[int] = mapped_column(Integer)
    card_exp_year: Mapped[int] = mapped_column(Integer)
    anchor_at: Mapped[datetime] = mapped_column(UTCDateTime)
    trial_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dunning_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The renewal invoice being collected (set when a period ends, cleared once it is paid or
    # the subscription ends); no foreign key, so the two tables do not point at each other.
    open_invoice_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Invoice(Base):
    __tablename__ = "billing_invoices"
    __table_args__ = (
        Index("ix_billing_invoices_account_id_created_at", "account_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LEN), unique=True)
    account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LEN))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("billing_subscriptions.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # signup | renewal | upgrade
    plan_code: Mapped[str] = mapped_column(ForeignKey("billing_plans.code"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # open | paid | void | uncollectible
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Payment(Base):
    """One charge attempt: recorded before the provider is called, settled after."""

    __tablename__ = "billing_payments"
    __table_args__ = (
        UniqueConstraint("invoice_id", "attempt"),
        Index("ix_billing_payments_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("billing_invoices.id"))
    account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LEN), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(KEY_LEN), unique=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    card_token: Mapped[str] = mapped_column(String(100))
    card_last4: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | declined | failed
    provider_charge_id: Mapped[str | None] = mapped_column(String(100))
    decline_code: Mapped[str | None] = mapped_column(String(50))
    provider_calls: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyRecord(Base):
    """A member request made with an Idempotency-Key, and its final answer once there is one."""

    __tablename__ = "billing_idempotency_keys"
    __table_args__ = (UniqueConstraint("account_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LEN))
    key: Mapped[str] = mapped_column(String(KEY_LEN))
    fingerprint: Mapped[str] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    subscription_id: Mapped[str | None] = mapped_column(String(36))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
