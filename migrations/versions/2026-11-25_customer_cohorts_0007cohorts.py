"""Customer cohorts: recorded membership of a statute's cohort (e.g. prize winners), for purpose-bound
collection of statute-only fields (PIPA Art. 24-2).

Revision ID: 0007cohorts
Revises: 0006analysts
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007cohorts"
down_revision = "0006analysts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_cohorts",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("cohort", sa.String(40), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_customer_cohorts_customer_id_customers"),
        sa.PrimaryKeyConstraint("customer_id", "cohort", name="pk_customer_cohorts"),
    )
    op.create_index("ix_customer_cohorts_cohort", "customer_cohorts", ["cohort"])


def downgrade() -> None:
    op.drop_index("ix_customer_cohorts_cohort", "customer_cohorts")
    op.drop_table("customer_cohorts")
