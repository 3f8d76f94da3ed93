"""PostgreSQL: audit_subjects rows are checked against audit_log once per statement, not per row.

The foreign key audit_subjects.seq -> audit_log.seq made PostgreSQL run one referential-integrity
trigger (an index probe with a row lock) for every subject row: two thirds of the time of an extract's
800,000-row subject insert. A statement-level AFTER INSERT trigger over the statement's new rows
(a transition table) refuses the same rows - any whose seq names no audit_log entry - with the same
SQLSTATE (23503 foreign_key_violation), once per statement. audit_log rows are never deleted or
renumbered (the append-only triggers of 0001), so the delete side of the foreign key checked nothing.
SQLite keeps its foreign key: its check is a cheap probe inside the same statement.

Revision ID: 0010subjects
Revises: 0009archive
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0010subjects"
down_revision = "0009archive"
branch_labels = None
depends_on = None

FK = "fk_audit_subjects_seq_audit_log"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION vault_audit_subjects_have_entry() RETURNS trigger AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM (SELECT DISTINCT seq FROM new_subjects) AS n
                       WHERE NOT EXISTS (SELECT 1 FROM audit_log AS l WHERE l.seq = n.seq)) THEN
                RAISE EXCEPTION 'audit_subjects rows must belong to an audit_log entry'
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER audit_subjects_have_entry AFTER INSERT ON audit_subjects "
        "REFERENCING NEW TABLE AS new_subjects FOR EACH STATEMENT EXECUTE FUNCTION vault_audit_subjects_have_entry()"
    )
    op.drop_constraint(FK, "audit_subjects", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_foreign_key(FK, "audit_subjects", "audit_log", ["seq"], ["seq"])
    op.execute("DROP TRIGGER IF EXISTS audit_subjects_have_entry ON audit_subjects")
    op.execute("DROP FUNCTION IF EXISTS vault_audit_subjects_have_entry()")
