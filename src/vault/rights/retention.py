"""Retention: destroy each field once every basis for keeping it has ended, erase (or pseudonymize)
customers with nothing left, archive what only a law keeps, and report the holds (GDPR 5(1)(e),
17(3), 18; PIPA 21).

A customer's purposes end when the relationship ends, which the vault knows as the soft delete
(``deleted_at``); active customers are never due. The rules per field and purpose, the statutory
archive and the holds (restriction, an open request, a statute) are in :mod:`vault.rights.holds`;
every run reports the customers held and why. Archive records whose statutory period ended are
destroyed by the same run.

Every erasure is journaled before it commits (nothing is erased without a journal entry).

:class:`RetentionService` works on the session it is given and never commits: one page of plans, one batch of
customers, the run's closing entry. :class:`vault.rights.runner.RetentionJob` runs it: one read transaction per
page of plans, one write transaction per batch, then the SQLite WAL scrub.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from vault.audit.entry import AuditEvent, Outcome
from vault.consent.models import ConsentStateRow
from vault.customers.models import CustomerCohortRow, CustomerRow
from vault.customers.records import customer_key, sealed_field_names
from vault.customers.repository import apply_changes
from vault.errors import InvalidInputError
from vault.lib.clock import as_utc
from vault.policy.collection import empty_statutes
from vault.policy.statutes import Cohort
from vault.rights import archive, shredder
from vault.rights.deadlines import OPEN
from vault.rights.holds import CustomerFacts, FieldPlan, Hold, RetentionRules
from vault.rights.journal import JournalEntry
from vault.rights.models import FieldHistoryRow, RightsRequestRow, StatutoryArchiveRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.rights.deps import RightsDeps

MODES = ("erase", "pseudonymize")
PAGE = 2000


@dataclass(frozen=True, slots=True)
class DueCustomer:
    """A customer past retention (ids and dates only)."""

    customer_id: uuid.UUID
    deleted_at: datetime
    retention_days: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class FieldsDue:
    """A customer some of whose fields are past retention (the others stay): names only."""

    customer_id: uuid.UUID
    destroyed: tuple[str, ...]
    archived: tuple[str, ...]
    kept: tuple[str, ...]
    due_at: datetime | None


@dataclass(slots=True)
class RetentionReport:
    """What a run found and did."""

    mode: str
    dry_run: bool
    checked_at: datetime
    due: list[DueCustomer] = field(default_factory=list)
    applied: int = 0
    fields_due: list[FieldsDue] = field(default_factory=list)
    held: list[Hold] = field(default_factory=list)
    archived: int = 0  # customers with fields moved to the statutory archive
    archive_destroyed: int = 0  # archive records past their statutory period, destroyed

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready data (ids, field names, dates and legal bases only)."""
        return {
            "mode": self.mode, "dry_run": self.dry_run, "checked_at": self.checked_at.isoformat(),
            "due": len(self.due), "applied": self.applied,
            "customers": [{"customer_id": str(d.customer_id), "deleted_at": d.deleted_at.isoformat(),
                           "retention_days": d.retention_days, "due_at": d.due_at.isoformat()} for d in self.due],
            "fields": [{"customer_id": str(f.customer_id), "destroyed": list(f.destroyed),
                        "archived": list(f.archived), "kept": list(f.kept),
                        "due_at": f.due_at.isoformat() if f.due_at else None} for f in self.fields_due],
            "held": [h.to_dict() for h in self.held],
            "archived": self.archived, "archive_destroyed": self.archive_destroyed,
        }


@dataclass(frozen=True, slots=True)
class Overdue:
    """Destruction that is due and not done yet (the console dashboard): counts and the oldest due date."""

    customers: int
    fields: int
    oldest_due_at: datetime | None
    held: int
    archive_records: int


def build_report(plans: Sequence[FieldPlan], mode: str, dry_run: bool, now: datetime) -> RetentionReport:
    """A run's report before it acts: the holds, the customers due whole, those with some fields due."""
    report = RetentionReport(mode, dry_run, now)
    for p in plans:
        report.held.extend(p.holds)
        if not p.acts:
            continue
        if p.whole:
            report.due.append(DueCustomer(p.customer_id, p.ended_at, p.retention_days, p.due_at or p.ended_at))
        else:
            report.fields_due.append(FieldsDue(p.customer_id, tuple(sorted(p.destroy)),
                                               tuple(sorted(n for a in p.archive for n in a.fields)),
                                               tuple(sorted(p.keep)), p.due_at))
    return report


