"""Alembic environment: runs revisions with a synchronous driver.

The database URL is taken from ``-x url=...``, then ``config.attributes["url"]``
(set by ``vault init`` and the tests), then ``VAULT_DATABASE_URL``.
Revisions never import live models.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, event, pool

from vault.db.engine import sqlite_pragmas, sync_url

config = context.config


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get("url")
    return sync_url(url or os.environ.get("VAULT_DATABASE_URL", "sqlite:///var/vault.db"))


def run_migrations_offline() -> None:
    context.configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas)
    with engine.connect() as conn:
        context.configure(connection=conn, render_as_batch=engine.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
