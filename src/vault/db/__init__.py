"""Database plumbing: engines, sessions, shared metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lib.lazy import lazy_exports

if TYPE_CHECKING:
    from vault.db.base import Base, metadata
    from vault.db.engine import Database, async_url, is_postgres, sync_url

# name -> module: each is imported on first use (PEP 562), so importing one submodule does not
# import the whole package (command start, tests/bench/test_cli_start_bench.py).
_EXPORTS = {
    "Base": "vault.db.base",
    "metadata": "vault.db.base",
    "Database": "vault.db.engine",
    "async_url": "vault.db.engine",
    "is_postgres": "vault.db.engine",
    "sync_url": "vault.db.engine",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = ["Base", "Database", "async_url", "is_postgres", "metadata", "sync_url"]
