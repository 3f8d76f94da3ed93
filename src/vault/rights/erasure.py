"""Erasure by crypto-shredding: one customer, many (with a second approver over a threshold), and replaying
the erasure journal after a restore.

:class:`ErasureService` works on the session it is given and never commits. Each erasure writes its journal
entry before it returns, so the entry is on disk before the caller's transaction commits the change; after
the commit the caller scrubs the SQLite WAL (:func:`vault.rights.shredder.scrub`). The entry points run
this through :class:`vault.rights.runner.RightsRunner`, which owns both steps. Its SQL (the shredder's
statements among it) is behind :class:`vault.rights.repository.ErasureStore` (unit tests use an in-memory one).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome, subjects_digest
from vault.audit.subjects import SubjectList
from vault.customers import records
from vault.customers.errors import CustomerNotFoundError
from vault.errors import InvalidInputError
from vault.lib.clock import as_utc
from vault.policy.collection import CollectionPolicy, empty_statutes
from vault.rights import archive, shredder
from vault.rights.errors import ErasureHeldError, SecondApprovalError
from vault.rights.holds import CustomerFacts, RetentionRules
from vault.rights.journal import JournalEntry
from vault.rights.repository import SubjectRepository
from vault.rights.requests import close_request, link_request

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.customers.models import CustomerRow
    from vault.rights.deps import RightsDeps
    from vault.rights.journal import JournalEntry as Entry
    from vault.rights.repository import ErasureStore

MAX_BULK_ERASURE = 100_000


@dataclass(frozen=True, slots=True)
class Retained:
    """Fields an erasure could not destroy because a statute requires keeping them (GDPR 17(3)(b), PIPA 21(1)
    proviso): moved to the statutory archive until ``until``."""

    customer_id: uuid.UUID
    statute: str
    citation: str
    fields: tuple[str, ...]
    until: datetime


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """What an erasure did (``retained``: what a statute keeps, in the archive; ``held``: customers not erased
    because processing is restricted)."""

    erased: list[uuid.UUID]
    already_erased: list[uuid.UUID] = field(default_factory=list)
    not_found: list[uuid.UUID] = field(default_factory=list)
    erased_at: datetime | None = None
    retained: list[Retained] = field(default_factory=list)
    held: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ErasureProposal:
    """A bulk erasure waiting for a second approver: the audit entry that records it, and its size."""

    proposal: int
    customers: int


@dataclass(frozen=True, slots=True)
class BulkErasure:
    """A bulk erasure admitted (permission, size, reason, second approval): what :meth:`ErasureService.erase_bulk`
    carries out."""

    ids: list[uuid.UUID]
    purpose: str | None
    reason: str
    now: datetime


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What replaying the erasure journal did."""

    entries: int
    erased: int
    pseudonymized: int
    already: int
    absent: int


def _subjects(ids: list[uuid.UUID]) -> SubjectList:
    """The ids as a subject list: ascending (callers give them in any order; UUIDv7s made within one
    millisecond are not ordered either)."""
    out = SubjectList()
    for cid in sorted(set(ids), key=lambda u: u.bytes):
        out.append(cid)
    return out


def _reason_tag(reason: str) -> str:
    """Binds an approval to the proposal's reason without repeating it: ``reason=<sha256 prefix>``."""
    return f"reason={hashlib.sha256(reason.encode()).hexdigest()[:16]}"


