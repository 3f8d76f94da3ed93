"""Consent notifications sent (reconfirmation every 2 years, result within 14 days).

Revision ID: 0007cmp
Revises: 0005console
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007cmp"
down_revision = "0005console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_notifications",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("customer_id", sa.Uuid(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_consent_notifications_customer_id", "consent_notifications", ["customer_id"])
    op.create_index("ix_consent_notifications_event_id", "consent_notifications", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_consent_notifications_event_id", "consent_notifications")
    op.drop_index("ix_consent_notifications_customer_id", "consent_notifications")
    op.drop_table("consent_notifications")
