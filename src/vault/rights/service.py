"""Data subject rights use cases: export, rectification, erasure, restriction, objection, and
replaying the erasure journal after a restore (the requests registry is :mod:`vault.rights.requests`).

Every use case checks the caller's permission and purpose (acting on a subject is purpose
``legal_claims``), audits allowed and denied calls alike, and opens its own short
transactions: erasure must write its journal entry before the database change commits and
scrub the SQLite WAL after it, so it cannot live inside a caller's transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome, subjects_digest
from vault.audit.models import AuditEntryRow
from vault.audit.subjects import SubjectList
from vault.customers import records
from vault.customers.cohorts import SqlCohortMembers
from vault.customers.errors import CustomerNotFoundError, InvalidFieldError
from vault.customers.models import CustomerCohortRow, CustomerRow
from vault.customers.repository import apply_changes
from vault.errors import InvalidInputError
from vault.lib.clock import as_utc, utcnow
from vault.lib.ids import new_id
from vault.policy.collection import CollectionPolicy, empty_statutes
from vault.policy.statutes import Cohort
from vault.rights import archive, shredder
from vault.rights.errors import ErasureHeldError, SecondApprovalError, SubjectErasedError
from vault.rights.export import build_export, history_field
from vault.rights.holds import CustomerFacts, RetentionRules
from vault.rights.journal import JournalEntry
from vault.rights.models import FieldHistoryRow, RightsRequestRow
from vault.rights.requests import RequestRegistry, RightsRequest, close_request, link_request

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.collection import CohortMembers
    from vault.policy.purposes import PurposeCatalogue
    from vault.rights.journal import ErasureJournal

Clock = Callable[[], datetime]
MAX_BULK_ERASURE = 100_000


@dataclass(frozen=True)
class RightsDeps:
    """Collaborators of :class:`RightsService`, built once per process."""

    db: Database
    keyring: Keyring
    catalogue: FieldCatalogue
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog
    journal: ErasureJournal
    clock: Clock = utcnow
    bulk_approval_over: int = 100  # larger bulk erasures wait for a second compliance officer
    #: Purpose-bound collection; None: purposes only, no statute registry (no statute-only field is collectable).
    collection: CollectionPolicy | None = None
    cohorts: CohortMembers = field(default_factory=SqlCohortMembers)


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


class RightsService:
    """Data subject rights; opens its own transactions."""

    def __init__(self, deps: RightsDeps) -> None:
        self._d = deps
        self._requests = RequestRegistry(deps.db, deps.guard, deps.audit, deps.clock)
        self._collection = deps.collection or CollectionPolicy(deps.purposes, deps.catalogue, empty_statutes())
        self._rules = RetentionRules(deps.purposes, deps.catalogue, self._collection.statutes)

    # -- access -------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return as_utc(self._d.clock())

    # -- registry -----------------------------------------------------------------------------------

    async def open_request(self, kind: str, customer_id: uuid.UUID, jurisdiction: str, caller: Caller, *,
                           received_at: datetime | None = None, channel: str | None = None) -> RightsRequest:
        """Register a request (see :meth:`RequestRegistry.open`)."""
        return await self._requests.open(kind, customer_id, jurisdiction, caller, received_at=received_at,
                                         channel=channel)

    async def list_requests(self, caller: Caller, *, status: str | None = None, customer_id: uuid.UUID | None = None,
                            limit: int = 100, offset: int = 0) -> list[RightsRequest]:
        """Requests, overdue first (see :meth:`RequestRegistry.list`)."""
        return await self._requests.list(caller, status=status, customer_id=customer_id, limit=limit, offset=offset)

    async def get_request(self, request_id: uuid.UUID, caller: Caller) -> RightsRequest:
        """One request."""
        return await self._requests.get(request_id, caller)

    async def update_request(self, request_id: uuid.UUID, caller: Caller, *, status: str | None = None,
                             outcome: str | None = None, extend: bool = False,
                             extension_reason: str | None = None) -> RightsRequest:
        """Move a request along (see :meth:`RequestRegistry.update`)."""
        return await self._requests.update(request_id, caller, status=status, outcome=outcome, extend=extend,
                                           extension_reason=extension_reason)

    async def _customer(self, session: AsyncSession, customer_id: uuid.UUID, *, live: bool = True) -> CustomerRow:
        row = await session.get(CustomerRow, customer_id)
        if row is None:
            raise CustomerNotFoundError(f"customer {customer_id} not found")
        if live and row.status in (shredder.ERASED, shredder.PSEUDONYMIZED):
            raise SubjectErasedError(
                f"customer {customer_id} was {row.status} on {as_utc(row.erased_at or row.updated_at).date()}; "
                "only the tombstone remains")
        return row

    # -- export -------------------------------------------------------------------------------------

    async def export(self, customer_id: uuid.UUID, caller: Caller, *,
                     request_id: uuid.UUID | None = None) -> dict[str, Any]:
        """The access/portability document (docs/export.schema.json); audited before it is returned.

        Raises:
            CustomerNotFoundError, RequestNotFoundError, RequestStateError, AccessDeniedError.
        """
        purpose = (await self._d.guard.require(caller, perms.SUBJECTS_EXPORT, "subject.export",
                                               customer_id=customer_id)).id
        now = self._now()
        async with self._d.db.read() as session:
            row = await self._customer(session, customer_id, live=False)
            await link_request(session, request_id, customer_id, "export")
            doc = await build_export(session, row, keyring=self._d.keyring, catalogue=self._d.catalogue,
                                     purposes=self._d.purposes, now=now)
        await self._d.audit.record_durable(AuditEvent(
            "subject.export", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=customer_id,
            fields=tuple(sorted(doc["fields"])), request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"request {request_id}" if request_id else None))
        if request_id is not None:
            async with self._d.db.write() as session:
                req = await link_request(session, request_id, customer_id, "export")
                close_request(req, caller, now, "export delivered")
        return doc

    # -- rectification ------------------------------------------------------------------------------

    async def rectify(self, customer_id: uuid.UUID, values: Mapping[str, object], caller: Caller, *,
                      request_id: uuid.UUID | None = None) -> list[str]:
        """Correct fields; each replaced value is kept sealed under the customer's DEK (so erasure removes it too).

        Returns the changed field names.

        Only the fields the request's purpose uses are accepted (a statute-only field, the RRN, only under
        its statute purpose and for a customer the statute covers; :mod:`vault.policy.collection`).

        Raises:
            InvalidInputError, InvalidFieldError, DuplicateCustomerError, CustomerNotFoundError, AccessDeniedError,
            FieldNotForPurposeError, NotCoveredByStatuteError.
        """
        bound = await self._d.guard.require(caller, perms.SUBJECTS_RECTIFY, "subject.rectify",
                                            customer_id=customer_id)
        purpose = bound.id
        if not values:
            raise InvalidInputError("no fields to rectify")
        unknown = sorted(k for k in values if k not in self._d.catalogue)
        if unknown:
            raise InvalidInputError(f"unknown fields {unknown}; accepted fields: {', '.join(self._d.catalogue.names)}",
                                    fields=unknown)
        changes: dict[str, str | None] = {}
        for name, raw in values.items():
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                if name == "customer_ref":
                    raise InvalidFieldError("customer_ref", "is required")
                changes[name] = None
            elif not isinstance(raw, str):
                raise InvalidFieldError(name, "must be a string")
            else:
                changes[name] = self._d.catalogue[name].clean(raw)
        coverage = self._collection.check(bound, changes)
        now = self._now()
        async with self._d.db.write() as session:
            row = await self._customer(session, customer_id)
            if coverage is not None and customer_id not in await self._d.cohorts.members(
                    session, coverage.cohort, [customer_id]):
                raise coverage.refusal()
            req = await link_request(session, request_id, customer_id, "rectify")
            key = records.customer_key(self._d.keyring, row)
            current = records.open_fields(key, row.sealed, set(changes))
            changed = {n: v for n, v in changes.items() if current.get(n) != v}
            history = []
            for name in changed:
                hid = new_id()
                old = current.get(name)
                history.append({
                    "id": hid, "customer_id": customer_id, "field": name, "dek_version": key.version,
                    "sealed": key.seal(history_field(name, hid), old) if old is not None else None,
                    "changed_at": now, "request_id": request_id, "actor_name": caller.actor.name,
                    "actor_role": caller.actor.role,
                })
            if changed:
                await session.execute(insert(FieldHistoryRow), history)
                await apply_changes(session, self._d.keyring, self._d.catalogue, row, key, changed, now)
            close_request(req, caller, now, f"rectified: {', '.join(sorted(changed)) or 'nothing changed'}")
            await self._d.audit.record(session, AuditEvent(
                "subject.rectify", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=customer_id,
                fields=tuple(sorted(changed)), request_id=caller.request_id, client_ip=caller.client_ip,
                detail=f"request {request_id}" if request_id else None))
        return sorted(changed)

    # -- erasure ------------------------------------------------------------------------------------

    async def erase(self, customer_id: uuid.UUID, caller: Caller, *, request_id: uuid.UUID | None = None,
                    ) -> ErasureResult:
        """Erase one customer by crypto-shredding (journaled first); answers an erasure request.

        Raises:
            CustomerNotFoundError, RequestNotFoundError, RequestStateError, JournalError, AccessDeniedError.
        """
        purpose = (await self._d.guard.require(caller, perms.SUBJECTS_ERASE, "subject.erase",
                                               customer_id=customer_id)).id
        now = self._now()
        async with self._d.db.read() as session:
            found_row = await session.get(CustomerRow, customer_id)
        if found_row is not None and found_row.restricted_at is not None and found_row.status != shredder.ERASED:
            await self._d.guard.deny(caller, "subject.erase", ErasureHeldError(
                f"customer {customer_id} is under a hold: processing restricted since "
                f"{as_utc(found_row.restricted_at).date()} (GDPR Art. 18(1)(c), 17(3)(e); PIPA Art. 37: kept for "
                "legal claims); lift the restriction first", customer_id=customer_id, reason="restriction"),
                customer_id=customer_id)
        async with self._d.db.write() as session:
            row = await self._customer(session, customer_id, live=False)
            req = await link_request(session, request_id, customer_id, "erase")
            if row.status == shredder.ERASED:
                close_request(req, caller, now, "already erased")
                return ErasureResult([], [customer_id])
            retained = await self._retain_statutory(session, [row], now)
            found = await shredder.targets(session, [customer_id])
            self._d.journal.append([JournalEntry(t.id, t.ref_digest, now, str(request_id) if request_id else
                                                 caller.request_id) for t in found])
            await shredder.erase_rows(session, [customer_id], now=now, request_id=request_id)
            kept = "; ".join(f"{', '.join(r.fields)} kept under statute {r.statute} until {r.until.date()} "
                             "(GDPR Art. 17(3)(b), PIPA Art. 21(1) proviso)" for r in retained)
            close_request(req, caller, now, "erased (crypto-shredded)" + (f"; {kept}" if kept else ""))
            await self._d.audit.record(session, AuditEvent(
                "subject.erase", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=customer_id,
                request_id=caller.request_id, client_ip=caller.client_ip,
                detail="; ".join(x for x in (f"request {request_id}" if request_id else "", kept) if x) or None))
        await shredder.scrub(self._d.db)
        return ErasureResult([customer_id], erased_at=now, retained=retained)

    async def _retain_statutory(self, session: AsyncSession, rows: Sequence[CustomerRow],
                                now: datetime) -> list[Retained]:
        """Before an erasure: move what a statute with a retention period requires keeping to the archive."""
        ids = [r.id for r in rows]
        cohorts: dict[uuid.UUID, set[Cohort]] = {}
        for cid, cohort in (await session.execute(select(CustomerCohortRow.customer_id, CustomerCohortRow.cohort)
                                                  .where(CustomerCohortRow.customer_id.in_(ids)))).all():
            cohorts.setdefault(cid, set()).add(Cohort(cohort))
        for cid in (await session.scalars(select(RightsRequestRow.customer_id)
                                          .where(RightsRequestRow.customer_id.in_(ids)))).all():
            cohorts.setdefault(cid, set()).add(Cohort.DATA_SUBJECTS_WITH_REQUESTS)
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
                moved = await archive.move(session, self._d.keyring, row, st, names, until, now,
                                           "erasure: kept under statute until its retention period ends")
                if moved:
                    out.append(Retained(row.id, st.id, st.citation, tuple(moved), until))
        return out

    async def erase_many(self, customer_ids: Sequence[uuid.UUID], caller: Caller, *, reason: str,
                         approves: int | None = None) -> ErasureResult | ErasureProposal:
        """Erase many customers in one transaction (one journal write, one audit entry listing them).

        More than ``bulk_approval_over`` customers take two compliance officers: the first call records a
        proposal (an audit entry over the same customers) and returns it; a different principal repeats the
        call with the same ids and reason and ``approves=<proposal>`` within 24 hours to carry it out.

        Raises:
            InvalidInputError, JournalError, AccessDeniedError, SecondApprovalError.
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
                return await self._propose_erasure(ids, caller, purpose, reason)
            await self._check_approval(ids, caller, reason, approves, now)
        async with self._d.db.write() as session:
            found = await shredder.targets(session, ids)
            existing: set[uuid.UUID] = set()
            held: set[uuid.UUID] = set()
            covered: set[uuid.UUID] = set()
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                existing.update((await session.scalars(select(CustomerRow.id).where(CustomerRow.id.in_(chunk)))).all())
                # restricted customers are held (GDPR 18(1)(c), 17(3)(e)): reported, not erased
                held.update((await session.scalars(select(CustomerRow.id).where(
                    CustomerRow.id.in_(chunk), CustomerRow.restricted_at.is_not(None),
                    CustomerRow.status != shredder.ERASED))).all())
                covered.update((await session.scalars(select(CustomerCohortRow.customer_id).where(
                    CustomerCohortRow.customer_id.in_(chunk)))).all())
            found = [t for t in found if t.id not in held]
            present = {t.id for t in found}
            rows = [r for c in sorted(covered & present) if (r := await session.get(CustomerRow, c)) is not None]
            retained = await self._retain_statutory(session, rows, now)
            self._d.journal.append([JournalEntry(t.id, t.ref_digest, now, caller.request_id) for t in found])
            await shredder.erase_rows(session, [t.id for t in found], now=now, request_id=None)
            await self._d.audit.record(session, AuditEvent(
                "subject.erase", Outcome.ALLOWED, caller.actor, purpose=purpose,
                subjects=tuple(sorted(present, key=lambda u: u.bytes)), subject_count=len(present),
                request_id=caller.request_id, client_ip=caller.client_ip,
                detail=(f"bulk erasure of {len(present)} customers: {reason}; {len(held)} held (restricted); "
                        f"{len(retained)} with fields kept under a statute (archived)")[:500]))
        await shredder.scrub(self._d.db)
        return ErasureResult([t.id for t in found],
                             [i for i in ids if i in existing and i not in present and i not in held],
                             [i for i in ids if i not in existing], now, retained, sorted(held, key=str))

    async def _propose_erasure(self, ids: list[uuid.UUID], caller: Caller, purpose: str | None,
                               reason: str) -> ErasureProposal:
        seq = await self._d.audit.record_bulk_durable(AuditEvent(
            "subject.erase.proposed", Outcome.ALLOWED, caller.actor, purpose=purpose, request_id=caller.request_id,
            client_ip=caller.client_ip, detail=f"{_reason_tag(reason)} awaiting a second compliance officer; "
                                               f"bulk erasure of {len(ids)} customers: {reason}"), _subjects(ids))
        return ErasureProposal(seq, len(ids))

    async def _check_approval(self, ids: list[uuid.UUID], caller: Caller, reason: str, approves: int,
                              now: datetime) -> None:
        async with self._d.db.read() as session:
            row = await session.get(AuditEntryRow, approves)
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

    async def replay_erasures(self, caller: Caller) -> ReplayResult:
        """Re-apply every journal entry (after a backup restore): whatever the journal says was erased is
        erased again, matched by id, or by customer_ref digest when a record of the same person created
        before the erasure came back under another id."""
        entries = list(self._d.journal.entries())
        erased = pseudonymized = already = absent = 0
        now = self._now()
        for i in range(0, len(entries), 500):
            chunk = entries[i:i + 500]
            async with self._d.db.write() as session:
                for action in ("erase", "pseudonymize"):
                    group = [e for e in chunk if e.action == action]
                    if not group:
                        continue
                    by_id = {e.customer_id: e for e in group}
                    digests = {e.ref_digest: e for e in group if e.ref_digest}
                    extra = (await session.execute(
                        select(CustomerRow.id, CustomerRow.ref_digest, CustomerRow.created_at)
                        .where(CustomerRow.ref_digest.in_(list(digests))))).all() if digests else []
                    for cid, digest, created in extra:
                        entry = digests.get(digest) if digest else None
                        if entry is not None and cid not in by_id and as_utc(created) <= entry.erased_at:
                            by_id[cid] = entry
                    todo = await shredder.targets(session, list(by_id), action=action)
                    present = set((await session.scalars(
                        select(CustomerRow.id).where(CustomerRow.id.in_(list(by_id))))).all())
                    absent += len([c for c in by_id if c not in present])
                    already += len(present) - len(todo)
                    if not todo:
                        continue
                    ids = [t.id for t in todo]
                    if action == "erase":
                        await shredder.erase_rows(session, ids, now=now, request_id=None)
                        erased += len(ids)
                    else:
                        await shredder.pseudonymize_rows(session, self._d.keyring, self._d.catalogue, ids, now=now)
                        pseudonymized += len(ids)
                    await self._d.audit.record(session, AuditEvent(
                        f"subject.{action}.replay", Outcome.ALLOWED, caller.actor,
                        subjects=tuple(sorted(ids, key=lambda u: u.bytes)), subject_count=len(ids),
                        request_id=caller.request_id, detail=f"erasure journal replay: {len(ids)} re-applied"))
        await shredder.scrub(self._d.db)
        return ReplayResult(len(entries), erased, pseudonymized, already, absent)

    async def unreplayed(self) -> int:
        """How many customers the erasure journal says are erased (or pseudonymized) but the database still
        holds: non-zero after a restore from a backup older than some erasures, until
        :meth:`replay_erasures` runs. Matched by id (read only)."""
        pending = 0
        entries = list(self._d.journal.entries())
        for i in range(0, len(entries), 500):
            chunk = entries[i:i + 500]
            async with self._d.db.read() as session:
                for action in ("erase", "pseudonymize"):
                    ids = [e.customer_id for e in chunk if e.action == action]
                    if ids:
                        pending += len(await shredder.targets(session, ids, action=action))
        return pending

    # -- restriction and objection ------------------------------------------------------------------

    async def restrict(self, customer_id: uuid.UUID, caller: Caller, *, request_id: uuid.UUID | None = None,
                       lift: bool = False) -> datetime | None:
        """Restrict processing (data kept, reads denied except legal claims), or lift the restriction.

        Returns when the restriction started (None once lifted).
        """
        purpose = (await self._d.guard.require(caller, perms.SUBJECTS_RESTRICT, "subject.restrict",
                                               customer_id=customer_id)).id
        now = self._now()
        async with self._d.db.write() as session:
            row = await self._customer(session, customer_id)
            req = await link_request(session, request_id, customer_id, "restrict") if not lift else None
            if lift:
                row.restricted_at, row.restriction_request_id = None, None
            elif row.restricted_at is None:
                row.restricted_at, row.restriction_request_id = now, request_id
            row.updated_at = now
            row.row_version += 1
            close_request(req, caller, now, "processing restricted")
            await self._d.audit.record(session, AuditEvent(
                "subject.restrict.lift" if lift else "subject.restrict", Outcome.ALLOWED, caller.actor,
                purpose=purpose, customer_id=customer_id, request_id=caller.request_id, client_ip=caller.client_ip,
                detail=f"request {request_id}" if request_id else None))
            return as_utc(row.restricted_at) if row.restricted_at else None

    async def object(self, customer_id: uuid.UUID, caller: Caller, *, request_id: uuid.UUID | None = None,
                     withdraw: bool = False) -> datetime | None:
        """Record (or withdraw) an objection to direct marketing: every marketing purpose stops at once."""
        purpose = (await self._d.guard.require(caller, perms.SUBJECTS_OBJECT, "subject.object",
                                               customer_id=customer_id)).id
        now = self._now()
        async with self._d.db.write() as session:
            row = await self._customer(session, customer_id)
            req = await link_request(session, request_id, customer_id, "object") if not withdraw else None
            if withdraw:
                row.objected_marketing_at = None
            elif row.objected_marketing_at is None:
                row.objected_marketing_at = now
            row.updated_at = now
            row.row_version += 1
            close_request(req, caller, now, "objection to direct marketing recorded")
            await self._d.audit.record(session, AuditEvent(
                "subject.object.withdraw" if withdraw else "subject.object", Outcome.ALLOWED, caller.actor,
                purpose=purpose, customer_id=customer_id, request_id=caller.request_id, client_ip=caller.client_ip,
                detail="direct marketing" + (f"; request {request_id}" if request_id else "")))
            return as_utc(row.objected_marketing_at) if row.objected_marketing_at else None

    async def counts(self) -> dict[str, int]:
        """How many customers are in each status (for `vault rights status`)."""
        async with self._d.db.read() as session:
            rows = (await session.execute(select(CustomerRow.status, func.count()).group_by(CustomerRow.status))).all()
        return {str(s): int(n) for s, n in rows}
