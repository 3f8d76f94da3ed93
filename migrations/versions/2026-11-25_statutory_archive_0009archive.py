"""Statutory archive: fields kept only because a law requires it, separately keyed (issue 12 §3).

Revision ID: 0009archive
Revises: 0008ana
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009archive"
down_revision = "0008ana"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statutory_archive",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("statute", sa.String(60), nullable=False),
        sa.Column("fields", sa.String(500), nullable=False),
        sa.Column("kek_version", sa.String(40), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroy_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_statutory_archive"),
    )
    op.create_index("ix_statutory_archive_customer_id", "statutory_archive", ["customer_id"])
    op.create_index("ix_statutory_archive_destroy_after", "statutory_archive", ["destroy_after"])


def downgrade() -> None:
    op.drop_index("ix_statutory_archive_destroy_after", "statutory_archive")
    op.drop_index("ix_statutory_archive_customer_id", "statutory_archive")
    op.drop_table("statutory_archive")
