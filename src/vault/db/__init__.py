"""Database plumbing: engines, sessions, shared metadata."""

from vault.db.base import Base, metadata
from vault.db.engine import Database, async_url, is_postgres, sync_url

__all__ = ["Base", "Database", "async_url", "is_postgres", "metadata", "sync_url"]
