"""Key rotation while the vault keeps serving: KEK versions and blind-index keys.

It has its own package (``vault.keys``, above customers: it rewraps customer DEKs); ``vault.crypto``
knows keys, not customer tables.

**KEK rotation** (``vault keys rotate``): the provider creates a new KEK version and makes it
current (other processes pick it up: the file provider re-reads a changed key file), then
every DEK and system key still wrapped under an older version is rewrapped, in keyset
batches of short write transactions. Each update is conditional on the row still holding
the blob that was read, so a customer written concurrently is simply seen again on the next
pass; passes repeat until nothing is left under an old version. Interrupting it is safe:
``vault keys rotate --resume`` continues where the data says it stopped. A version is
retired (removed from the provider) only when no DEK or system key uses it.

**Index-key rotation** (``vault keys rotate-index``): a new blind-index key version is
added; rebuilding adds digests under it next to the old ones (``customer_index.key_version``;
the customer_ref digest goes to ``customer_index`` until finalized), so lookups, which try
every live version, find every customer during the rebuild. ``vault keys finalize-index``
then moves customer_ref digests into ``customers.ref_digest``, drops the old digests and
retires the old key version (restart API workers started before the rotation first).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.pool import NullPool

from vault.audit.entry import Actor, AuditEvent, Outcome
from vault.crypto.envelope import dek_label
from vault.crypto.errors import KeyUnavailableError
from vault.crypto.keys import WrappedKey
from vault.customers.models import CustomerIndexRow, CustomerRow, customers_table
from vault.customers.records import customer_key, open_fields
from vault.db.engine import sqlite_pragmas, sync_url
from vault.keys.errors import KeyInUseError
from vault.keys.models import SystemKey
from vault.keys.store import (
    add_system_key_version,
    load_keyring,
    retire_system_key_versions,
    rewrap_system_keys,
)

if TYPE_CHECKING:

    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.crypto.keys import KeyProvider
    from vault.db.engine import Database
    from vault.policy.catalogue import FieldCatalogue

Progress = Callable[[int], None]
MAX_PASSES = 50


@dataclass(frozen=True, slots=True)
class VersionUsage:
    """One KEK version and what is wrapped under it."""

    version: str
    deks: int
    system_keys: int
    current: bool
    available: bool


@dataclass(frozen=True, slots=True)
class IndexUsage:
    """One blind-index key version and how many customers' digests use it."""

    version: int
    customers: int
    retired: bool


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """``vault keys status``."""

    current: str
    kek: list[VersionUsage]
    index: list[IndexUsage]
    erased: int

    @property
    def pending_rewrap(self) -> int:
        """DEKs and system keys not yet under the current version."""
        return sum(u.deks + u.system_keys for u in self.kek if not u.current)


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
    """Rotates KEK versions and blind-index keys in resumable batches."""

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
        self._provider.refresh()
        async with self._db.read() as session:
            deks = dict((await session.execute(
                select(CustomerRow.kek_version, func.count()).where(CustomerRow.kek_version.is_not(None))
                .group_by(CustomerRow.kek_version))).all())
            sys = dict((await session.execute(
                select(SystemKey.kek_version, func.count()).group_by(SystemKey.kek_version))).all())
            idx = dict((await session.execute(
                select(CustomerRow.index_version, func.count()).where(CustomerRow.ref_digest.is_not(None)
                                                                      | CustomerRow.wrapped_dek.is_not(None))
                .group_by(CustomerRow.index_version))).all())
            index_keys = (await session.execute(
                select(SystemKey.version, SystemKey.retired_at).where(SystemKey.name == "blind_index")
                .order_by(SystemKey.version))).all()
            erased = int(await session.scalar(
                select(func.count()).select_from(CustomerRow).where(CustomerRow.wrapped_dek.is_(None))) or 0)
        current = self._provider.current_version
        known = self._provider.versions()
        versions = list(dict.fromkeys([*known, *sorted(v for v in {*deks, *sys} if v)]))
        kek = [VersionUsage(v, int(deks.get(v, 0)), int(sys.get(v, 0)), v == current, v in known) for v in versions]
        index = [IndexUsage(v, int(idx.get(v, 0)), retired is not None) for v, retired in index_keys]
        return KeyStatus(current, kek, index, erased)

    async def pending(self) -> int:
        """DEKs not under the current KEK version."""
        current = self._provider.current_version
        async with self._db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(CustomerRow).where(
                CustomerRow.kek_version.is_not(None), CustomerRow.kek_version != current)) or 0)

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
            await rewrap_system_keys(session, self._provider)
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
        self._provider.refresh()
        if version == self._provider.current_version:
            raise KeyUnavailableError(f"KEK version {version!r} is current; rotate before retiring it")
        async with self._db.read() as session:
            deks = int(await session.scalar(select(func.count()).select_from(CustomerRow)
                                            .where(CustomerRow.kek_version == version)) or 0)
            sys = int(await session.scalar(select(func.count()).select_from(SystemKey)
                                           .where(SystemKey.kek_version == version)) or 0)
        if deks or sys:
            raise KeyInUseError(f"KEK version {version!r} still wraps {deks} DEKs and {sys} system keys; "
                                "run `vault keys rotate --resume` first", version=version)
        self._provider.remove_version(version)
        await self._record("key.kek_retire", f"version={version}")

    # -- blind-index key ------------------------------------------------------------------------

    async def rotate_index(self, catalogue: FieldCatalogue, *, progress: Progress | None = None) -> tuple[int, Keyring]:
        """Add a blind-index key version and rebuild every customer's digests under it.

        Returns the new version and a keyring that knows it.
        """
        async with self._db.write() as session:
            version = await add_system_key_version(session, self._provider, "blind_index")
        await self._record("key.index_rotate", f"index_version={version}")
        async with self._db.read() as session:
            keyring = await load_keyring(session, self._provider)
        await self.rebuild_index(keyring, catalogue, progress=progress)
        return version, keyring

    async def index_behind(self, target: int) -> int:
        """Customers (with data) whose digests are not yet under index version ``target``."""
        async with self._db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(CustomerRow).where(
                CustomerRow.index_version < target, CustomerRow.wrapped_dek.is_not(None))) or 0)

    async def rebuild_index(self, keyring: Keyring, catalogue: FieldCatalogue, *, progress: Progress | None = None,
                            limit: int | None = None) -> int:
        """Add digests under the newest index version for every customer not rebuilt yet (resumable)."""
        index = keyring.index
        target = index.version
        searchable = [n for n in catalogue.searchable]
        total = 0
        for _ in range(MAX_PASSES):
            last: uuid.UUID | None = None
            seen = 0
            while True:
                async with self._db.read() as session:
                    q = (select(CustomerRow).where(CustomerRow.index_version < target,
                                                   CustomerRow.wrapped_dek.is_not(None))
                         .order_by(CustomerRow.id).limit(self._batch))
                    if last is not None:
                        q = q.where(CustomerRow.id > last)
                    rows = (await session.scalars(q)).all()
                if not rows:
                    break
                last = rows[-1].id
                seen += len(rows)
                new_rows: list[dict[str, Any]] = []
                versions: list[dict[str, Any]] = []
                for row in rows:
                    values = open_fields(customer_key(keyring, row), row.sealed, set(searchable))
                    new_rows.extend({"field": n, "digest": index.digest(n, v), "customer_id": row.id,
                                     "key_version": target} for n, v in values.items())
                    versions.append({"b_id": row.id, "b_rv": row.row_version})
                ids = [r.id for r in rows]
                async with self._db.write() as session:
                    await session.execute(delete(CustomerIndexRow).where(
                        CustomerIndexRow.customer_id.in_(ids), CustomerIndexRow.key_version == target))
                    if new_rows:
                        await session.execute(insert(CustomerIndexRow), new_rows)
                    # A customer changed meanwhile keeps its old index_version and is rebuilt on the next pass.
                    await session.execute(
                        update(customers_table).where(and_(customers_table.c.id == bindparam("b_id"),
                                                           customers_table.c.row_version == bindparam("b_rv")))
                        .values(index_version=target), versions,
                        execution_options={"synchronize_session": False})
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
        ci = CustomerIndexRow.__table__
        async with self._db.write() as session:
            new_ref = (select(ci.c.digest).where(ci.c.customer_id == customers_table.c.id,
                                                 ci.c.field == "customer_ref", ci.c.key_version == target)
                       .scalar_subquery())
            has_ref = select(ci.c.customer_id).where(ci.c.customer_id == customers_table.c.id,
                                                     ci.c.field == "customer_ref", ci.c.key_version == target).exists()
            await session.execute(update(customers_table).where(has_ref).values(ref_digest=new_ref),
                                  execution_options={"synchronize_session": False})
            await session.execute(delete(CustomerIndexRow).where(CustomerIndexRow.field == "customer_ref"))
            await session.execute(delete(CustomerIndexRow).where(CustomerIndexRow.key_version < target))
            retired = await retire_system_key_versions(session, "blind_index", below=target)
        await self._record("key.index_finalize", f"index_version={target} retired={retired}")
        return retired
