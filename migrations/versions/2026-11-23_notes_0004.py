"""Customer notes: sealed original and sealed redacted copy, entity counts in clear.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("original", sa.LargeBinary(), nullable=False),
        sa.Column("redacted", sa.LargeBinary(), nullable=False),
        sa.Column("entity_counts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_customer_notes_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_customer_notes"),
    )
    op.create_index("ix_customer_notes_customer_id", "customer_notes", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_customer_notes_customer_id", "customer_notes")
    op.drop_table("customer_notes")
