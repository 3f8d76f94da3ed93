"""Published notice versions must never change (GDPR 7(1), PIPA 22: provable consent).

Every consent records the notice version shown and the SHA-256 of its canonical disclosure
(text, items, retention, recipient and its retention, country, transfer method, right to
refuse). :func:`check_published_notices` runs at start-up: the first time a version is seen
its hash is recorded (``consent_notices``); afterwards the vault refuses to start when a
version's disclosure hashes differently, naming the purpose and version, so a widened
purpose or an edited text needs a new notice version (and, with ``min_notice_version``,
re-consent) instead of silently rewriting what people agreed to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from vault.consent.models import PublishedNoticeRow
from vault.errors import ConfigurationError
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from vault.db.engine import Database
    from vault.policy.purposes import PurposeCatalogue


class NoticeChangedError(ConfigurationError):
    """A published notice version's disclosure changed since it was first recorded."""

    code = "consent.notice_changed"
    title = "Published notice changed"


async def check_published_notices(db: Database, purposes: PurposeCatalogue) -> int:
    """Record new notice versions; refuse if a recorded one changed. Returns how many were new.

    Raises:
        NoticeChangedError: naming every purpose and version whose disclosure changed.
    """
    current = {(p.id, n.version): n.disclosure_hash(p.id) for p in purposes for n in p.notices}
    async with db.write() as session:
        recorded = {(r.purpose, r.version): r.sha256 for r in (await session.scalars(select(PublishedNoticeRow))).all()}
        changed = sorted(f"{pid}@{v}" for (pid, v), h in current.items() if (pid, v) in recorded
                         and recorded[(pid, v)] != h)
        if changed:
            raise NoticeChangedError(
                f"published notice versions changed since consents were recorded under them: {', '.join(changed)}; "
                "restore their text and items and publish the change as a new version")
        new = [{"purpose": pid, "version": v, "sha256": h, "first_seen_at": utcnow()}
               for (pid, v), h in current.items() if (pid, v) not in recorded]
        if new:
            await session.execute(insert(PublishedNoticeRow), new)
    return len(new)
