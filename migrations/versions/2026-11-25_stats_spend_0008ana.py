"""Statistics snapshots keep per-cell spend for DP bounded sums and means.

Revision ID: 0008ana
Revises: 0007cohorts
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008ana"
down_revision = "0007cohorts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stats_snapshots") as batch:
        batch.add_column(sa.Column("spend", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stats_snapshots") as batch:
        batch.drop_column("spend")
