"""The vault's system keys, kept in the database wrapped under the KEK.

Only the KEK lives outside the database; the blind-index key, the pseudonym
root key and the Ed25519 signing seeds are random keys wrapped by it, so one
KEK backup restores everything and moving the KEK into an HSM moves them all.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sqlalchemy import select

from vault.crypto.blind_index import BlindIndexer
from vault.crypto.envelope import FieldCipher
from vault.crypto.errors import KeyUnavailableError
from vault.crypto.keyring import SYSTEM_KEYS, Keyring
from vault.crypto.keys import WrappedKey
from vault.crypto.pseudonym import Pseudonymizer
from vault.crypto.signing import Signer
from vault.keys.models import SystemKey
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.keys import KeyProvider


async def ensure_system_keys(session: AsyncSession, provider: KeyProvider) -> list[str]:
    """Create any missing system key (version 1); returns the names created."""
    existing = set((await session.scalars(select(SystemKey.name))).all())
    created = []
    for name in SYSTEM_KEYS:
        if name in existing:
            continue
        wrapped = provider.wrap(os.urandom(32), label=f"system:{name}:1")
        session.add(
            SystemKey(name=name, version=1, kek_version=wrapped.kek_version, wrapped=wrapped.blob,
                      created_at=utcnow())
        )
        created.append(name)
    await session.flush()
    return created


def _label(row: SystemKey) -> str:
    return f"system:{row.name}:{row.version}"


async def load_keyring(session: AsyncSession, provider: KeyProvider) -> Keyring:
    """Unwrap the current version of every system key (and every live blind-index version)."""
    rows = (await session.scalars(select(SystemKey).where(SystemKey.retired_at.is_(None)))).all()
    current: dict[str, SystemKey] = {}
    for row in rows:
        if row.name not in current or row.version > current[row.name].version:
            current[row.name] = row
    missing = [n for n in SYSTEM_KEYS if n not in current]
    if missing:
        raise KeyUnavailableError(f"system keys missing: {', '.join(missing)}; run `vault init`")

    def unwrap(name: str) -> tuple[bytes, int]:
        row = current[name]
        return provider.unwrap(WrappedKey(row.kek_version, row.wrapped), label=_label(row)), row.version

    indexes = tuple(
        BlindIndexer(provider.unwrap(WrappedKey(r.kek_version, r.wrapped), label=_label(r)), r.version)
        for r in sorted((r for r in rows if r.name == "blind_index"), key=lambda r: -r.version))
    return Keyring(
        provider=provider,
        cipher=FieldCipher(provider),
        index=indexes[0],
        pseudonyms=Pseudonymizer(unwrap("pseudonym")[0]),
        audit_signer=Signer(unwrap("audit_signing")[0]),
        receipt_signer=Signer(unwrap("receipt_signing")[0]),
        indexes=indexes,
    )


async def add_system_key_version(session: AsyncSession, provider: KeyProvider, name: str) -> int:
    """Create the next version of a system key (index-key rotation); returns the new version."""
    if name not in SYSTEM_KEYS:
        raise KeyUnavailableError(f"unknown system key {name!r}; system keys: {', '.join(SYSTEM_KEYS)}")
    versions = (await session.scalars(select(SystemKey.version).where(SystemKey.name == name))).all()
    version = max(versions, default=0) + 1
    wrapped = provider.wrap(os.urandom(32), label=f"system:{name}:{version}")
    session.add(SystemKey(name=name, version=version, kek_version=wrapped.kek_version, wrapped=wrapped.blob,
                          created_at=utcnow()))
    await session.flush()
    return version


async def retire_system_key_versions(session: AsyncSession, name: str, below: int) -> int:
    """Mark every version of ``name`` older than ``below`` retired; returns how many."""
    rows = (await session.scalars(select(SystemKey).where(
        SystemKey.name == name, SystemKey.version < below, SystemKey.retired_at.is_(None)))).all()
    for row in rows:
        row.retired_at = utcnow()
    await session.flush()
    return len(rows)


async def rewrap_system_keys(session: AsyncSession, provider: KeyProvider) -> int:
    """Re-wrap every system key not under the current KEK version; returns how many."""
    current = provider.current_version
    rows = (await session.scalars(select(SystemKey).where(SystemKey.kek_version != current))).all()
    for row in rows:
        wrapped = provider.rewrap(WrappedKey(row.kek_version, row.wrapped), label=_label(row))
        row.kek_version, row.wrapped = wrapped.kek_version, wrapped.blob
    await session.flush()
    return len(rows)
