"""Data subject rights: requests registry, rectification history, restriction/objection flags,
erasure tombstones, versioned blind indexes (index-key rotation).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("index_version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("restricted_at", TS, nullable=True))
        batch.add_column(sa.Column("restriction_request_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("objected_marketing_at", TS, nullable=True))
        batch.add_column(sa.Column("erasure_request_id", sa.Uuid(), nullable=True))
    op.create_index("ix_customers_kek_version", "customers", ["kek_version"])
    op.create_index("ix_customers_index_version", "customers", ["index_version"])
    op.create_index("ix_customers_status_deleted_at", "customers", ["status", "deleted_at"])
    with op.batch_alter_table("customer_index") as batch:
        batch.add_column(sa.Column("key_version", sa.Integer(), nullable=False, server_default="1"))
    op.create_index("ix_customer_index_key_version", "customer_index", ["key_version"])

    op.create_table(
        "rights_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("jurisdiction", sa.String(8), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("extended", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(20), nullable=True),
        sa.Column("handler_id", sa.Uuid(), nullable=True),
        sa.Column("handler_name", sa.String(100), nullable=True),
        sa.Column("outcome", sa.String(500), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rights_requests"),
    )
    op.create_index("ix_rights_requests_customer_id", "rights_requests", ["customer_id"])
    op.create_index("ix_rights_requests_status_due_at", "rights_requests", ["status", "due_at"])

    op.create_table(
        "customer_field_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("dek_version", sa.Integer(), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("actor_role", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_customer_field_history_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_customer_field_history"),
    )
    op.create_index("ix_customer_field_history_customer_id", "customer_field_history", ["customer_id"])


def downgrade() -> None:
    op.drop_table("customer_field_history")
    op.drop_table("rights_requests")
    op.drop_index("ix_customer_index_key_version", "customer_index")
    with op.batch_alter_table("customer_index") as batch:
        batch.drop_column("key_version")
    for ix in ("ix_customers_status_deleted_at", "ix_customers_index_version", "ix_customers_kek_version"):
        op.drop_index(ix, "customers")
    with op.batch_alter_table("customers") as batch:
        for col in ("erasure_request_id", "objected_marketing_at", "restriction_request_id", "restricted_at",
                    "index_version"):
            batch.drop_column(col)
