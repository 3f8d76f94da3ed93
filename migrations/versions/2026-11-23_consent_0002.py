"""Consent: append-only consent events, derived consent state, signed receipts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
APPEND_ONLY = ("consent_events", "consent_receipts")


def upgrade() -> None:
    op.create_table(
        "consent_receipts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_consent_receipts_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_consent_receipts"),
    )
    op.create_index("ix_consent_receipts_customer_id", "consent_receipts", ["customer_id"])
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("notice_version", sa.String(40), nullable=True),
        sa.Column("notice_hash", sa.String(64), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("actor_role", sa.String(40), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("evidence_ip", sa.LargeBinary(), nullable=True),
        sa.Column("evidence_user_agent", sa.LargeBinary(), nullable=True),
        sa.Column("evidence_key_version", sa.Integer(), nullable=True),
        sa.Column("receipt_id", sa.Uuid(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_consent_events_customer_id_customers"),
        sa.ForeignKeyConstraint(["receipt_id"], ["consent_receipts.id"],
                                name="fk_consent_events_receipt_id_consent_receipts"),
        sa.PrimaryKeyConstraint("id", name="pk_consent_events"),
    )
    op.create_index("ix_consent_events_customer_id", "consent_events", ["customer_id"])
    op.create_index("ix_consent_events_receipt_id", "consent_events", ["receipt_id"])
    op.create_table(
        "consent_state",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("granted_at", TS, nullable=True),
        sa.Column("notice_version", sa.String(40), nullable=True),
        sa.Column("notice_hash", sa.String(64), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_consent_state_customer_id_customers"),
        sa.PrimaryKeyConstraint("customer_id", "purpose", "channel", name="pk_consent_state"),
    )
    op.create_index("ix_consent_state_resolve", "consent_state", ["purpose", "channel", "status", "customer_id"])
    op.create_index("ix_consent_state_granted_at", "consent_state", ["purpose", "status", "granted_at"])
    _append_only_triggers()


def _append_only_triggers() -> None:
    """The database itself refuses UPDATE and DELETE on consent events and receipts (proof of consent)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION vault_consent_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'consent records are append-only (% on %)', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION vault_consent_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION vault_consent_append_only()"
            )
    else:
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS vault_consent_append_only()")
    else:
        for table in APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    for table in ("consent_state", "consent_events", "consent_receipts"):
        op.drop_table(table)
