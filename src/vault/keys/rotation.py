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

:class:`KeyRotationService` holds the statements, on a session it is given (counts, system keys, one page of
the index rebuild, finalizing); :class:`vault.keys.runner.KeyRotation` is the job that owns the transactions,
talks to the KEK provider, audits each step and runs the DEK rewrap batches on the synchronous driver.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update

from vault.crypto.errors import KeyUnavailableError
from vault.customers.models import CustomerIndexRow, CustomerRow, customers_table
from vault.customers.records import customer_key, open_fields
from vault.keys.errors import KeyInUseError
from vault.keys.models import SystemKey
from vault.keys.store import (
    add_system_key_version,
    load_keyring,
    retire_system_key_versions,
    rewrap_system_keys,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.keyring import Keyring
    from vault.crypto.keys import KeyProvider


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


@dataclass(frozen=True, slots=True)
class IndexBatch:
    """One page of customers' digests under index version ``target``, computed outside any transaction."""

    target: int
    ids: list[uuid.UUID]
    rows: list[dict[str, Any]]  # customer_index rows under ``target``
    versions: list[dict[str, Any]]  # b_id, b_rv: the row version each customer's digests were computed from


def index_batch(keyring: Keyring, searchable: Iterable[str], rows: Iterable[CustomerRow]) -> IndexBatch:
    """The digests of ``rows``' searchable fields under the keyring's newest index version."""
    index = keyring.index
    names = set(searchable)
    ids: list[uuid.UUID] = []
    new_rows: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    for row in rows:
        values = open_fields(customer_key(keyring, row), row.sealed, names)
        new_rows.extend({"field": n, "digest": index.digest(n, v), "customer_id": row.id,
                         "key_version": index.version} for n, v in values.items())
        versions.append({"b_id": row.id, "b_rv": row.row_version})
        ids.append(row.id)
    return IndexBatch(index.version, ids, new_rows, versions)


class KeyRotationService:
    """The key-rotation statements on one session (the caller opens and commits the transaction)."""

    def __init__(self, session: AsyncSession, provider: KeyProvider) -> None:
        self._session = session
        self._provider = provider

    async def status(self) -> KeyStatus:
        """KEK versions with how many DEKs and system keys each wraps; index versions with their customers."""
        self._provider.refresh()
        session = self._session
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
        return int(await self._session.scalar(select(func.count()).select_from(CustomerRow).where(
            CustomerRow.kek_version.is_not(None), CustomerRow.kek_version != current)) or 0)

    async def rewrap_system_keys(self) -> int:
        """Re-wrap every system key not under the current KEK version; returns how many."""
        return await rewrap_system_keys(self._session, self._provider)

    async def check_retirable(self, version: str) -> None:
        """Refuse to retire a KEK version that is current or still wraps something.

        Raises:
            KeyInUseError: DEKs or system keys still use it (run the rewrap first).
            KeyUnavailableError: it is current.
        """
        self._provider.refresh()
        if version == self._provider.current_version:
            raise KeyUnavailableError(f"KEK version {version!r} is current; rotate before retiring it")
        deks = int(await self._session.scalar(select(func.count()).select_from(CustomerRow)
                                              .where(CustomerRow.kek_version == version)) or 0)
        sys = int(await self._session.scalar(select(func.count()).select_from(SystemKey)
                                             .where(SystemKey.kek_version == version)) or 0)
        if deks or sys:
            raise KeyInUseError(f"KEK version {version!r} still wraps {deks} DEKs and {sys} system keys; "
                                "run `vault keys rotate --resume` first", version=version)

    # -- blind-index key ------------------------------------------------------------------------

    async def add_index_version(self) -> int:
        """Add the next blind-index key version; returns it."""
        return await add_system_key_version(self._session, self._provider, "blind_index")

    async def keyring(self) -> Keyring:
        """The keyring as the database holds it (every live index version)."""
        return await load_keyring(self._session, self._provider)

    async def index_behind(self, target: int) -> int:
        """Customers (with data) whose digests are not yet under index version ``target``."""
        return int(await self._session.scalar(select(func.count()).select_from(CustomerRow).where(
            CustomerRow.index_version < target, CustomerRow.wrapped_dek.is_not(None))) or 0)

    async def index_page(self, target: int, after: uuid.UUID | None, limit: int) -> list[CustomerRow]:
        """Up to ``limit`` customers (with data, by id after ``after``) not rebuilt under ``target`` yet."""
        q = (select(CustomerRow).where(CustomerRow.index_version < target, CustomerRow.wrapped_dek.is_not(None))
             .order_by(CustomerRow.id).limit(limit))
        if after is not None:
            q = q.where(CustomerRow.id > after)
        return list((await self._session.scalars(q)).all())

    async def store_index(self, batch: IndexBatch) -> None:
        """Replace the batch's digests under its version and move each customer to it, unless the customer
        changed since the digests were computed (it keeps its old index_version and is rebuilt on the next pass)."""
        session = self._session
        await session.execute(delete(CustomerIndexRow).where(
            CustomerIndexRow.customer_id.in_(batch.ids), CustomerIndexRow.key_version == batch.target))
        if batch.rows:
            await session.execute(insert(CustomerIndexRow), batch.rows)
        await session.execute(
            update(customers_table).where(and_(customers_table.c.id == bindparam("b_id"),
                                               customers_table.c.row_version == bindparam("b_rv")))
            .values(index_version=batch.target), batch.versions,
            execution_options={"synchronize_session": False})

    async def finalize_index(self, target: int) -> int:
        """Make index version ``target`` the only one: move customer_ref digests into ``ref_digest``, drop older
        digests and retire older index key versions. Returns how many old versions were retired."""
        session = self._session
        ci = CustomerIndexRow.__table__
        new_ref = (select(ci.c.digest).where(ci.c.customer_id == customers_table.c.id,
                                             ci.c.field == "customer_ref", ci.c.key_version == target)
                   .scalar_subquery())
        has_ref = select(ci.c.customer_id).where(ci.c.customer_id == customers_table.c.id,
                                                 ci.c.field == "customer_ref", ci.c.key_version == target).exists()
        await session.execute(update(customers_table).where(has_ref).values(ref_digest=new_ref),
                              execution_options={"synchronize_session": False})
        await session.execute(delete(CustomerIndexRow).where(CustomerIndexRow.field == "customer_ref"))
        await session.execute(delete(CustomerIndexRow).where(CustomerIndexRow.key_version < target))
        return await retire_system_key_versions(session, "blind_index", below=target)
