"""Customer use cases: create, read, look up, update, soft-delete.

Every read names a purpose; the role must be allowed it, the customer must have
a lawful basis for it, and the access is audited (denials too) before any data
leaves. Writes are audited in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from vault.access import permissions as perms
from vault.access.errors import PermissionDeniedError
from vault.audit.entry import AuditEvent, Outcome
from vault.customers import records
from vault.customers.cohorts import SqlCohortMembers
from vault.customers.errors import (
    CustomerNotFoundError,
    IdempotencyConflictError,
    InvalidFieldError,
    StaleWriteError,
)
from vault.customers.gate import restriction_error
from vault.customers.models import CustomerRow, IdempotencyRow
from vault.customers.repository import CustomerRepository
from vault.errors import InvalidInputError, RateLimitedError
from vault.lib.clock import as_utc, utcnow
from vault.policy.collection import CollectionPolicy, empty_statutes
from vault.policy.masks import mask
from vault.policy.statutes import Cohort

# How long a create's Idempotency-Key is remembered; after that a replay creates afresh (or conflicts).
IDEMPOTENCY_TTL = timedelta(hours=24)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.access.policy import Visibility
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.customers.repository import CustomerStore
    from vault.db.engine import Database
    from vault.lib.ratelimit import ConcurrencyLimit, SlidingWindow
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.collection import CohortMembers
    from vault.policy.purposes import Purpose, PurposeCatalogue


@dataclass(frozen=True, slots=True)
class CustomerView:
    """A customer as one caller may see it: only visible fields, masked where required."""

    id: uuid.UUID
    status: str
    created_at: datetime
    updated_at: datetime
    row_version: int
    fields: dict[str, str]
    masked: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    verified_at: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerDeps:
    """Collaborators of :class:`CustomerService`, built once per process."""

    keyring: Keyring
    catalogue: FieldCatalogue
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog
    db: Database | None = None  # when given, point reads bypass the session (fast path)
    #: Builds the storage the use cases run on (an in-memory fake in unit tests).
    store: Callable[[AsyncSession, Database | None], CustomerStore] = CustomerRepository
    lookups: SlidingWindow | None = None  # per-principal lookup rate (None: unlimited, e.g. the CLI)
    lookup_misses: SlidingWindow | None = None  # per-principal empty lookups; reaching its limit raises an alert
    detection_slots: ConcurrencyLimit | None = None  # per-principal PII detection runs in flight
    #: Purpose-bound collection; None: purposes only, no statute registry (no statute-only field is collectable).
    collection: CollectionPolicy | None = None
    cohorts: CohortMembers = field(default_factory=SqlCohortMembers)


class CustomerService:
    """Customer use cases for one session (the caller commits)."""

    def __init__(self, session: AsyncSession, deps: CustomerDeps) -> None:
        self._session = session
        self._d = deps
        self._repo = deps.store(session, deps.db)
        self._collection = deps.collection or CollectionPolicy(deps.purposes, deps.catalogue, empty_statutes())

    # -- validation -----------------------------------------------------------------------------

    def clean(self, values: Mapping[str, object], *, partial: bool = False) -> dict[str, str | None]:
        """Normalize and validate input values against the catalogue.

        Raises:
            InvalidInputError: unknown fields (listing the accepted ones).
            InvalidFieldError: a value fails its field's rules (naming only the field).
        """
        unknown = sorted(k for k in values if k not in self._d.catalogue)
        if unknown:
            raise InvalidInputError(
                f"unknown fields {unknown}; accepted fields: {', '.join(self._d.catalogue.names)}",
                fields=unknown,
            )
        out: dict[str, str | None] = {}
        for name, raw in values.items():
            if raw is None or (isinstance(raw, str) and raw.strip() == ""):
                if name == "customer_ref":
                    raise InvalidFieldError("customer_ref", "is required")
                if partial:
                    out[name] = None
                continue
            if not isinstance(raw, str):
                raise InvalidFieldError(name, "must be a string")
            out[name] = self._d.catalogue[name].clean(raw)
        if not partial and "customer_ref" not in out:
            raise InvalidFieldError("customer_ref", "is required")
        return out

    # -- use cases ------------------------------------------------------------------------------

    async def create(
        self, values: Mapping[str, object], caller: Caller, *, idempotency_key: str | None = None
    ) -> tuple[CustomerView, bool]:
        """Create a customer; returns (view, created). A replayed Idempotency-Key returns created=False.

        Raises:
            DuplicateCustomerError, IdempotencyConflictError, InvalidInputError, AccessDeniedError.
        """
        purpose = await self._d.guard.require(caller, perms.CUSTOMERS_CREATE, "customer.create")
        clean = {k: v for k, v in self.clean(values).items() if v is not None}
        await self._collectable(purpose, clean, None)
        await self._require_writable(caller, purpose, clean, "customer.create")
        digest = hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).digest()
        principal_id = caller.principal.id if caller.principal else uuid.UUID(int=0)
        if idempotency_key is not None:
            prior = await self._repo.idempotent(principal_id, idempotency_key)
            if prior is not None and as_utc(prior.created_at) + IDEMPOTENCY_TTL <= utcnow():
                prior = None  # expired: the key starts afresh (remember() replaces the old record)
            if prior is not None:
                if prior.request_digest != digest:
                    raise IdempotencyConflictError(
                        "Idempotency-Key was already used with a different request body")
                return await self._replay(prior.customer_id, caller, purpose), False
        sealed = records.seal_new(self._d.keyring, self._d.catalogue, clean)
        cid = sealed.row["id"]
        await self._repo.add(sealed)
        if idempotency_key is not None:
            await self._repo.remember(IdempotencyRow(principal_id=principal_id, key=idempotency_key,
                                                     request_digest=digest, customer_id=cid, created_at=utcnow()))
        await self._d.audit.record(self._session, AuditEvent(
            "customer.create", Outcome.ALLOWED, caller.actor, purpose=purpose.id, customer_id=cid,
            fields=tuple(sorted(clean)), request_id=caller.request_id, client_ip=caller.client_ip,
        ))
        # The view comes from what was just sealed: no read-back round trip inside the write transaction.
        row = cast("CustomerRow", SimpleNamespace(**sealed.row))  # read-only: no ORM instance to build
        visible = self._d.guard.visible_fields(caller, purpose)
        return self._to_view(row, visible, {k: v for k, v in clean.items() if k in visible}), True

    async def _replay(self, cid: uuid.UUID, caller: Caller, purpose: Purpose) -> CustomerView:
        """A replayed create: the customer's id only, after the checks a read passes.

        The current field values are never returned: they may have changed since, and the customer
        may since have restricted processing, objected or been deleted or erased.
        """
        action = "customer.create.replay"
        row = await self._repo.get(cid)
        if row is None or not self._readable(row, purpose):
            await self._d.audit.record_durable(AuditEvent(
                action, Outcome.FAILED, caller.actor, purpose=purpose.id, customer_id=cid,
                request_id=caller.request_id, client_ip=caller.client_ip, detail="not found"))
            raise CustomerNotFoundError(f"customer {cid} not found")
        await self._d.guard.admit(caller, purpose, action, row, self._session)
        await self._d.audit.record(self._session, AuditEvent(
            action, Outcome.ALLOWED, caller.actor, purpose=purpose.id, customer_id=cid,
            request_id=caller.request_id, client_ip=caller.client_ip, detail="replay: id only"))
        return CustomerView(row.id, row.status, as_utc(row.created_at), as_utc(row.updated_at), row.row_version, {})

    async def get(self, customer_id: uuid.UUID, caller: Caller, *, masked: bool = False) -> CustomerView:
        """Read one customer for the caller's purpose, audited before it is returned.

        Args:
            masked: mask every field, even those the role may see in clear (the console's default view;
                :meth:`reveal` shows one field in clear, audited on its own).

        Raises:
            CustomerNotFoundError, AccessDeniedError (purpose, permission or lawful basis).
        """
        purpose, visible = await self._d.guard.require_fields(caller, "customer.read", customer_id=customer_id)
        if masked:
            visible = dict.fromkeys(visible, "masked")
        row = await self._fetch(customer_id)
        if row is None or not self._readable(row, purpose):
            await self._d.audit.record_durable(AuditEvent(
                "customer.read", Outcome.FAILED, caller.actor, purpose=purpose.id, customer_id=customer_id,
                request_id=caller.request_id, client_ip=caller.client_ip, detail="not found"))
            raise CustomerNotFoundError(f"customer {customer_id} not found")
        await self._d.guard.admit(caller, purpose, "customer.read", row, self._session)
        view = self._to_view(row, visible, self._open(row, visible))
        await self._d.audit.record_durable(AuditEvent(
            "customer.read", Outcome.ALLOWED, caller.actor, purpose=purpose.id, customer_id=customer_id,
            fields=tuple(sorted(view.fields)), request_id=caller.request_id, client_ip=caller.client_ip))
        return view

    async def reveal(self, customer_id: uuid.UUID, name: str, caller: Caller) -> str:
        """One field in clear, for a role allowed to read it in clear for the caller's purpose (audited as
        ``customer.reveal`` with the field name, before the value is returned).

        Raises:
            InvalidInputError, CustomerNotFoundError, AccessDeniedError (purpose, permission, restriction or
            lawful basis; each denial audited by the guard).
        """
        if name not in self._d.catalogue:
            raise InvalidInputError(f"unknown field {name!r}")
        purpose, visible = await self._d.guard.require_fields(caller, "customer.reveal", customer_id=customer_id)
        if visible.get(name) != "clear":
            await self._d.guard.deny(caller, "customer.reveal", PermissionDeniedError(
                f"role {caller.role!r} may not see {name!r} in clear for purpose {purpose.id!r}",
                permission=str(perms.CUSTOMERS_READ), purpose=purpose.id), customer_id=customer_id, fields=(name,))
        row = await self._fetch(customer_id)
        if row is None or not self._readable(row, purpose):
            raise CustomerNotFoundError(f"customer {customer_id} not found")
        await self._d.guard.admit(caller, purpose, "customer.reveal", row, self._session)
        value = self._open(row, {name: "clear"}).get(name, "")
        await self._d.audit.record_durable(AuditEvent(
            "customer.reveal", Outcome.ALLOWED, caller.actor, purpose=purpose.id, customer_id=customer_id,
            fields=(name,), request_id=caller.request_id, client_ip=caller.client_ip))
        return value

    async def lookup(self, by: str, value: str, caller: Caller) -> list[CustomerView]:
        """Exact lookup through a blind index (email, phone, customer_ref, rrn).

        The caller must be allowed to see the searched field for the purpose.
        """
        if by not in self._d.catalogue or not self._d.catalogue[by].searchable:
            raise InvalidInputError(
                f"cannot look up by {by!r}; searchable fields: {', '.join(self._d.catalogue.searchable)}")
        purpose, visible = await self._d.guard.require_fields(caller, "customer.lookup")
        if visible.get(by) != "clear":
            # A field seen only masked must not be searchable: exact lookups against the mask's hidden digits
            # would recover the value one guess at a time.
            await self._d.guard.deny(caller, "customer.lookup", PermissionDeniedError(
                f"role {caller.role!r} may not search by {by!r} for purpose {purpose.id!r} "
                "(only by fields it sees in clear)", permission=str(perms.CUSTOMERS_READ), purpose=purpose.id))
        await self._rate_limit_lookup(caller, purpose)
        normalized = self._d.catalogue[by].clean(value)
        # Every live index-key version: during an index-key rotation a customer is found whether rebuilt or not.
        digests = self._d.keyring.index_digests(by, normalized)
        found = [r for r in await self._repo.find_indexed(by, digests, limit=100) if self._readable(r, purpose)]
        # Restricted customers (and, for direct marketing, objecting ones) are withheld like those without a basis.
        rows = [r for r in found if restriction_error(r, purpose, caller.role) is None]
        allowed = await self._d.guard.lawful.with_basis(self._session, [r.id for r in rows], purpose)
        views = [self._to_view(r, visible, self._open(r, visible)) for r in rows if r.id in allowed]
        ids = tuple(v.id for v in views)
        await self._d.audit.record_durable(AuditEvent(
            "customer.lookup", Outcome.ALLOWED, caller.actor, purpose=purpose.id,
            customer_id=ids[0] if len(ids) == 1 else None, subjects=ids if len(ids) > 1 else (),
            subject_count=len(ids), fields=(by,), request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"lookup by {by}; {len(found) - len(views)} withheld: restricted, objected or no lawful basis"
            if len(found) > len(views) else f"lookup by {by}"))
        if not views:
            await self._count_miss(caller, purpose, by)
        return views

    async def _rate_limit_lookup(self, caller: Caller, purpose: Purpose) -> None:
        if self._d.lookups is None or caller.principal is None:
            return
        wait = self._d.lookups.hit(caller.principal.id)
        if wait:
            await self._d.guard.deny(caller, "customer.lookup", RateLimitedError(
                f"lookup rate exceeded: at most {self._d.lookups.limit} lookups per "
                f"{self._d.lookups.window:g} s per principal (per worker); retry in {wait} s", retry_after=wait),
                purpose=purpose.id, context="rate limited:")

    async def _count_miss(self, caller: Caller, purpose: Purpose, by: str) -> None:
        misses = self._d.lookup_misses
        if misses is None or caller.principal is None:
            return
        misses.hit(caller.principal.id)
        if misses.count(caller.principal.id) >= misses.limit:
            misses.reset(caller.principal.id)
            await self._d.audit.record_durable(AuditEvent(
                "alert.lookup_misses", Outcome.ALERT, caller.actor, purpose=purpose.id, fields=(by,),
                request_id=caller.request_id, client_ip=caller.client_ip,
                detail=f"{misses.limit} lookups without a result within {misses.window:g} s: "
                       "possible enumeration of contact data"))

    async def update(
        self, customer_id: uuid.UUID, values: Mapping[str, object], caller: Caller, *,
        expected_version: int | None = None,
    ) -> CustomerView:
        """Change fields (None / empty removes an optional field); audited with the changed field names.

        Raises:
            CustomerNotFoundError, StaleWriteError, DuplicateCustomerError, InvalidInputError, AccessDeniedError.
        """
        purpose = await self._d.guard.require(caller, perms.CUSTOMERS_UPDATE, "customer.update",
                                              customer_id=customer_id)
        if not values:
            raise InvalidInputError("no fields to update")
        changes = self.clean(values, partial=True)
        await self._collectable(purpose, changes, customer_id)
        await self._require_writable(caller, purpose, changes, "customer.update", customer_id)
        await self._gate(caller, purpose, "customer.update", customer_id)
        row = await self._load(customer_id)
        # The response discloses the record: the lawful basis binds it as it binds a read.
        await self._d.guard.admit(caller, purpose, "customer.update", row, self._session)
        if expected_version is not None and expected_version != row.row_version:
            raise StaleWriteError(f"customer {customer_id} is at version {row.row_version}, not {expected_version}")
        key = records.customer_key(self._d.keyring, row)
        # Every submitted field is rewritten, equal or not: the version, the ETag and the audit entry must not
        # tell a caller whether a guessed value matched the stored one.
        await self._repo.save_changes(self._d.keyring, self._d.catalogue, row, key, dict(changes), utcnow())
        await self._d.audit.record(self._session, AuditEvent(
            "customer.update", Outcome.ALLOWED, caller.actor, purpose=purpose.id, customer_id=customer_id,
            fields=tuple(sorted(changes)), request_id=caller.request_id, client_ip=caller.client_ip))
        visible = self._d.guard.visible_fields(caller, purpose)
        view = self._to_view(row, visible, self._open(row, visible))
        # The response carries the record: audited as a disclosure of exactly the fields it returns.
        await self._d.audit.record(self._session, AuditEvent(
            "customer.disclose", Outcome.ALLOWED, caller.actor, purpose=purpose.id, customer_id=customer_id,
            fields=tuple(sorted(view.fields)), request_id=caller.request_id, client_ip=caller.client_ip,
            detail="returned by customer.update"))
        return view

    async def _collectable(self, purpose: Purpose, names: Mapping[str, object],
                           customer_id: uuid.UUID | None) -> None:
        """Purpose-bound collection (:mod:`vault.policy.collection`), for every caller, the CLI operator too.

        Raises:
            FieldNotForPurposeError: a field the purpose does not collect (422, naming field and purpose).
            NotCoveredByStatuteError: a statute-only field for a customer the statute does not cover (a new
                customer is covered by no statute until recorded in its cohort).
        """
        coverage = self._collection.check(purpose, names)
        if coverage is None:
            return
        if customer_id is None or customer_id not in await self._d.cohorts.members(
                self._session, coverage.cohort, [customer_id]):
            raise coverage.refusal()

    async def record_cohort(self, customer_id: uuid.UUID, cohort: str, reference: str, caller: Caller) -> None:
        """Record that the statute of the caller's purpose covers this customer (e.g. a prize winner under
        ``tax_reporting``), citing ``reference`` (a draw or case number, no personal data); audited.

        Raises:
            InvalidInputError: the purpose rests on no statute covering ``cohort``, or a bad reference.
            CustomerNotFoundError, AccessDeniedError (``customers:update`` for the purpose).
        """
        purpose = await self._d.guard.require(caller, perms.CUSTOMERS_UPDATE, "customer.cohort",
                                              customer_id=customer_id)
        statute = self._collection.statute(purpose)
        if statute is None or statute.covers.value != cohort or statute.covers is Cohort.ALL_CUSTOMERS:
            raise InvalidInputError(
                f"purpose {purpose.id!r} rests on no statute covering cohort {cohort!r}"
                + (f" (its statute {statute.id!r} covers {statute.covers.value})" if statute else ""), field="cohort")
        reference = reference.strip()
        if not 1 <= len(reference) <= 100:
            raise InvalidInputError("reference must be 1-100 characters (a draw or case number, no personal data)",
                                    field="reference")
        await self._gate(caller, purpose, "customer.cohort", customer_id)
        await self._load(customer_id)
        await self._d.cohorts.record(self._session, [customer_id], statute.covers, reference, caller.actor.name,
                                     utcnow())
        await self._d.audit.record(self._session, AuditEvent(
            "customer.cohort", Outcome.ALLOWED, caller.actor, purpose=purpose.id, customer_id=customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"covered by statute {statute.id} as one of {statute.covers.value}"))

    async def _require_writable(self, caller: Caller, purpose: Purpose, names: Mapping[str, object], action: str,
                                customer_id: uuid.UUID | None = None) -> None:
        """Deny (audited) writes to fields the role may not read for the purpose, or statute-only fields
        outside a purpose with a statute basis. The CLI operator (shell access to the key file, importing
        whole files) is not bound, as for every other permission check."""
        if caller.principal is None:
            return
        visible = self._d.guard.visible_fields(caller, purpose)
        statute = sorted(n for n in names if self._d.catalogue[n].requires_statute and not purpose.statute_ref)
        denied = sorted(set(statute) | {n for n in names if n not in visible})
        if not denied:
            return
        why = (f"fields {statute} may only be written under a purpose with a statute basis" if statute else
               f"role {caller.role!r} may write only fields it may read for purpose {purpose.id!r}")
        await self._d.guard.deny(caller, action, PermissionDeniedError(
            f"{why}; refused: {', '.join(denied)}", permission=str(perms.CUSTOMERS_UPDATE), purpose=purpose.id,
            fields=denied), customer_id=customer_id, purpose=purpose.id)

    async def soft_delete(self, customer_id: uuid.UUID, caller: Caller) -> None:
        """Mark a customer deleted: no longer readable or searchable; data kept until retention erases it."""
        purpose = await self._d.guard.require(caller, perms.CUSTOMERS_DELETE, "customer.delete",
                                              customer_id=customer_id)
        await self._gate(caller, purpose, "customer.delete", customer_id)
        row = await self._load(customer_id)
        row.status = "deleted"
        row.deleted_at = row.updated_at = utcnow()
        row.row_version += 1
        await self._repo.flush()
        await self._d.audit.record(self._session, AuditEvent(
            "customer.delete", Outcome.ALLOWED, caller.actor, purpose=purpose.id, customer_id=customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip))

    # -- internals ------------------------------------------------------------------------------

    async def _gate(self, caller: Caller, purpose: Purpose, action: str, customer_id: uuid.UUID) -> None:
        """Restriction and objection for a write (the lawful basis binds reads).

        Writes call it before their session takes the write lock, so the denial's durable audit entry
        (group commit) is not queued behind the lock this very request would hold.
        """
        row = await self._fetch(customer_id)
        if row is not None:
            await self._d.guard.admit(caller, purpose, action, row, self._session, lawful_basis=False)

    async def _fetch(self, customer_id: uuid.UUID) -> CustomerRow | None:
        return await self._repo.fetch(customer_id)

    async def _load(self, customer_id: uuid.UUID) -> CustomerRow:
        row = await self._repo.get(customer_id)
        if row is None or row.status != "active":
            raise CustomerNotFoundError(f"customer {customer_id} not found")
        return row

    @staticmethod
    def _readable(row: CustomerRow, purpose: Purpose) -> bool:
        if row.status == "active":
            return True
        # Soft-deleted records stay readable only to handle legal claims until retention erases them.
        return row.status == "deleted" and purpose.id == "legal_claims"

    def _open(self, row: CustomerRow, visible: Mapping[str, Visibility]) -> dict[str, str]:
        if not visible or row.wrapped_dek is None:
            return {}
        return records.open_fields(records.customer_key(self._d.keyring, row), row.sealed, set(visible))

    def _to_view(self, row: CustomerRow, visible: Mapping[str, Visibility], plain: dict[str, str]) -> CustomerView:
        out: dict[str, str] = {}
        masked: list[str] = []
        for name in self._d.catalogue.names:
            if name not in plain:
                continue
            if visible.get(name) == "masked":
                out[name] = mask(self._d.catalogue[name].mask, plain[name])
                masked.append(name)
            else:
                out[name] = plain[name]
        meta: dict[str, Any] = row.field_meta or {}
        now = utcnow()
        created = as_utc(row.created_at).isoformat()
        verified = {n: created for n in out}
        verified.update({n: str(m.get("verified_at")) for n, m in meta.items() if n in out and isinstance(m, dict)})
        stale = []
        for name, stamp in verified.items():
            days = self._d.catalogue[name].stale_after_days
            if days is not None and as_utc(datetime.fromisoformat(stamp)) + timedelta(days=days) < now:
                stale.append(name)
        return CustomerView(row.id, row.status, as_utc(row.created_at), as_utc(row.updated_at), row.row_version,
                            out, masked, stale, verified)
