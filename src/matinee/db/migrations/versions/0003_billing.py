"""plans, subscriptions, invoices and the payments ledger

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 11:00:00
"""

from collections.abc import Sequence

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by the billing service's change


def downgrade() -> None:
    pass
