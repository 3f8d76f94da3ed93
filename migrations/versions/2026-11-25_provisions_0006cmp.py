"""Provision log: disclosures to third parties and transfers abroad (issue 12, section 5);
the reason a GDPR request's deadline was extended; the published consent notices (hash of each
version's canonical disclosure, first seen).

Revision ID: 0006cmp
Revises: 0005realworld
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006cmp"
down_revision = "0005realworld"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provisions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("items", sa.String(500), nullable=False),
        sa.Column("mechanism", sa.String(40), nullable=False),
        sa.Column("legal_basis", sa.String(40), nullable=False),
        sa.Column("notice_version", sa.String(40), nullable=True),
        sa.Column("provided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_provisions_customer_id", "provisions", ["customer_id"])
    op.create_index("ix_provisions_provided_at", "provisions", ["provided_at"])
    op.create_table(
        "consent_notices",
        sa.Column("purpose", sa.String(60), primary_key=True),
        sa.Column("version", sa.String(40), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("rights_requests") as t:
        t.add_column(sa.Column("extension_reason", sa.String(30), nullable=True))


def downgrade() -> None:
    op.drop_table("consent_notices")
    with op.batch_alter_table("rights_requests") as t:
        t.drop_column("extension_reason")
    op.drop_index("ix_provisions_provided_at", "provisions")
    op.drop_index("ix_provisions_customer_id", "provisions")
    op.drop_table("provisions")
