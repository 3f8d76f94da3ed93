"""Data-quality flags on customer fields (e.g. a registration number whose check digit does not match).

Revision ID: 0005realworld
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005realworld"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_quality_flags",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_customer_quality_flags_customer_id_customers"),
        sa.PrimaryKeyConstraint("customer_id", "field", "code", name="pk_customer_quality_flags"),
    )
    op.create_index("ix_customer_quality_flags_code", "customer_quality_flags", ["code"])


def downgrade() -> None:
    op.drop_index("ix_customer_quality_flags_code", "customer_quality_flags")
    op.drop_table("customer_quality_flags")
