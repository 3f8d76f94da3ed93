"""The rights use cases as the entry points (API, console, CLI) run them: each in its own transactions.

The services (:class:`~vault.rights.requests.RequestRegistry`, :class:`~vault.rights.subject.SubjectService`,
:class:`~vault.rights.erasure.ErasureService`) work on the session they are given and never commit. This runner
is the one place in the package that opens transactions, because several use cases need more than one or work
around a commit:

- an export is read and audited durably in a read transaction, then closes its request in a write one;
- an erasure is admitted in a read transaction (a hold or a missing second approval is denied durably at
  once), carried out in a write transaction whose journal entry is written before it commits, and the SQLite
  WAL is scrubbed after the commit (:func:`vault.rights.shredder.scrub`);
- replaying the journal commits every 500 entries.

The package's jobs and the oversight use cases are run from here too: :class:`RetentionJob` (one read
transaction per page of plans, one write transaction per batch of customers, then the WAL scrub) and
:class:`OversightRunner` (breach impact and the monthly inspection, each in a read transaction).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vault.audit.entry import AuditEvent, Outcome
from vault.lib.clock import as_utc
from vault.rights import shredder
from vault.rights.erasure import ErasureProposal, ErasureResult, ErasureService, ReplayResult
from vault.rights.oversight import OversightService
from vault.rights.requests import RequestRegistry, RightsRequest
from vault.rights.retention import RetentionService, build_report, check_mode, overdue_of, summary
from vault.rights.subject import SubjectService

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.audit.impact import ImpactQuery, ImpactReport
    from vault.audit.inspection import InspectionReport
    from vault.rights.deps import RightsDeps
    from vault.rights.holds import FieldPlan
    from vault.rights.oversight import OversightDeps
    from vault.rights.retention import Overdue, RetentionReport

JOURNAL_CHUNK = 500


class RightsRunner:
    """Runs each rights use case in its own transaction(s); built from the process's :class:`RightsDeps`."""

    def __init__(self, deps: RightsDeps) -> None:
        self._d = deps

    def _registry(self, session: AsyncSession) -> RequestRegistry:
        return RequestRegistry(session, self._d.guard, self._d.audit, self._d.clock)

    # -- registry -----------------------------------------------------------------------------------

    async def open_request(self, kind: str, customer_id: uuid.UUID, jurisdiction: str, caller: Caller, *,
                           received_at: datetime | None = None, channel: str | None = None) -> RightsRequest:
        """Register a request (see :meth:`RequestRegistry.open`)."""
        async with self._d.db.write() as session:
            return await self._registry(session).open(kind, customer_id, jurisdiction, caller,
                                                      received_at=received_at, channel=channel)

    async def list_requests(self, caller: Caller, *, status: str | None = None, customer_id: uuid.UUID | None = None,
                            limit: int = 100, offset: int = 0) -> list[RightsRequest]:
        """Requests, overdue first (see :meth:`RequestRegistry.list`)."""
        async with self._d.db.read() as session:
            return await self._registry(session).list(caller, status=status, customer_id=customer_id, limit=limit,
                                                      offset=offset)

    async def get_request(self, request_id: uuid.UUID, caller: Caller) -> RightsRequest:
        """One request."""
        async with self._d.db.read() as session:
            return await self._registry(session).get(request_id, caller)

    async def update_request(self, request_id: uuid.UUID, caller: Caller, *, status: str | None = None,
                             outcome: str | None = None, extend: bool = False,
                             extension_reason: str | None = None) -> RightsRequest:
        """Move a request along (see :meth:`RequestRegistry.update`)."""
        async with self._d.db.write() as session:
            return await self._registry(session).update(request_id, caller, status=status, outcome=outcome,
                                                        extend=extend, extension_reason=extension_reason)

    # -- one subject --------------------------------------------------------------------------------

    async def export(self, customer_id: uuid.UUID, caller: Caller, *,
                     request_id: uuid.UUID | None = None) -> dict[str, Any]:
        """The access/portability document, audited before it is returned (see :meth:`SubjectService.export`)."""
        async with self._d.db.read() as session:
            doc = await SubjectService(session, self._d).export(customer_id, caller, request_id=request_id)
        if request_id is not None:
            async with self._d.db.write() as session:
                await SubjectService(session, self._d).close_request(request_id, customer_id, "export", caller,
                                                                     "export delivered")
        return doc

    async def rectify(self, customer_id: uuid.UUID, values: Mapping[str, object], caller: Caller, *,
                      request_id: uuid.UUID | None = None) -> list[str]:
        """Correct fields (see :meth:`SubjectService.rectify`)."""
        async with self._d.db.write() as session:
            return await SubjectService(session, self._d).rectify(customer_id, values, caller, request_id=request_id)

    async def restrict(self, customer_id: uuid.UUID, caller: Caller, *, request_id: uuid.UUID | None = None,
                       lift: bool = False) -> datetime | None:
        """Restrict processing, or lift the restriction (see :meth:`SubjectService.restrict`)."""
        async with self._d.db.write() as session:
            return await SubjectService(session, self._d).restrict(customer_id, caller, request_id=request_id,
                                                                   lift=lift)

    async def object(self, customer_id: uuid.UUID, caller: Caller, *, request_id: uuid.UUID | None = None,
                     withdraw: bool = False) -> datetime | None:
        """Record or withdraw an objection to direct marketing (see :meth:`SubjectService.object`)."""
        async with self._d.db.write() as session:
            return await SubjectService(session, self._d).object(customer_id, caller, request_id=request_id,
                                                                 withdraw=withdraw)

    async def counts(self) -> dict[str, int]:
        """How many customers are in each status (for `vault rights status`)."""
        async with self._d.db.read() as session:
            return await SubjectService(session, self._d).counts()

    # -- erasure ------------------------------------------------------------------------------------

    async def erase(self, customer_id: uuid.UUID, caller: Caller, *, request_id: uuid.UUID | None = None,
                    ) -> ErasureResult:
        """Erase one customer by crypto-shredding (see :meth:`ErasureService.erase`), then scrub.

        Raises:
            CustomerNotFoundError, RequestNotFoundError, RequestStateError, JournalError, AccessDeniedError,
            ErasureHeldError.
        """
        async with self._d.db.read() as session:
            purpose = await ErasureService(session, self._d).admit(customer_id, caller)
        async with self._d.db.write() as session:
            result = await ErasureService(session, self._d).erase(customer_id, caller, purpose,
                                                                  request_id=request_id)
        if result.erased:
            await shredder.scrub(self._d.db)
        return result

    async def erase_many(self, customer_ids: Sequence[uuid.UUID], caller: Caller, *, reason: str,
                         approves: int | None = None) -> ErasureResult | ErasureProposal:
        """Erase many customers in one transaction, or record a proposal a second officer approves
        (see :meth:`ErasureService.admit_bulk`), then scrub.

        Raises:
            InvalidInputError, JournalError, AccessDeniedError, SecondApprovalError.
        """
        async with self._d.db.read() as session:
            plan = await ErasureService(session, self._d).admit_bulk(customer_ids, caller, reason=reason,
                                                                     approves=approves)
        if isinstance(plan, ErasureProposal):
            return plan
        async with self._d.db.write() as session:
            result = await ErasureService(session, self._d).erase_bulk(plan, caller)
        await shredder.scrub(self._d.db)
        return result

    async def replay_erasures(self, caller: Caller) -> ReplayResult:
        """Re-apply every journal entry after a backup restore, one transaction per 500 entries
        (see :meth:`ErasureService.replay`), then scrub."""
        entries = list(self._d.journal.entries())
        total = ReplayResult(len(entries), 0, 0, 0, 0)
        now = as_utc(self._d.clock())
        for i in range(0, len(entries), JOURNAL_CHUNK):
            async with self._d.db.write() as session:
                r = await ErasureService(session, self._d).replay(entries[i:i + JOURNAL_CHUNK], caller, now)
            total = ReplayResult(total.entries, total.erased + r.erased, total.pseudonymized + r.pseudonymized,
                                 total.already + r.already, total.absent + r.absent)
        await shredder.scrub(self._d.db)
        return total

    async def unreplayed(self) -> int:
        """How many customers the erasure journal says are erased (or pseudonymized) but the database still
        holds: non-zero after a restore from a backup older than some erasures, until :meth:`replay_erasures`
        runs. Matched by id (read only)."""
        entries = list(self._d.journal.entries())
        pending = 0
        for i in range(0, len(entries), JOURNAL_CHUNK):
            async with self._d.db.read() as session:
                pending += await ErasureService(session, self._d).pending(entries[i:i + JOURNAL_CHUNK])
        return pending


