"""Second approval of PII-capable principals; key issuers; key prefix and issuer on audit entries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("principals") as t:
        t.add_column(sa.Column("status", sa.String(20), nullable=False, server_default="active"))
        t.add_column(sa.Column("created_by", sa.String(140), nullable=True))
        t.add_column(sa.Column("approved_by", sa.Uuid(), nullable=True))
        t.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("api_keys") as t:
        t.add_column(sa.Column("issued_by", sa.String(140), nullable=True))
    # audit_log is append-only (triggers refuse UPDATE/DELETE); adding nullable columns rewrites nothing.
    op.add_column("audit_log", sa.Column("key_prefix", sa.String(32), nullable=True))
    op.add_column("audit_log", sa.Column("key_issuer", sa.String(140), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_log", "key_issuer")
    op.drop_column("audit_log", "key_prefix")
    with op.batch_alter_table("api_keys") as t:
        t.drop_column("issued_by")
    with op.batch_alter_table("principals") as t:
        t.drop_column("approved_at")
        t.drop_column("approved_by")
        t.drop_column("created_by")
        t.drop_column("status")