def summary(report: RetentionReport) -> str:
    """The run's audit summary (counts only)."""
    held = len({h.customer_id for h in report.held if h.kind != "statute"})
    return (f"{len(report.due)} customers past retention ({report.mode}), {len(report.fields_due)} with some fields "
            f"past retention, {held} held (restriction or open request)")


def overdue_of(plans: Sequence[FieldPlan], archive_records: int) -> Overdue:
    """What a run would destroy now and has not yet (see :class:`Overdue`)."""
    acting = [p for p in plans if p.acts]
    return Overdue(len(acting), sum(len(p.destroy) + sum(len(a.fields) for a in p.archive) for p in acting),
                   min((p.due_at for p in acting if p.due_at), default=None),
                   len([p for p in plans if p.held]), archive_records)


def check_mode(mode: str) -> None:
    """Refuse an unknown run mode.

    Raises:
        InvalidInputError: ``mode`` is not one of :data:`MODES`.
    """
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}", field="mode")


class RetentionService:
    """Retention per field and purpose on one session (the caller commits; see the module docstring)."""

    def __init__(self, session: AsyncSession, deps: RightsDeps) -> None:
        self._session = session
        self._keyring = deps.keyring
        self._catalogue = deps.catalogue
        self._audit = deps.audit
        self._journal = deps.journal
        statutes = deps.collection.statutes if deps.collection is not None else empty_statutes()
        self.rules = RetentionRules(deps.purposes, deps.catalogue, statutes)

    async def plan_page(self, now: datetime, after: uuid.UUID | None) -> tuple[list[FieldPlan], uuid.UUID | None]:
        """One page (by id, after ``after``) of soft-deleted customers that still hold data: the plans with
        something past retention, and the last id of the page (None: no page left)."""
        session = self._session
        q = (select(CustomerRow.id, CustomerRow.deleted_at, CustomerRow.sealed, CustomerRow.restricted_at)
             .where(CustomerRow.status == "deleted", CustomerRow.deleted_at.is_not(None),
                    CustomerRow.wrapped_dek.is_not(None), CustomerRow.deleted_at <= now)
             .order_by(CustomerRow.id).limit(PAGE))
        if after is not None:
            q = q.where(CustomerRow.id > after)
        rows = (await session.execute(q)).all()
        if not rows:
            return [], None
        ids = [r[0] for r in rows]
        granted: dict[uuid.UUID, set[str]] = {}
        for cid, purpose in (await session.execute(
                select(ConsentStateRow.customer_id, ConsentStateRow.purpose).where(
                    ConsentStateRow.customer_id.in_(ids), ConsentStateRow.granted_at.is_not(None)))).all():
            granted.setdefault(cid, set()).add(purpose)
        cohorts: dict[uuid.UUID, set[Cohort]] = {}
        for cid, cohort in (await session.execute(
                select(CustomerCohortRow.customer_id, CustomerCohortRow.cohort)
                .where(CustomerCohortRow.customer_id.in_(ids)))).all():
            cohorts.setdefault(cid, set()).add(Cohort(cohort))
        requests: dict[uuid.UUID, list[uuid.UUID]] = {}
        for cid, rid, status in (await session.execute(
                select(RightsRequestRow.customer_id, RightsRequestRow.id, RightsRequestRow.status)
                .where(RightsRequestRow.customer_id.in_(ids)))).all():
            cohorts.setdefault(cid, set()).add(Cohort.DATA_SUBJECTS_WITH_REQUESTS)
            if status in OPEN:
                requests.setdefault(cid, []).append(rid)
        out: list[FieldPlan] = []
        for cid, deleted_at, sealed, restricted_at in rows:
            assert deleted_at is not None
            facts = CustomerFacts(
                cid, as_utc(deleted_at), tuple(sealed_field_names(sealed)), frozenset(granted.get(cid, ())),
                frozenset(cohorts.get(cid, ())), as_utc(restricted_at) if restricted_at else None,
                tuple(requests.get(cid, ())))
            plan = self.rules.plan(facts, now)
            if plan.destroy or plan.archive:
                out.append(plan)
        return out, rows[-1][0]

    async def expired_archive_records(self, now: datetime) -> int:
        """Archive records whose statutory period has ended (not destroyed yet)."""
        return len((await self._session.scalars(select(StatutoryArchiveRow.id).where(
            StatutoryArchiveRow.destroy_after <= now))).all())

    async def destroy_expired_archive(self, now: datetime) -> int:
        """Destroy the archive records whose statutory period has ended; returns how many customers had some."""
        return len(await archive.destroy_expired(self._session, now))

    async def apply_fields(self, plans: list[FieldPlan], now: datetime, run_id: str, caller: Caller) -> int:
        """Destroy (and archive) the fields past retention of one batch of customers, keeping the others, and
        audit it (``retention.fields`` naming the fields this batch's customers lost); returns how many
        customers had fields archived."""
        fields = tuple(sorted({n for p in plans for n in [*p.destroy, *(f for a in p.archive for f in a.fields)]}))
        done = await self._apply_fields(plans, now, run_id)
        await self._audit.record(self._session, AuditEvent(
            "retention.fields", Outcome.ALLOWED, caller.actor,
            subjects=tuple(sorted((p.customer_id for p in plans), key=lambda u: u.bytes)),
            subject_count=done[0], fields=fields, request_id=caller.request_id,
            detail=f"{run_id}: fields past retention destroyed or archived (statute), other fields kept"))
        return done[1]

    async def apply_whole(self, ids: list[uuid.UUID], plans: dict[uuid.UUID, FieldPlan], now: datetime, mode: str,
                          run_id: str, caller: Caller) -> tuple[int, int]:
        """Erase (or pseudonymize) one batch of customers past retention, journaled first, after archiving what
        a statute keeps, and audit it (``retention.<mode>``); returns (customers done, customers archived)."""
        session = self._session
        todo = await shredder.targets(session, ids, action=mode)
        archived = await self._archive([plans[t.id] for t in todo], now, run_id)
        self._journal.append([JournalEntry(t.id, t.ref_digest, now, run_id, mode) for t in todo])
        if mode == "erase":
            await shredder.erase_rows(session, [t.id for t in todo], now=now, request_id=None)
        else:
            await shredder.pseudonymize_rows(session, self._keyring, self._catalogue, [t.id for t in todo], now=now)
        await self._audit.record(session, AuditEvent(
            f"retention.{mode}", Outcome.ALLOWED, caller.actor,
            subjects=tuple(sorted((t.id for t in todo), key=lambda u: u.bytes)), subject_count=len(todo),
            request_id=caller.request_id, detail=f"{run_id}: retention period passed"))
        return len(todo), archived

    async def close_run(self, report: RetentionReport, now: datetime, run_id: str, caller: Caller) -> None:
        """Destroy expired archive records and audit the run (``retention.run``) in the run's last transaction."""
        report.archive_destroyed = await self.destroy_expired_archive(now)
        await self._audit.record(self._session, AuditEvent(
            "retention.run", Outcome.ALLOWED, caller.actor, request_id=caller.request_id,
            detail=f"{run_id}: {summary(report)}; {report.archived} archived; "
                   f"{report.archive_destroyed} archive records destroyed"))

    async def _archive(self, plans: list[FieldPlan], now: datetime, run_id: str) -> int:
        """Move the fields only a law keeps to the statutory archive; returns how many customers had some."""
        session = self._session
        moved = 0
        for p in plans:
            if not p.archive:
                continue
            row = await session.get(CustomerRow, p.customer_id)
            if row is None:
                continue
            for a in p.archive:
                await archive.move(session, self._keyring, row, a.statute, a.fields, a.until, now,
                                   f"{run_id}: purpose retention ended; kept under statute {a.statute.id}")
            moved += 1
        return moved

    async def _apply_fields(self, plans: list[FieldPlan], now: datetime, run_id: str) -> tuple[int, int]:
        """Destroy (and archive) some fields of each customer, keeping the others; returns (customers, archived)."""
        session = self._session
        archived = await self._archive(plans, now, run_id)
        await shredder.secure_delete(session)
        n = 0
        for p in plans:
            row = await session.get(CustomerRow, p.customer_id)
            if row is None or row.wrapped_dek is None:
                continue
            gone = [*p.destroy, *(f for a in p.archive for f in a.fields)]
            await apply_changes(session, self._keyring, self._catalogue, row, customer_key(self._keyring, row),
                                dict.fromkeys(gone), now)
            if "customer_ref" in gone:
                row.ref_digest = None
            await session.execute(delete(FieldHistoryRow).where(
                FieldHistoryRow.customer_id == row.id, FieldHistoryRow.field.in_(gone)))
            n += 1
        return n, archived
