"""Acting on one data subject's record: access/portability export, rectification, restriction, objection.

Every use case checks the caller's permission and purpose (acting on a subject is purpose ``legal_claims``)
through the one guard, audits allowed and denied calls alike, and works on the session it is given: the caller
opens and commits the transaction (:class:`vault.rights.runner.RightsRunner` for the entry points). An export is
read in a read transaction and audited durably before it is returned; closing its request is a separate write.
Its SQL is behind :class:`vault.rights.repository.SubjectStore` (unit tests use an in-memory one).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.customers import records
from vault.customers.errors import CustomerNotFoundError, InvalidFieldError
from vault.errors import InvalidInputError
from vault.lib.clock import as_utc
from vault.lib.ids import new_id
from vault.policy.collection import CollectionPolicy, empty_statutes
from vault.rights import shredder
from vault.rights.errors import SubjectErasedError
from vault.rights.export import build_export, history_field
from vault.rights.repository import SubjectRepository
from vault.rights.requests import close_request, link_request

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.customers.models import CustomerRow
    from vault.rights.deps import RightsDeps
    from vault.rights.repository import SubjectStore


class SubjectService:
    """Export, rectification, restriction and objection on one session (the caller commits)."""

    def __init__(self, session: AsyncSession, deps: RightsDeps, *, repo: SubjectStore | None = None) -> None:
        self._session = session
        self._repo = repo if repo is not None else SubjectRepository(session)
        self._d = deps
        self._collection = deps.collection or CollectionPolicy(deps.purposes, deps.catalogue, empty_statutes())

    def _now(self) -> datetime:
        return as_utc(self._d.clock())

    async def _customer(self, customer_id: uuid.UUID, *, live: bool = True) -> CustomerRow:
        row = await self._repo.customer(customer_id)
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
        """The access/portability document (docs/export.schema.json); audited durably before it is returned,
        so run it in a read transaction (then :meth:`close_request` in a write one, when it answers a request).

        Raises:
            CustomerNotFoundError, RequestNotFoundError, RequestStateError, AccessDeniedError.
        """
        purpose = (await self._d.guard.require(caller, perms.SUBJECTS_EXPORT, "subject.export",
                                               customer_id=customer_id)).id
        row = await self._customer(customer_id, live=False)
        await link_request(self._repo, request_id, customer_id, "export")
        doc = build_export(row, await self._repo.export_data(row), keyring=self._d.keyring,
                           catalogue=self._d.catalogue, purposes=self._d.purposes, now=self._now())
        await self._d.audit.record_durable(AuditEvent(
            "subject.export", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=customer_id,
            fields=tuple(sorted(doc["fields"])), request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"request {request_id}" if request_id else None))
        return doc

    async def close_request(self, request_id: uuid.UUID, customer_id: uuid.UUID, action: str, caller: Caller,
                            outcome: str) -> None:
        """Mark the request ``action`` answered as completed with ``outcome`` (no personal data).

        Raises:
            RequestNotFoundError, RequestStateError.
        """
        req = await link_request(self._repo, request_id, customer_id, action)
        close_request(req, caller, self._now(), outcome)

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
        session = self._session
        row = await self._customer(customer_id)
        if coverage is not None and customer_id not in await self._d.cohorts.members(
                session, coverage.cohort, [customer_id]):
            raise coverage.refusal()
        req = await link_request(self._repo, request_id, customer_id, "rectify")
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
            await self._repo.add_history(history)
            await self._repo.save_changes(self._d.keyring, self._d.catalogue, row, key, changed, now)
        close_request(req, caller, now, f"rectified: {', '.join(sorted(changed)) or 'nothing changed'}")
        await self._d.audit.record(session, AuditEvent(
            "subject.rectify", Outcome.ALLOWED, caller.actor, purpose=bound.id, customer_id=customer_id,
            fields=tuple(sorted(changed)), request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"request {request_id}" if request_id else None))
        return sorted(changed)

    # -- restriction and objection ------------------------------------------------------------------

    async def restrict(self, customer_id: uuid.UUID, caller: Caller, *, request_id: uuid.UUID | None = None,
                       lift: bool = False) -> datetime | None:
        """Restrict processing (data kept, reads denied except legal claims), or lift the restriction.

        Returns when the restriction started (None once lifted).
        """
        purpose = (await self._d.guard.require(caller, perms.SUBJECTS_RESTRICT, "subject.restrict",
                                               customer_id=customer_id)).id
        now = self._now()
        row = await self._customer(customer_id)
        req = await link_request(self._repo, request_id, customer_id, "restrict") if not lift else None
        if lift:
            row.restricted_at, row.restriction_request_id = None, None
        elif row.restricted_at is None:
            row.restricted_at, row.restriction_request_id = now, request_id
        row.updated_at = now
        row.row_version += 1
        close_request(req, caller, now, "processing restricted")
        await self._d.audit.record(self._session, AuditEvent(
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
        row = await self._customer(customer_id)
        req = await link_request(self._repo, request_id, customer_id, "object") if not withdraw else None
        if withdraw:
            row.objected_marketing_at = None
        elif row.objected_marketing_at is None:
            row.objected_marketing_at = now
        row.updated_at = now
        row.row_version += 1
        close_request(req, caller, now, "objection to direct marketing recorded")
        await self._d.audit.record(self._session, AuditEvent(
            "subject.object.withdraw" if withdraw else "subject.object", Outcome.ALLOWED, caller.actor,
            purpose=purpose, customer_id=customer_id, request_id=caller.request_id, client_ip=caller.client_ip,
            detail="direct marketing" + (f"; request {request_id}" if request_id else "")))
        return as_utc(row.objected_marketing_at) if row.objected_marketing_at else None

    async def counts(self) -> dict[str, int]:
        """How many customers are in each status (for `vault rights status`)."""
        return await self._repo.status_counts()
