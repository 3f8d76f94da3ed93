"""Segments: transactions, interactions, department labels, segment versions, events, snapshots.

Behaviour tables hold no PII: customer ids, timestamps, amounts and codes only.

Revision ID: 0005seg
Revises: 0006cmp
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005seg"
down_revision = "0006cmp"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                   name=f"fk_{table}_customer_id_customers")


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kst_day", sa.Integer(), nullable=False),
        sa.Column("amount_krw", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("returned", sa.Boolean(), nullable=False),
        sa.Column("row_digest", sa.LargeBinary(16), nullable=False),
        _customer_fk("transactions"),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
        sa.UniqueConstraint("row_digest", name="uq_transactions_row_digest"),
    )
    op.create_index("ix_transactions_customer_day", "transactions", ["customer_id", "kst_day"])
    op.create_table(
        "interactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kst_day", sa.Integer(), nullable=False),
        sa.Column("row_digest", sa.LargeBinary(16), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _customer_fk("interactions"),
        sa.PrimaryKeyConstraint("id", name="pk_interactions"),
        sa.UniqueConstraint("row_digest", name="uq_interactions_row_digest"),
    )
    op.create_index("ix_interactions_customer_day", "interactions", ["customer_id", "kst_day"])
    op.create_table(
        "customer_labels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("reason_code", sa.String(60), nullable=False),
        sa.Column("set_by_id", sa.Uuid(), nullable=True),
        sa.Column("set_by", sa.String(100), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_by", sa.String(100), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        _customer_fk("customer_labels"),
        sa.PrimaryKeyConstraint("id", name="pk_customer_labels"),
    )
    op.create_index("ix_customer_labels_customer", "customer_labels", ["customer_id", "cleared_at"])
    op.create_index("ix_customer_labels_label", "customer_labels", ["label", "cleared_at"])
    op.create_table(
        "segment_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("targeting", sa.Boolean(), nullable=False),
        sa.Column("owner_department", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_segment_versions"),
        sa.UniqueConstraint("name", "version", name="uq_segment_versions_name_version"),
    )
    op.create_table(
        "segment_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["segment_versions.id"],
                                name="fk_segment_events_version_id_segment_versions"),
        sa.PrimaryKeyConstraint("id", name="pk_segment_events"),
    )
    op.create_index("ix_segment_events_version_id", "segment_events", ["version_id"])
    op.create_table(
        "segment_snapshots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["segment_versions.id"],
                                name="fk_segment_snapshots_version_id_segment_versions"),
        sa.PrimaryKeyConstraint("id", name="pk_segment_snapshots"),
    )
    op.create_index("ix_segment_snapshots_version", "segment_snapshots", ["version_id", "created_at"])
    op.create_table(
        "segment_snapshot_members",
        sa.Column("snapshot_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("quadrant", sa.String(24), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["segment_snapshots.id"], ondelete="CASCADE",
                                name="fk_segment_snapshot_members_snapshot_id_segment_snapshots"),
        sa.PrimaryKeyConstraint("snapshot_id", "customer_id", name="pk_segment_snapshot_members"),
    )


def downgrade() -> None:
    op.drop_table("segment_snapshot_members")
    op.drop_index("ix_segment_snapshots_version", "segment_snapshots")
    op.drop_table("segment_snapshots")
    op.drop_index("ix_segment_events_version_id", "segment_events")
    op.drop_table("segment_events")
    op.drop_table("segment_versions")
    op.drop_index("ix_customer_labels_label", "customer_labels")
    op.drop_index("ix_customer_labels_customer", "customer_labels")
    op.drop_table("customer_labels")
    op.drop_index("ix_interactions_customer_day", "interactions")
    op.drop_table("interactions")
    op.drop_index("ix_transactions_customer_day", "transactions")
    op.drop_table("transactions")
