"""Key rotation as the CLI runs it: the job that owns the transactions (see :mod:`vault.keys.rotation`).

Every step opens its own short transaction around one :class:`~vault.keys.rotation.KeyRotationService` call,
or, for the DEK rewrap, a synchronous driver connection (in a thread) that commits each keyset batch: one
SELECT outside any write transaction, the batch rewrapped by the provider in one call, one short write
transaction with one executemany (SQLite) or UPDATE ... FROM unnest (PostgreSQL). Each step is audited
(``key.*``, versions and counts only).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.pool import NullPool

from vault.audit.entry import Actor, AuditEvent, Outcome
from vault.crypto.envelope import dek_label
from vault.crypto.keys import WrappedKey
from vault.db.engine import sqlite_pragmas, sync_url
from vault.keys.errors import KeyInUseError
from vault.keys.rotation import KeyRotationService, index_batch

if TYPE_CHECKING:
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.crypto.keys import KeyProvider
    from vault.db.engine import Database
    from vault.keys.rotation import KeyStatus
    from vault.policy.catalogue import FieldCatalogue

Progress = Callable[[int], None]
MAX_PASSES = 50

# One pending DEK: (keyset key, DEK label, KEK version, wrapped blob).
_Pending = tuple[Any, str, str, bytes]


class _SqliteBatches:
    """Rewrap batches on a pysqlite connection (ids stored as 32 hex digits: no per-row conversion)."""

    def __init__(self, dbapi: Any) -> None:
        dbapi.isolation_level = None  # BEGIN IMMEDIATE below, not pysqlite's deferred BEGIN
        self._cur = dbapi.cursor()

    def pending(self, current: str, after: Any, limit: int) -> list[_Pending]:
        self._cur.execute("SELECT id, kek_version, wrapped_dek FROM customers WHERE kek_version IS NOT NULL "
                          "AND kek_version != ? AND id > ? ORDER BY id LIMIT ?", (current, after, limit))
        return [(hex_id, "dek:" + hex_id, v, b) for hex_id, v, b in self._cur.fetchall()]

    def store(self, rows: list[_Pending], new: list[WrappedKey]) -> None:
        cur = self._cur
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.executemany("UPDATE customers SET kek_version = ?, wrapped_dek = ? WHERE id = ? AND kek_version = ?",
                            [(w.kek_version, w.blob, r[0], r[2]) for r, w in zip(rows, new, strict=True)])
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")


class _PostgresBatches:
    """Rewrap batches on a psycopg connection."""

    def __init__(self, dbapi: Any) -> None:
        self._conn = dbapi

    def pending(self, current: str, after: Any, limit: int) -> list[_Pending]:
        with self._conn.cursor() as cur:
            cur.execute("SELECT id, kek_version, wrapped_dek FROM customers WHERE kek_version IS NOT NULL "
                        "AND kek_version <> %s AND (%s::uuid IS NULL OR id > %s::uuid) ORDER BY id LIMIT %s",
                        (current, after or None, after or None, limit))
            rows = cur.fetchall()
        self._conn.commit()
        return [(cid, dek_label(cid), v, bytes(b)) for cid, v, b in rows]

    def store(self, rows: list[_Pending], new: list[WrappedKey]) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE customers AS c SET kek_version = v.new, wrapped_dek = v.blob "
                "FROM unnest(%s::uuid[], %s::varchar[], %s::varchar[], %s::bytea[]) AS v(id, old, new, blob) "
                "WHERE c.id = v.id AND c.kek_version = v.old",
                ([r[0] for r in rows], [r[2] for r in rows], [w.kek_version for w in new], [w.blob for w in new]))
        self._conn.commit()


class KeyRotation:
    """Rotates KEK versions and blind-index keys in resumable batches, each step in its own transaction(s)."""

    def __init__(self, db: Database, provider: KeyProvider, *, batch_size: int = 5000,
                 audit: AuditLog | None = None, actor: Actor | None = None) -> None:
        self._db = db
        self._provider = provider
        self._batch = batch_size
        self._audit = audit
        self._actor = actor or Actor.cli()

    async def _record(self, action: str, detail: str) -> None:
        """Audit a key-management step (``key.*``): versions and counts only."""
        if self._audit is not None:
            await self._audit.record_durable(AuditEvent(action, Outcome.ALLOWED, self._actor, detail=detail))

    async def add_version(self) -> str:
        """Create a new KEK version and make it current (audited ``key.kek_rotate``); returns it."""
        previous = self._provider.current_version
        version = self._provider.add_version()
        await self._record("key.kek_rotate", f"version={version} previous={previous}")
        return version

    async def status(self) -> KeyStatus:
        """KEK versions with how many DEKs and system keys each wraps; index versions with their customers."""
        async with self._db.read() as session:
            return await KeyRotationService(session, self._provider).status()

    async def pending(self) -> int:
        """DEKs not under the current KEK version."""
        async with self._db.read() as session:
            return await KeyRotationService(session, self._provider).pending()

    async def rotate(self, *, progress: Progress | None = None) -> str:
        """Create a new KEK version, make it current, and rewrap everything under it; returns the version."""
        version = await self.add_version()
        await self.rewrap(progress=progress)
        return version

    async def rewrap(self, *, progress: Progress | None = None, limit: int | None = None) -> int:
        """Rewrap every DEK and system key not under the current KEK version (resumable).

        Args:
            progress: called with the number rewrapped after each batch.
            limit: stop after about this many DEKs (tests interrupt a rotation half-way with it).

        Returns:
            How many DEKs were rewrapped.
        """
        self._provider.refresh()
        current = self._provider.current_version
        async with self._db.write() as session:
            await KeyRotationService(session, self._provider).rewrap_system_keys()
        total, complete = await asyncio.to_thread(self._rewrap_deks, current, progress, limit)
        await self._record("key.kek_rewrap", f"version={current} rewrapped={total} complete={str(complete).lower()}")
        return total

    def _rewrap_deks(self, current: str, progress: Progress | None, limit: int | None) -> tuple[int, bool]:
        """The DEK passes, on the synchronous driver (in a thread, so a serving event loop is not blocked).

        Each batch: one keyset SELECT of (id, version, blob) outside any write transaction, the batch
        unwrapped and wrapped by the provider in one call, then one short write transaction with one
        driver-level executemany (SQLite) or UPDATE ... FROM unnest(arrays) (PostgreSQL), each row updated
        only if it is still under the version that was read.

        Returns:
            (DEKs rewrapped, whether no DEK is left under an older version)
        """
        engine = create_engine(sync_url(self._db.url), poolclass=NullPool)
        if not self._db.is_postgres:
            event.listen(engine, "connect", sqlite_pragmas)
        total = 0
        try:
            with engine.connect() as conn:
                dbapi: Any = conn.connection.dbapi_connection
                batches = _SqliteBatches(dbapi) if not self._db.is_postgres else _PostgresBatches(dbapi)
                for _ in range(MAX_PASSES):
                    after, seen = "", 0
                    while True:
                        rows = batches.pending(current, after, self._batch)
                        if not rows:
                            break
                        after = rows[-1][0]
                        seen += len(rows)
                        new = self._provider.rewrap_many([(WrappedKey(v, b), label) for _, label, v, b in rows])
                        batches.store(rows, new)
                        total += len(rows)
                        if progress is not None:
                            progress(len(rows))
                        if limit is not None and total >= limit:
                            return total, False
                    if seen == 0:
                        break
        finally:
            engine.dispose()
        return total, True

    async def retire(self, version: str) -> None:
        """Remove a KEK version from the provider, only when nothing is wrapped under it.

        Raises:
            KeyInUseError: DEKs or system keys still use it (run the rewrap first).
            KeyUnavailableError: it is current, or unknown to the provider.
        """
        async with self._db.read() as session:
            await KeyRotationService(session, self._provider).check_retirable(version)
        self._provider.remove_version(version)
        await self._record("key.kek_retire", f"version={version}")

    # -- blind-index key ------------------------------------------------------------------------

    async def rotate_index(self, catalogue: FieldCatalogue, *, progress: Progress | None = None) -> tuple[int, Keyring]:
        """Add a blind-index key version and rebuild every customer's digests under it.

        Returns the new version and a keyring that knows it.
        """
        async with self._db.write() as session:
            version = await KeyRotationService(session, self._provider).add_index_version()
        await self._record("key.index_rotate", f"index_version={version}")
        async with self._db.read() as session:
            keyring = await KeyRotationService(session, self._provider).keyring()
        await self.rebuild_index(keyring, catalogue, progress=progress)
        return version, keyring

    async def index_behind(self, target: int) -> int:
        """Customers (with data) whose digests are not yet under index version ``target``."""
        async with self._db.read() as session:
            return await KeyRotationService(session, self._provider).index_behind(target)

    async def rebuild_index(self, keyring: Keyring, catalogue: FieldCatalogue, *, progress: Progress | None = None,
                            limit: int | None = None) -> int:
        """Add digests under the newest index version for every customer not rebuilt yet (resumable): per page a
        read transaction, the digests computed outside any transaction, then one short write transaction."""
        target = keyring.index.version
        searchable = list(catalogue.searchable)
        total = 0
        for _ in range(MAX_PASSES):
            last: uuid.UUID | None = None
            seen = 0
            while True:
                async with self._db.read() as session:
                    rows = await KeyRotationService(session, self._provider).index_page(target, last, self._batch)
                if not rows:
                    break
                last = rows[-1].id
                seen += len(rows)
                batch = index_batch(keyring, searchable, rows)
                async with self._db.write() as session:
                    await KeyRotationService(session, self._provider).store_index(batch)
                total += len(rows)
                if progress is not None:
                    progress(len(rows))
                if limit is not None and total >= limit:
                    return total
            if seen == 0:
                break
        return total

    async def finalize_index(self, keyring: Keyring) -> int:
        """Make the newest index version the only one: move customer_ref digests into ``ref_digest``, drop
        older digests and retire older index key versions. Returns how many old versions were retired.

        Raises:
            KeyInUseError: some customers are not rebuilt yet.
        """
        target = keyring.index.version
        behind = await self.index_behind(target)
        if behind:
            raise KeyInUseError(f"{behind} customers are not rebuilt under index version {target}; "
                                "run `vault keys rotate-index --resume` first")
        async with self._db.write() as session:
            retired = await KeyRotationService(session, self._provider).finalize_index(target)
        await self._record("key.index_finalize", f"index_version={target} retired={retired}")
        return retired
