"""stream leases

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import matinee.db.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "playback_accounts",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", matinee.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_playback_accounts")),
    )
    op.create_table(
        "playback_leases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("title_id", sa.String(length=64), nullable=False),
        sa.Column("max_height", sa.Integer(), nullable=False),
        sa.Column("created_at", matinee.db.base.UTCDateTime(), nullable=False),
        sa.Column("renewed_at", matinee.db.base.UTCDateTime(), nullable=False),
        sa.Column("expires_at", matinee.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playback_leases")),
    )
    with op.batch_alter_table("playback_leases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_playback_leases_account_expires", ["account_id", "expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_playback_leases_account_device", ["account_id", "device_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("playback_leases", schema=None) as batch_op:
        batch_op.drop_index("ix_playback_leases_account_device")
        batch_op.drop_index("ix_playback_leases_account_expires")
    op.drop_table("playback_leases")
    op.drop_table("playback_accounts")
