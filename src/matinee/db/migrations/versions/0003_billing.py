"""plans, subscriptions, invoices and the payments ledger

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 11:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import matinee.db.base
from matinee.services.billing.plans import DEFAULT_PLANS

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = matinee.db.base.UTCDateTime


def upgrade() -> None:
    plans = op.create_table(
        "billing_plans",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("max_streams", sa.Integer(), nullable=False),
        sa.Column("max_height", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("updated_at", UTC_DATETIME(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_billing_plans")),
    )
    now = datetime.now(UTC).replace(microsecond=0)
    op.bulk_insert(
        plans,
        [
            {
                "code": p.code,
                "name": p.name,
                "max_streams": p.max_streams,
                "max_height": p.max_height,
                "price_cents": p.price_cents,
                "currency": p.currency,
                "updated_at": now,
            }
            for p in DEFAULT_PLANS
        ],
    )

    op.create_table(
        "billing_subscriptions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("live_account", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("plan_code", sa.String(length=16), nullable=False),
        sa.Column("pending_plan_code", sa.String(length=16), nullable=True),
        sa.Column("card_token", sa.String(length=100), nullable=False),
        sa.Column("card_brand", sa.String(length=20), nullable=False),
        sa.Column("card_last4", sa.String(length=4), nullable=False),
        sa.Column("card_exp_month", sa.Integer(), nullable=False),
        sa.Column("card_exp_year", sa.Integer(), nullable=False),
        sa.Column("anchor_at", UTC_DATETIME(), nullable=False),
        sa.Column("trial_end", UTC_DATETIME(), nullable=True),
        sa.Column("current_period_start", UTC_DATETIME(), nullable=False),
        sa.Column("current_period_end", UTC_DATETIME(), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("canceled_at", UTC_DATETIME(), nullable=True),
        sa.Column("past_due_since", UTC_DATETIME(), nullable=True),
        sa.Column("dunning_attempts", sa.Integer(), nullable=False),
        sa.Column("next_retry_at", UTC_DATETIME(), nullable=True),
        sa.Column("open_invoice_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTC_DATETIME(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_code"],
            ["billing_plans.code"],
            name=op.f("fk_billing_subscriptions_plan_code_billing_plans"),
        ),
        sa.ForeignKeyConstraint(
            ["pending_plan_code"],
            ["billing_plans.code"],
            name=op.f("fk_billing_subscriptions_pending_plan_code_billing_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_subscriptions")),
        sa.UniqueConstraint("live_account", name=op.f("uq_billing_subscriptions_live_account")),
    )
    with op.batch_alter_table("billing_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_billing_subscriptions_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            "ix_billing_subscriptions_status_period_end",
            ["status", "current_period_end"],
            unique=False,
        )
        batch_op.create_index(
            "ix_billing_subscriptions_status_next_retry_at",
            ["status", "next_retry_at"],
            unique=False,
        )

    op.create_table(
        "billing_invoices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("plan_code", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("period_start", UTC_DATETIME(), nullable=False),
        sa.Column("period_end", UTC_DATETIME(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME(), nullable=False),
        sa.Column("closed_at", UTC_DATETIME(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["billing_subscriptions.id"],
            name=op.f("fk_billing_invoices_subscription_id_billing_subscriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_code"],
            ["billing_plans.code"],
            name=op.f("fk_billing_invoices_plan_code_billing_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_invoices")),
        sa.UniqueConstraint("key", name=op.f("uq_billing_invoices_key")),
    )
    with op.batch_alter_table("billing_invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_billing_invoices_subscription_id"), ["subscription_id"], unique=False
        )
        batch_op.create_index(
            "ix_billing_invoices_account_id_created_at",
            ["account_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "billing_payments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("card_token", sa.String(length=100), nullable=False),
        sa.Column("card_last4", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_charge_id", sa.String(length=100), nullable=True),
        sa.Column("decline_code", sa.String(length=50), nullable=True),
        sa.Column("provider_calls", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME(), nullable=False),
        sa.Column("settled_at", UTC_DATETIME(), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["billing_invoices.id"],
            name=op.f("fk_billing_payments_invoice_id_billing_invoices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_payments")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_billing_payments_idempotency_key")),
        sa.UniqueConstraint("invoice_id", "attempt", name=op.f("uq_billing_payments_invoice_id")),
    )
    with op.batch_alter_table("billing_payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_billing_payments_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            "ix_billing_payments_status_updated_at", ["status", "updated_at"], unique=False
        )

    op.create_table(
        "billing_idempotency_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("locked_until", UTC_DATETIME(), nullable=True),
        sa.Column("subscription_id", sa.String(length=36), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", UTC_DATETIME(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_idempotency_keys")),
        sa.UniqueConstraint(
            "account_id", "key", name=op.f("uq_billing_idempotency_keys_account_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("billing_idempotency_keys")
    op.drop_table("billing_payments")
    op.drop_table("billing_invoices")
    op.drop_table("billing_subscriptions")
    op.drop_table("billing_plans")
