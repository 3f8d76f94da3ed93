"""Policy-file changes, audited by hash.

At start-up the vault hashes every file under ``policies/`` and compares the digest with the
one the last ``policy.loaded`` entry recorded; when it differs (or none exists) a new entry is
appended, so a compliance officer can see when purposes, the field catalogue or the access
policy changed, and which files did.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, text

from vault.audit.chain import AUDIT_LOCK_KEY
from vault.audit.entry import Actor, AuditEvent, Outcome
from vault.audit.log import append
from vault.audit.models import AuditEntryRow

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.db.engine import Database

POLICY_LOADED = "policy.loaded"


@dataclass(frozen=True, slots=True)
class PolicyDigest:
    """SHA-256 over the policy files (name and content), plus each file's own digest."""

    sha256: str
    files: tuple[tuple[str, str], ...]

    @property
    def detail(self) -> str:
        """The audit detail: ``sha256=<digest> files=<name>:<digest12>,...`` (no PII: policy files only)."""
        return f"sha256={self.sha256} files=" + ",".join(f"{n}:{h[:12]}" for n, h in self.files)


def policy_digest(directory: Path) -> PolicyDigest:
    """Hash every regular file under ``directory`` (recursively, in name order)."""
    total = hashlib.sha256()
    files: list[tuple[str, str]] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        files.append((name, digest))
        total.update(name.encode() + b"\0" + digest.encode() + b"\n")
    return PolicyDigest(total.hexdigest(), tuple(files))


def recorded_sha256(detail: str | None) -> str | None:
    """The digest a ``policy.loaded`` entry recorded."""
    if not detail or not detail.startswith("sha256="):
        return None
    return detail.split(" ", 1)[0].removeprefix("sha256=")


async def recorded_policy_digest(session: AsyncSession) -> str | None:
    """The digest the last ``policy.loaded`` entry recorded (None before the first)."""
    last = (await session.execute(
        select(AuditEntryRow.detail).where(AuditEntryRow.action == POLICY_LOADED)
        .order_by(AuditEntryRow.seq.desc()).limit(1))).scalar_one_or_none()
    return recorded_sha256(last)


async def record_policy_load(db: Database, digest: PolicyDigest, actor: Actor | None = None) -> int | None:
    """Append a ``policy.loaded`` entry when the policy files' digest changed since the last one.

    The last entry is read inside the write transaction that appends (under the chain's lock), so
    several workers starting together record one change once.

    Returns:
        The new entry's seq, or None when the files are unchanged.
    """
    async with db.write() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
        if await recorded_policy_digest(session) == digest.sha256:
            return None
        event = AuditEvent(POLICY_LOADED, Outcome.ALLOWED, actor or Actor.cli("vault"), detail=digest.detail)
        return (await append(session, [event]))[0]
