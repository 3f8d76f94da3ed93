"""PostgreSQL role separation: the service runs under a role that cannot rewrite the audit log.

The schema (and so the append-only triggers) belongs to the owner role that runs migrations.
The service role gets ordinary read/write privileges on the domain tables but only INSERT and
SELECT on the audit tables: it cannot UPDATE, DELETE or TRUNCATE them, and, not being their
owner, cannot ``ALTER TABLE ... DISABLE TRIGGER`` either. ``vault init`` applies the grants
(again after every migration, since new tables need them); see docs/operations.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text

from vault.errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

AUDIT_TABLES = ("audit_log", "audit_subjects", "audit_checkpoints")


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def service_role_statements(role: str, schema: str = "public") -> list[str]:
    """The GRANT/REVOKE statements that give ``role`` what the service needs, and no more."""
    r, s = quote_ident(role), quote_ident(schema)
    audit = ", ".join(f"{s}.{t}" for t in AUDIT_TABLES)
    return [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON {audit} FROM {r}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {s}.alembic_version FROM {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
    ]


class ServiceRoleError(ConfigurationError):
    """The service role is missing, or could rewrite the audit log anyway (superuser, owner)."""


def grant_service_role(conn: Connection, role: str) -> None:
    """Apply :func:`service_role_statements` on ``conn`` (an owner connection to the vault database).

    Raises:
        ServiceRoleError: the role does not exist, is a superuser, or owns the audit tables.
    """
    found = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if found is None:
        raise ServiceRoleError(f"PostgreSQL role {role!r} does not exist; create it first (docs/operations.md)")
    if found[0]:
        raise ServiceRoleError(f"PostgreSQL role {role!r} is a superuser: it could disable the audit triggers")
    owner = conn.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'")).scalar()
    if owner == role:
        raise ServiceRoleError(f"PostgreSQL role {role!r} owns the audit tables; run migrations as another role")
    for statement in service_role_statements(role):
        conn.execute(text(statement))