class RetentionJob:
    """Retention runs (:mod:`vault.rights.retention`) in batches: ``vault rights retention``, the scheduler in
    ``vault serve`` and the console dashboard."""

    def __init__(self, deps: RightsDeps) -> None:
        self._d = deps

    async def plans(self, now: datetime) -> list[FieldPlan]:
        """The plan of every soft-deleted customer that still holds data and has something past retention (one
        read transaction per page)."""
        out: list[FieldPlan] = []
        last: uuid.UUID | None = None
        while True:
            async with self._d.db.read() as session:
                page, last = await RetentionService(session, self._d).plan_page(now, last)
            if last is None:
                return out
            out.extend(page)

    async def overdue(self) -> Overdue:
        """What a run would destroy now and has not yet: customers and fields past retention, the oldest due date,
        customers held (restriction, open request), and archive records past their statutory period."""
        now = as_utc(self._d.clock())
        plans = await self.plans(now)
        async with self._d.db.read() as session:
            expired = await RetentionService(session, self._d).expired_archive_records(now)
        return overdue_of(plans, expired)

    async def run(self, caller: Caller, *, dry_run: bool = False, mode: str = "erase",
                  batch_size: int = 1000) -> RetentionReport:
        """Plan every customer; unless ``dry_run``, destroy fields past retention, archive what only a law keeps,
        erase (or pseudonymize) customers with nothing left (journaled), and destroy expired archive records:
        one write transaction per ``batch_size`` customers, then the WAL scrub.

        Raises:
            InvalidInputError: unknown mode.
            JournalError: the journal cannot be written (nothing of that batch is erased then).
        """
        check_mode(mode)
        db = self._d.db
        now = as_utc(self._d.clock())
        plans = await self.plans(now)
        report = build_report(plans, mode, dry_run, now)
        if dry_run or not (report.due or report.fields_due):
            if not dry_run:
                async with db.write() as session:
                    report.archive_destroyed = await RetentionService(session, self._d).destroy_expired_archive(now)
            await self._d.audit.record_durable(AuditEvent(
                "retention.run", Outcome.ALLOWED, caller.actor, request_id=caller.request_id,
                detail=f"{'dry run: ' if dry_run else ''}{summary(report)}" + (
                    f"; {report.archive_destroyed} archive records destroyed" if report.archive_destroyed else "")))
            return report
        run_id = f"retention:{uuid.uuid4().hex[:12]}"
        by_id = {p.customer_id: p for p in plans}
        partial = [by_id[f.customer_id] for f in report.fields_due]
        for i in range(0, len(partial), batch_size):
            async with db.write() as session:
                report.archived += await RetentionService(session, self._d).apply_fields(
                    partial[i:i + batch_size], now, run_id, caller)
        for i in range(0, len(report.due), batch_size):
            ids = [d.customer_id for d in report.due[i:i + batch_size]]
            async with db.write() as session:
                applied, archived = await RetentionService(session, self._d).apply_whole(
                    ids, by_id, now, mode, run_id, caller)
            report.archived += archived
            report.applied += applied
        async with db.write() as session:
            await RetentionService(session, self._d).close_run(report, now, run_id, caller)
        await shredder.scrub(db)
        return report


class OversightRunner:
    """Breach impact and the monthly inspection (:class:`OversightService`), each in a read transaction."""

    def __init__(self, deps: OversightDeps) -> None:
        self._d = deps

    async def impact(self, query: ImpactQuery, caller: Caller) -> ImpactReport:
        """See :meth:`OversightService.impact`."""
        async with self._d.db.read() as session:
            return await OversightService(session, self._d).impact(query, caller)

    async def inspection(self, month: str, caller: Caller) -> InspectionReport:
        """See :meth:`OversightService.inspection`."""
        async with self._d.db.read() as session:
            return await OversightService(session, self._d).inspection(month, caller)

    async def sign_off(self, month: str, report_sha256: str, conclusion: str, caller: Caller) -> InspectionReport:
        """Sign the month's report off (see :meth:`OversightService.sign_off`), then read it again in a new
        transaction, which sees the sign-off entry.

        Raises:
            PermissionDeniedError, InspectionMismatchError.
        """
        async with self._d.db.read() as session:
            await OversightService(session, self._d).sign_off(month, report_sha256, conclusion, caller)
        async with self._d.db.read() as session:
            return await OversightService(session, self._d).report(month)
