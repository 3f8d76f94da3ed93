"""Console: sessions (server-side, shared by every worker), people's TOTP secrets (wrapped under the KEK) and
signed-off monthly access reviews.

Revision ID: 0005console
Revises: 0006seg
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005console"
down_revision = "0006seg"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mfa_pending", sa.Boolean(), nullable=False),
        sa.Column("mfa_failures", sa.Integer(), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(20), nullable=True),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.id"],
                                name="fk_console_sessions_principal_id_principals"),
        sa.PrimaryKeyConstraint("id", name="pk_console_sessions"),
    )
    op.create_index("ix_console_sessions_principal_id", "console_sessions", ["principal_id"])
    op.create_table(
        "principal_totp",
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("kek_version", sa.String(40), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.id"],
                                name="fk_principal_totp_principal_id_principals"),
        sa.PrimaryKeyConstraint("principal_id", name="pk_principal_totp"),
    )


    op.create_table(
        "access_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=True),
        sa.Column("reviewer_name", sa.String(100), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reference", sa.String(40), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_reviews"),
        sa.UniqueConstraint("principal_id", "month", name="uq_access_reviews_principal_month"),
    )
    op.create_index("ix_access_reviews_principal_id", "access_reviews", ["principal_id"])


def downgrade() -> None:
    op.drop_index("ix_access_reviews_principal_id", "access_reviews")
    op.drop_table("access_reviews")
    op.drop_table("principal_totp")
    op.drop_index("ix_console_sessions_principal_id", "console_sessions")
    op.drop_table("console_sessions")
