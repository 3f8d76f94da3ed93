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
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vault.lib.clock import as_utc
from vault.rights import shredder
from vault.rights.erasure import ErasureProposal, ErasureResult, ErasureService, ReplayResult
from vault.rights.requests import RequestRegistry, RightsRequest
from vault.rights.subject import SubjectService

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.rights.deps import RightsDeps

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
