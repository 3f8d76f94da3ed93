"""Segments: the per-customer feature aggregate reads a covering index (customer, day, returned, amount).

Revision ID: 0006seg
Revises: 0005seg
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0006seg"
down_revision = "0005seg"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_transactions_customer_day", "transactions")
    op.create_index("ix_transactions_customer_day", "transactions",
                    ["customer_id", "kst_day", "returned", "amount_krw"])


def downgrade() -> None:
    op.drop_index("ix_transactions_customer_day", "transactions")
    op.create_index("ix_transactions_customer_day", "transactions", ["customer_id", "kst_day"])