class ErasureService:
    """Erasures on one session (the caller commits, then scrubs)."""

    def __init__(self, session: AsyncSession, deps: RightsDeps, *, repo: ErasureStore | None = None) -> None:
        self._session = session
        self._repo = repo if repo is not None else SubjectRepository(session)
        self._d = deps
        collection = deps.collection or CollectionPolicy(deps.purposes, deps.catalogue, empty_statutes())
        self._rules = RetentionRules(deps.purposes, deps.catalogue, collection.statutes)

    def _now(self) -> datetime:
        return as_utc(self._d.clock())

    # -- one customer -------------------------------------------------------------------------------

    async def admit(self, customer_id: uuid.UUID, caller: Caller) -> str | None:
        """Check an erasure may go ahead: permission, purpose, and no hold (a restricted customer is kept for
        legal claims). Run it in a read transaction before :meth:`erase`, so a denial is durable at once.

        Returns the request's purpose.

        Raises:
            AccessDeniedError, ErasureHeldError (both audited).
        """
        purpose = (await self._d.guard.require(caller, perms.SUBJECTS_ERASE, "subject.erase",
                                               customer_id=customer_id)).id
        row = await self._repo.customer(customer_id)
        if row is not None and row.restricted_at is not None and row.status != shredder.ERASED:
            await self._d.guard.deny(caller, "subject.erase", ErasureHeldError(
                f"customer {customer_id} is under a hold: processing restricted since "
                f"{as_utc(row.restricted_at).date()} (GDPR Art. 18(1)(c), 17(3)(e); PIPA Art. 37: kept for "
                "legal claims); lift the restriction first", customer_id=customer_id, reason="restriction"),
                customer_id=customer_id)
        return purpose

    async def erase(self, customer_id: uuid.UUID, caller: Caller, purpose: str | None, *,
                    request_id: uuid.UUID | None = None) -> ErasureResult:
        """Erase one admitted customer by crypto-shredding (journaled first); answers an erasure request.

        Raises:
            CustomerNotFoundError, RequestNotFoundError, RequestStateError, JournalError.
        """
        now = self._now()
        repo = self._repo
        row = await repo.customer(customer_id)
        if row is None:
            raise CustomerNotFoundError(f"customer {customer_id} not found")
        req = await link_request(repo, request_id, customer_id, "erase")
        if row.status == shredder.ERASED:
            close_request(req, caller, now, "already erased")
            return ErasureResult([], [customer_id])
        retained = await self._retain_statutory([row], now)
        found = await repo.targets([customer_id])
        self._d.journal.append([JournalEntry(t.id, t.ref_digest, now, str(request_id) if request_id else
                                             caller.request_id) for t in found])
        await repo.erase([customer_id], now=now, request_id=request_id)
        kept = "; ".join(f"{', '.join(r.fields)} kept under statute {r.statute} until {r.until.date()} "
                         "(GDPR Art. 17(3)(b), PIPA Art. 21(1) proviso)" for r in retained)
        close_request(req, caller, now, "erased (crypto-shredded)" + (f"; {kept}" if kept else ""))
        await self._d.audit.record(self._session, AuditEvent(
            "subject.erase", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail="; ".join(x for x in (f"request {request_id}" if request_id else "", kept) if x) or None))
        return ErasureResult([customer_id], erased_at=now, retained=retained)

    async def _retain_statutory(self, rows: Sequence[CustomerRow], now: datetime) -> list[Retained]:
        """Before an erasure: move what a statute with a retention period requires keeping to the archive."""
        cohorts = await self._repo.cohorts([r.id for r in rows])
        out: list[Retained] = []
        for row in rows:
            if row.wrapped_dek is None:
                continue
            ended = as_utc(row.deleted_at) if row.deleted_at else now
            facts = CustomerFacts(row.id, ended, tuple(records.sealed_field_names(row.sealed)),
                                  cohorts=frozenset(cohorts.get(row.id, ())))
            for st in self._rules.statutory(facts):
                until = ended + timedelta(days=st.retention_days or 0)
                names = [n for n in facts.fields if n in st.fields]
                if until <= now or not names:
                    continue
                record = archive.sealed_record(self._d.keyring, row, st, names, until, now,
                                               "erasure: kept under statute until its retention period ends")
                if record is not None:
                    await self._repo.add_archive(record)
                    out.append(Retained(row.id, st.id, st.citation, tuple(record.fields.split(",")), until))
        return out

    # -- many customers -----------------------------------------------------------------------------

    async def admit_bulk(self, customer_ids: Sequence[uuid.UUID], caller: Caller, *, reason: str,
                         approves: int | None = None) -> BulkErasure | ErasureProposal:
        """Check a bulk erasure may go ahead (run it in a read transaction before :meth:`erase_bulk`).

        More than ``bulk_approval_over`` customers take two compliance officers: the first call records a
        proposal (an audit entry over the same customers) and returns it; a different principal repeats the
        call with the same ids and reason and ``approves=<proposal>`` within 24 hours to carry it out.

        Raises:
            InvalidInputError, AccessDeniedError, SecondApprovalError.
        """
        purpose = (await self._d.guard.require(caller, perms.SUBJECTS_ERASE, "subject.erase")).id
        if not customer_ids or len(customer_ids) > MAX_BULK_ERASURE:
            raise InvalidInputError(f"give 1 to {MAX_BULK_ERASURE} customer ids", field="customer_ids")
        if not reason or len(reason) > 200:
            raise InvalidInputError("reason must be 1-200 characters (no personal data)", field="reason")
        now = self._now()
        ids = list(dict.fromkeys(customer_ids))
        if len(ids) > self._d.bulk_approval_over and caller.principal is not None:
            if approves is None:
                seq = await self._d.audit.record_bulk_durable(AuditEvent(
                    "subject.erase.proposed", Outcome.ALLOWED, caller.actor, purpose=purpose,
                    request_id=caller.request_id, client_ip=caller.client_ip,
                    detail=f"{_reason_tag(reason)} awaiting a second compliance officer; "
                           f"bulk erasure of {len(ids)} customers: {reason}"), _subjects(ids))
                return ErasureProposal(seq, len(ids))
            await self._check_approval(ids, caller, reason, approves, now)
        return BulkErasure(ids, purpose, reason, now)

    async def _check_approval(self, ids: list[uuid.UUID], caller: Caller, reason: str, approves: int,
                              now: datetime) -> None:
        row = await self._repo.audit_entry(approves)
        why = None
        if row is None or row.action != "subject.erase.proposed":
            why = f"entry {approves} is not a bulk erasure proposal"
        elif caller.principal is not None and row.principal_id == caller.principal.id:
            why = "the proposer cannot approve their own bulk erasure"
        elif as_utc(row.ts) < now - timedelta(hours=24):
            why = f"proposal {approves} is older than 24 hours; propose again"
        elif row.subjects_digest != subjects_digest(ids) or not (row.detail or "").startswith(_reason_tag(reason)):
            why = f"the customers or the reason differ from proposal {approves}"
        if why is not None:
            await self._d.guard.deny(caller, "subject.erase", SecondApprovalError(why, proposal=approves))

    async def erase_bulk(self, plan: BulkErasure, caller: Caller) -> ErasureResult:
        """Erase an admitted bulk erasure (one journal write, one audit entry listing the customers).

        Raises:
            JournalError.
        """
        repo, ids, now = self._repo, plan.ids, plan.now
        found = await repo.targets(ids)
        existing = await repo.existing(ids)
        # restricted customers are held (GDPR 18(1)(c), 17(3)(e)): reported, not erased
        held = await repo.held(ids)
        covered = await repo.in_cohorts(ids)
        found = [t for t in found if t.id not in held]
        present = {t.id for t in found}
        rows = [r for c in sorted(covered & present) if (r := await repo.customer(c)) is not None]
        retained = await self._retain_statutory(rows, now)
        self._d.journal.append([JournalEntry(t.id, t.ref_digest, now, caller.request_id) for t in found])
        await repo.erase([t.id for t in found], now=now, request_id=None)
        await self._d.audit.record(self._session, AuditEvent(
            "subject.erase", Outcome.ALLOWED, caller.actor, purpose=plan.purpose,
            subjects=tuple(sorted(present, key=lambda u: u.bytes)), subject_count=len(present),
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail=(f"bulk erasure of {len(present)} customers: {plan.reason}; {len(held)} held (restricted); "
                    f"{len(retained)} with fields kept under a statute (archived)")[:500]))
        return ErasureResult([t.id for t in found],
                             [i for i in ids if i in existing and i not in present and i not in held],
                             [i for i in ids if i not in existing], now, retained, sorted(held, key=str))

    # -- the journal after a restore ----------------------------------------------------------------

    async def replay(self, chunk: Sequence[Entry], caller: Caller, now: datetime) -> ReplayResult:
        """Re-apply one chunk of journal entries: whatever the journal says was erased is erased again, matched by
        id, or by customer_ref digest when a record of the same person created before the erasure came back under
        another id."""
        repo = self._repo
        erased = pseudonymized = already = absent = 0
        for action in ("erase", "pseudonymize"):
            group = [e for e in chunk if e.action == action]
            if not group:
                continue
            by_id = {e.customer_id: e for e in group}
            digests = {e.ref_digest: e for e in group if e.ref_digest}
            extra = await repo.by_ref_digests(list(digests)) if digests else []
            for cid, digest, created in extra:
                entry = digests.get(digest) if digest else None
                if entry is not None and cid not in by_id and as_utc(created) <= entry.erased_at:
                    by_id[cid] = entry
            todo = await repo.targets(list(by_id), action=action)
            present = await repo.existing(list(by_id))
            absent += len([c for c in by_id if c not in present])
            already += len(present) - len(todo)
            if not todo:
                continue
            ids = [t.id for t in todo]
            if action == "erase":
                await repo.erase(ids, now=now, request_id=None)
                erased += len(ids)
            else:
                await repo.pseudonymize(self._d.keyring, self._d.catalogue, ids, now=now)
                pseudonymized += len(ids)
            await self._d.audit.record(self._session, AuditEvent(
                f"subject.{action}.replay", Outcome.ALLOWED, caller.actor,
                subjects=tuple(sorted(ids, key=lambda u: u.bytes)), subject_count=len(ids),
                request_id=caller.request_id, detail=f"erasure journal replay: {len(ids)} re-applied"))
        return ReplayResult(len(chunk), erased, pseudonymized, already, absent)

    async def pending(self, chunk: Sequence[Entry]) -> int:
        """How many customers of one chunk of journal entries the database still holds (matched by id)."""
        out = 0
        for action in ("erase", "pseudonymize"):
            ids = [e.customer_id for e in chunk if e.action == action]
            if ids:
                out += len(await self._repo.targets(ids, action=action))
        return out
