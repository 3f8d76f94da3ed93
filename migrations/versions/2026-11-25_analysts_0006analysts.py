"""Analysts: analysis projects (members, ε budget and ledger), extract jobs, DP statistics snapshots.

Revision ID: 0006analysts
Revises: 0006security
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006analysts"
down_revision = "0006security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_projects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(2000), nullable=True),
        sa.Column("epsilon_budget", sa.Float(), nullable=False),
        sa.Column("epsilon_spent", sa.Float(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_analysis_projects"),
        sa.UniqueConstraint("name", name="uq_analysis_projects_name"),
    )
    op.create_table(
        "analysis_project_members",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["analysis_projects.id"], ondelete="CASCADE",
                                name="fk_analysis_project_members_project_id_analysis_projects"),
        sa.PrimaryKeyConstraint("project_id", "principal_id", name="pk_analysis_project_members"),
    )
    op.create_index("ix_analysis_project_members_principal_id", "analysis_project_members", ["principal_id"])
    op.create_table(
        "epsilon_ledger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("query", sa.String(500), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["analysis_projects.id"], ondelete="CASCADE",
                                name="fk_epsilon_ledger_project_id_analysis_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_epsilon_ledger"),
    )
    op.create_index("ix_epsilon_ledger_project_id", "epsilon_ledger", ["project_id"])
    op.create_table(
        "extract_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("actor_role", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=True),
        sa.Column("file_name", sa.String(200), nullable=True),
        sa.Column("file_sha256", sa.String(64), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("runner", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["analysis_projects.id"], ondelete="CASCADE",
                                name="fk_extract_jobs_project_id_analysis_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_extract_jobs"),
    )
    op.create_index("ix_extract_jobs_project_id", "extract_jobs", ["project_id"])
    op.create_index("ix_extract_jobs_status", "extract_jobs", ["status"])
    op.create_index("ix_extract_jobs_created_at", "extract_jobs", ["created_at"])
    op.create_table(
        "stats_snapshots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("reference_date", sa.String(10), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("cells", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stats_snapshots"),
    )
    op.create_index("ix_stats_snapshots_created_at", "stats_snapshots", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_stats_snapshots_created_at", "stats_snapshots")
    op.drop_table("stats_snapshots")
    for name in ("created_at", "status", "project_id"):
        op.drop_index(f"ix_extract_jobs_{name}", "extract_jobs")
    op.drop_table("extract_jobs")
    op.drop_index("ix_epsilon_ledger_project_id", "epsilon_ledger")
    op.drop_table("epsilon_ledger")
    op.drop_index("ix_analysis_project_members_principal_id", "analysis_project_members")
    op.drop_table("analysis_project_members")
    op.drop_table("analysis_projects")
