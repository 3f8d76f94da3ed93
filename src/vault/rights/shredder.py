"""Crypto-shredding: what erasing (or pseudonymizing) a customer does to the database.

Erasure destroys the customer's wrapped DEK, so every ciphertext sealed under it (fields,
rectification history, consent evidence) is noise from then on; it also deletes the blind
indexes and the customer_ref digest (so the person cannot be looked up or re-linked), the
rectification history rows and idempotency records (a hash of the submitted body), and
leaves a tombstone: id, ``erased_at``, the request it answers. Consent events and receipts
stay (append-only, no PII; their evidence is sealed under the destroyed DEK) and so do audit
entries (no PII).

On SQLite the erasing transaction turns on ``secure_delete`` so the freed cells holding the
old wrapped DEK are zeroed, and :func:`scrub` checkpoints the WAL afterwards, so the raw
database file no longer holds the wrapped DEK either.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import delete, select, text, update

from vault.customers.models import CustomerIndexRow, CustomerRow, IdempotencyRow, QualityFlagRow
from vault.customers.records import customer_key, open_fields
from vault.rights.models import FieldHistoryRow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.policy.catalogue import FieldCatalogue

EMPTY_SEALED = msgspec.msgpack.encode({})
ERASED = "erased"
PSEUDONYMIZED = "pseudonymized"
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Target:
    """A customer about to be erased: what the journal records."""

    id: uuid.UUID
    ref_digest: bytes | None
    status: str


async def targets(session: AsyncSession, ids: Sequence[uuid.UUID], *, action: str = "erase") -> list[Target]:
    """The customers among ``ids`` the action still applies to (erase: not erased yet; pseudonymize:
    neither erased nor pseudonymized)."""
    out: list[Target] = []
    unique = list(dict.fromkeys(ids))
    pending = CustomerRow.status != ERASED if action == "erase" else CustomerRow.erased_at.is_(None)
    for i in range(0, len(unique), _CHUNK):
        rows = (await session.execute(
            select(CustomerRow.id, CustomerRow.ref_digest, CustomerRow.status)
            .where(CustomerRow.id.in_(unique[i:i + _CHUNK]), pending)
        )).all()
        out.extend(Target(r[0], r[1], r[2]) for r in rows)
    return out


async def secure_delete(session: AsyncSession) -> None:
    """On SQLite, zero freed cells in this transaction (old ciphertexts and keys do not linger in the file)."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("PRAGMA secure_delete = ON"))


async def _drop_links(session: AsyncSession, chunk: list[uuid.UUID]) -> None:
    await session.execute(delete(CustomerIndexRow).where(CustomerIndexRow.customer_id.in_(chunk)))
    await session.execute(delete(FieldHistoryRow).where(FieldHistoryRow.customer_id.in_(chunk)))
    await session.execute(delete(IdempotencyRow).where(IdempotencyRow.customer_id.in_(chunk)))
    await session.execute(delete(QualityFlagRow).where(QualityFlagRow.customer_id.in_(chunk)))


async def erase_rows(session: AsyncSession, ids: Sequence[uuid.UUID], *, now: datetime,
                     request_id: uuid.UUID | None) -> None:
    """Shred ``ids`` in the current transaction (the journal entries must already be written)."""
    await secure_delete(session)
    ids = list(ids)
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        await session.execute(
            update(CustomerRow).where(CustomerRow.id.in_(chunk)).values(
                wrapped_dek=None, kek_version=None, sealed=EMPTY_SEALED, field_meta={}, ref_digest=None,
                status=ERASED, erased_at=now, updated_at=now, erasure_request_id=request_id,
                restricted_at=None, restriction_request_id=None, row_version=CustomerRow.row_version + 1,
            ).execution_options(synchronize_session=False))
        await _drop_links(session, chunk)


def generalized(catalogue: FieldCatalogue, values: dict[str, str]) -> dict[str, str]:
    """Quasi-identifiers at the first rung of their generalization ladder (``birth_date.year`` ...);
    direct identifiers, contact data and national ids are dropped."""
    out: dict[str, str] = {}
    for name, value in values.items():
        if name not in catalogue:
            continue
        spec = catalogue[name]
        if spec.category != "quasi_identifier" or not spec.generalize:
            continue
        rung = spec.generalize[0]
        if rung == "year":
            out[f"{name}.year"] = value[:4]
        elif rung == "prefix3":
            out[f"{name}.prefix3"] = value[:3]
        elif rung == "value":
            out[f"{name}.value"] = value
    return out


async def pseudonymize_rows(session: AsyncSession, keyring: Keyring, catalogue: FieldCatalogue,
                            ids: Sequence[uuid.UUID], *, now: datetime) -> None:
    """Keep only generalized quasi-identifiers, re-sealed under a *new* DEK; shred the old one.

    The old DEK is gone, so old ciphertexts (history, consent evidence) are shredded as on erasure;
    the record can no longer be looked up or linked to a person (no indexes, no customer_ref).
    """
    await secure_delete(session)
    ids = list(ids)
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        rows = (await session.scalars(select(CustomerRow).where(CustomerRow.id.in_(chunk)))).all()
        params: list[dict[str, Any]] = []
        for row in rows:
            if row.wrapped_dek is None:
                continue
            values = open_fields(customer_key(keyring, row), row.sealed)
            key, wrapped = keyring.cipher.new_customer_key(row.id, version=row.dek_version + 1)
            kept = generalized(catalogue, values)
            params.append({
                "id": row.id, "wrapped_dek": wrapped.blob, "kek_version": wrapped.kek_version,
                "dek_version": key.version,
                "sealed": msgspec.msgpack.encode({n: key.seal(n, v) for n, v in kept.items()}),
            })
        for p in params:
            await session.execute(
                update(CustomerRow).where(CustomerRow.id == p["id"]).values(
                    wrapped_dek=p["wrapped_dek"], kek_version=p["kek_version"], dek_version=p["dek_version"],
                    sealed=p["sealed"], field_meta={}, ref_digest=None, status=PSEUDONYMIZED, erased_at=now,
                    updated_at=now, row_version=CustomerRow.row_version + 1,
                ).execution_options(synchronize_session=False))
        await _drop_links(session, chunk)


async def scrub(db: Database) -> None:
    """After an erasure commits: on SQLite, checkpoint and truncate the WAL so no frame keeps old pages.

    Best effort (a long reader can keep the checkpoint from completing; the next one finishes it).
    PostgreSQL keeps dead tuple versions until VACUUM reuses their space; see docs/operations.md.
    """
    if db.is_postgres:
        return
    async with db.engine.connect() as conn:
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await conn.commit()
