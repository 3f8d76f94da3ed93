"""The vault's system keys, kept in the database wrapped under the KEK.

Only the KEK lives outside the database; the blind-index key, the pseudonym
root key and the Ed25519 signing seeds are random keys wrapped by it, so one
KEK backup restores everything and moving the KEK into an HSM moves them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from vault.crypto.blind_index import BlindIndexer
from vault.crypto.envelope import FieldCipher
from vault.crypto.errors import KeyUnavailableError
from vault.crypto.keys import WrappedKey
from vault.crypto.models import SystemKey
from vault.crypto.pseudonym import Pseudonymizer
from vault.crypto.signing import Signer
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.crypto.keys import KeyProvider

SYSTEM_KEYS = ("blind_index", "pseudonym", "audit_signing", "receipt_signing")


@dataclass(frozen=True)
class Keyring:
    """Everything cryptographic a request needs, built once per process."""

    provider: KeyProvider
    cipher: FieldCipher
    index: BlindIndexer
    pseudonyms: Pseudonymizer
    audit_signer: Signer
    receipt_signer: Signer


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


async def load_keyring(session: AsyncSession, provider: KeyProvider) -> Keyring:
    """Unwrap the current version of every system key."""
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
        key = provider.unwrap(WrappedKey(row.kek_version, row.wrapped), label=f"system:{name}:{row.version}")
        return key, row.version

    index_key, index_version = unwrap("blind_index")
    return Keyring(
        provider=provider,
        cipher=FieldCipher(provider),
        index=BlindIndexer(index_key, index_version),
        pseudonyms=Pseudonymizer(unwrap("pseudonym")[0]),
        audit_signer=Signer(unwrap("audit_signing")[0]),
        receipt_signer=Signer(unwrap("receipt_signing")[0]),
    )
