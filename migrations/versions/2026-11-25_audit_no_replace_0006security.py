"""SQLite: INSERT OR REPLACE / REPLACE cannot rewrite an audit row.

A REPLACE deletes the conflicting row without firing DELETE triggers (unless the connection
turned ``recursive_triggers`` on), so the append-only triggers of 0001 did not stop it. A
BEFORE INSERT trigger refuses any insert whose key already exists, whatever the conflict
clause. PostgreSQL needs nothing here: ON CONFLICT DO UPDATE fires the UPDATE trigger, and
the service role has no UPDATE privilege on the audit tables (docs/operations.md).

Revision ID: 0006security
Revises: 0007cmp
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0006security"
down_revision = "0007cmp"
branch_labels = None
depends_on = None

KEYS = {
    "audit_log": "seq = NEW.seq",
    "audit_subjects": "seq = NEW.seq AND customer_id = NEW.customer_id",
    "audit_checkpoints": "seq = NEW.seq",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, match in KEYS.items():
        op.execute(
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {match}) "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in KEYS:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
