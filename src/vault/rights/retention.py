"""Retention: erase or pseudonymize customers whose purposes have all ended and whose
retention period has passed (GDPR Art. 5(1)(e), PIPA Art. 21).

A customer's purposes end when the relationship ends, which the vault knows as the soft
delete (``deleted_at``): contract purposes end with it and no consent purpose may be used
after it. The record is then kept for the longest retention period (purposes.yaml) of the
purposes that applied to the customer: every required purpose, and every consent purpose
the customer ever granted. Active customers are never due.

Every erasure is journaled before it commits (nothing is erased without a journal entry).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from vault.audit.entry import AuditEvent, Outcome
from vault.consent.models import ConsentStateRow
from vault.customers.models import CustomerRow
from vault.errors import InvalidInputError
from vault.lib.clock import as_utc, utcnow
from vault.rights import shredder
from vault.rights.deadlines import OPEN
from vault.rights.journal import JournalEntry
from vault.rights.models import RightsRequestRow

if TYPE_CHECKING:
    from vault.access.caller import Caller
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.purposes import PurposeCatalogue
    from vault.rights.journal import ErasureJournal

Clock = Callable[[], datetime]
MODES = ("erase", "pseudonymize")
_PAGE = 2000


@dataclass(frozen=True, slots=True)
class DueCustomer:
    """A customer past retention (ids and dates only)."""

    customer_id: uuid.UUID
    deleted_at: datetime
    retention_days: int
    due_at: datetime


@dataclass(slots=True)
class RetentionReport:
    """What a run found and did."""

    mode: str
    dry_run: bool
    checked_at: datetime
    due: list[DueCustomer] = field(default_factory=list)
    applied: int = 0

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready data (ids and dates only)."""
        return {
            "mode": self.mode, "dry_run": self.dry_run, "checked_at": self.checked_at.isoformat(),
            "due": len(self.due), "applied": self.applied,
            "customers": [{"customer_id": str(d.customer_id), "deleted_at": d.deleted_at.isoformat(),
                           "retention_days": d.retention_days, "due_at": d.due_at.isoformat()} for d in self.due],
        }


class RetentionService:
    """Finds customers past retention and erases (or pseudonymizes) them in batches."""

    def __init__(self, db: Database, keyring: Keyring, catalogue: FieldCatalogue, purposes: PurposeCatalogue,
                 audit: AuditLog, journal: ErasureJournal, *, clock: Clock = utcnow) -> None:
        self._db = db
        self._keyring = keyring
        self._catalogue = catalogue
        self._purposes = purposes
        self._audit = audit
        self._journal = journal
        self._clock = clock
        self._required = max((p.retention_days for p in purposes if p.required), default=0)

    def retention_days(self, granted: set[str]) -> int:
        """The retention period of a customer who granted the consent purposes in ``granted``."""
        extra = [p.retention_days for p in self._purposes if p.id in granted]
        return int(max([self._required, *extra]))

    async def find_due(self, now: datetime) -> list[DueCustomer]:
        """Soft-deleted customers whose retention has passed at ``now``."""
        shortest = self._required or min(p.retention_days for p in self._purposes)
        out: list[DueCustomer] = []
        last: uuid.UUID | None = None
        while True:
            async with self._db.read() as session:
                q = (select(CustomerRow.id, CustomerRow.deleted_at)
                     .where(CustomerRow.status == "deleted", CustomerRow.deleted_at.is_not(None),
                            CustomerRow.deleted_at <= now - timedelta(days=shortest),
                            # Restriction (GDPR Art. 18: kept for legal claims) and an open data subject
                            # request (the legal hold while it is answered) both keep the record.
                            CustomerRow.restricted_at.is_(None),
                            CustomerRow.id.not_in(select(RightsRequestRow.customer_id)
                                                  .where(RightsRequestRow.status.in_(OPEN))))
                     .order_by(CustomerRow.id).limit(_PAGE))
                if last is not None:
                    q = q.where(CustomerRow.id > last)
                rows = (await session.execute(q)).all()
                if not rows:
                    break
                last = rows[-1][0]
                ids = [r[0] for r in rows]
                granted: dict[uuid.UUID, set[str]] = {}
                for cid, purpose in (await session.execute(
                        select(ConsentStateRow.customer_id, ConsentStateRow.purpose).where(
                            ConsentStateRow.customer_id.in_(ids), ConsentStateRow.granted_at.is_not(None)))).all():
                    granted.setdefault(cid, set()).add(purpose)
            for cid, deleted_at in rows:
                assert deleted_at is not None
                days = self.retention_days(granted.get(cid, set()))
                due_at = as_utc(deleted_at) + timedelta(days=days)
                if due_at <= now:
                    out.append(DueCustomer(cid, as_utc(deleted_at), days, due_at))
        return out

    async def run(self, caller: Caller, *, dry_run: bool = False, mode: str = "erase",
                  batch_size: int = 1000) -> RetentionReport:
        """Find due customers; unless ``dry_run``, erase (or pseudonymize) them, journaled, in batches.

        Raises:
            InvalidInputError: unknown mode.
            JournalError: the journal cannot be written (nothing is erased then).
        """
        if mode not in MODES:
            raise InvalidInputError(f"mode must be one of {', '.join(MODES)}", field="mode")
        now = as_utc(self._clock())
        report = RetentionReport(mode, dry_run, now, await self.find_due(now))
        if dry_run or not report.due:
            await self._audit.record_durable(AuditEvent(
                "retention.run", Outcome.ALLOWED, caller.actor, request_id=caller.request_id,
                detail=f"{'dry run: ' if dry_run else ''}{len(report.due)} customers past retention ({mode})"))
            return report
        run_id = f"retention:{uuid.uuid4().hex[:12]}"
        for i in range(0, len(report.due), batch_size):
            ids = [d.customer_id for d in report.due[i:i + batch_size]]
            async with self._db.write() as session:
                todo = await shredder.targets(session, ids, action=mode)
                self._journal.append([JournalEntry(t.id, t.ref_digest, now, run_id, mode) for t in todo])
                if mode == "erase":
                    await shredder.erase_rows(session, [t.id for t in todo], now=now, request_id=None)
                else:
                    await shredder.pseudonymize_rows(session, self._keyring, self._catalogue, [t.id for t in todo],
                                                     now=now)
                await self._audit.record(session, AuditEvent(
                    f"retention.{mode}", Outcome.ALLOWED, caller.actor,
                    subjects=tuple(sorted((t.id for t in todo), key=lambda u: u.bytes)), subject_count=len(todo),
                    request_id=caller.request_id, detail=f"{run_id}: retention period passed"))
            report.applied += len(todo)
        await shredder.scrub(self._db)
        return report
