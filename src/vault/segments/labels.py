"""Department labels and single interactions: the per-customer parts of behaviour data.

A label (``vip``, ``blacklist``, ``do_not_contact``, ...) belongs to the department that set it and
carries a reason code and its author; every department that may see the customer sees all labels
side by side. Clearing keeps the row (``cleared_at``) as history. ``blacklist`` and
``do_not_contact`` block a customer from targeting and contact resolution
(:func:`vault.segments.repository.not_blocked`). The SQL is :class:`vault.segments.repository.LabelRepository`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.errors import AccessDeniedError
from vault.lib.clock import as_utc, utcnow
from vault.segments.behaviour import DEPARTMENTS, INTERACTION_KINDS, interaction_digest, kst_day
from vault.segments.errors import CustomerUnknownError, InvalidBehaviourError, SegmentStateError
from vault.segments.features import LABELS
from vault.segments.models import InteractionRow, LabelRow
from vault.segments.repository import LabelRepository

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.db.engine import Database
    from vault.segments.repository import LabelStore

Clock = Callable[[], datetime]
#: The department a role acts for when it labels a customer or records an interaction.
ROLE_DEPARTMENT = {"marketing": "marketing", "sales": "sales", "crm_agent": "crm", "compliance_officer": "compliance",
                   "application": "service", "operator": "crm"}
REASON_CODE = re.compile(r"^[a-z0-9_.-]{1,60}$")


@dataclass(frozen=True, slots=True)
class LabelView:
    """A label as shown on the single customer view (no PII: codes and principal names)."""

    id: uuid.UUID
    customer_id: uuid.UUID
    label: str
    department: str
    reason_code: str
    set_by: str
    set_at: datetime
    cleared_by: str | None
    cleared_at: datetime | None

    @classmethod
    def of(cls, row: LabelRow) -> LabelView:
        return cls(row.id, row.customer_id, row.label, row.department, row.reason_code, row.set_by,
                   as_utc(row.set_at), row.cleared_by, as_utc(row.cleared_at) if row.cleared_at else None)


@dataclass(frozen=True, slots=True)
class InteractionView:
    """A recorded interaction."""

    id: uuid.UUID
    customer_id: uuid.UUID
    department: str
    kind: str
    satisfaction: int | None
    occurred_at: datetime
    created: bool


class LabelService:
    """Labels and interactions on one session (the caller commits)."""

    def __init__(self, session: AsyncSession, guard: Guard, audit: AuditLog, clock: Clock = utcnow,
                 db: Database | None = None, *, store: LabelStore | None = None) -> None:
        self._s = session
        self._guard = guard
        self._audit = audit
        self._clock = clock
        # with ``db``, the single customer view reads active labels outside the session (fast path)
        self._repo = store if store is not None else LabelRepository(session, db)

    async def _authorize(self, caller: Caller, perm: perms.Permission, action: str,
                         customer_id: uuid.UUID | None) -> None:
        await self._guard.require_any_purpose(caller, perm, action, customer_id=customer_id)

    async def _customer(self, customer_id: uuid.UUID) -> None:
        if not await self._repo.customer_exists(customer_id):
            raise CustomerUnknownError(f"customer {customer_id} not found", customer_id=str(customer_id))

    @staticmethod
    def department_of(caller: Caller) -> str:
        """The department ``caller`` acts for."""
        return ROLE_DEPARTMENT.get(caller.role, caller.role)

    async def set(self, customer_id: uuid.UUID, label: str, reason_code: str, caller: Caller,
                  department: str | None = None) -> LabelView:
        """Set ``label`` on a customer for the caller's department (one active label per department and name).

        Raises:
            InvalidBehaviourError: unknown label or malformed reason code (422).
            SegmentStateError: the department already holds this label on the customer (409).
        """
        await self._authorize(caller, perms.LABELS_WRITE, "label.set", customer_id)
        if label not in LABELS:
            raise InvalidBehaviourError(f"unknown label {label!r}; valid labels: {', '.join(LABELS)}",
                                        field="label", valid=list(LABELS))
        if not REASON_CODE.match(reason_code or ""):
            raise InvalidBehaviourError("reason_code must be a code of 1-60 characters a-z 0-9 _ . -",
                                        field="reason_code")
        dept = self.department_of(caller) if caller.principal is not None or department is None else department
        if dept not in DEPARTMENTS:
            raise InvalidBehaviourError(f"unknown department {dept!r}; valid: {', '.join(DEPARTMENTS)}",
                                        field="department", valid=list(DEPARTMENTS))
        await self._customer(customer_id)
        held = await self._repo.held_label(customer_id, label, dept)
        if held is not None:
            raise SegmentStateError(f"department {dept!r} already labels customer {customer_id} as {label!r}",
                                    label_id=str(held))
        row = LabelRow(id=uuid.uuid4(), customer_id=customer_id, label=label, department=dept,
                       reason_code=reason_code, set_by_id=caller.principal.id if caller.principal else None,
                       set_by=caller.actor.name[:100], set_at=self._clock())
        await self._repo.add_label(row)
        await self._audit.record(self._s, AuditEvent(
            "label.set", Outcome.ALLOWED, caller.actor, purpose=caller.purpose, customer_id=customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"label={label} department={dept} reason={reason_code}"))
        return LabelView.of(row)

    async def clear(self, customer_id: uuid.UUID, label_id: uuid.UUID, caller: Caller) -> LabelView:
        """Clear a label; only its own department (or compliance) may.

        Raises:
            CustomerUnknownError: no such active label on the customer (404).
            AccessDeniedError: another department's label (403, audited).
        """
        await self._authorize(caller, perms.LABELS_WRITE, "label.clear", customer_id)
        row = await self._repo.active_label(customer_id, label_id)
        if row is None:
            raise CustomerUnknownError(f"no active label {label_id} on customer {customer_id}")
        dept = self.department_of(caller)
        if caller.principal is not None and dept not in (row.department, "compliance"):
            await self._guard.deny(caller, "label.clear", AccessDeniedError(
                f"label {label_id} belongs to department {row.department!r}; {dept!r} may not clear it"),
                customer_id=customer_id)
        await self._repo.clear_label(row, caller.actor.name[:100], self._clock())
        await self._audit.record(self._s, AuditEvent(
            "label.clear", Outcome.ALLOWED, caller.actor, purpose=caller.purpose, customer_id=customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"label={row.label} department={row.department}"))
        return LabelView.of(row)

    async def list_labels(self, customer_id: uuid.UUID, caller: Caller, *, history: bool = False) -> list[LabelView]:
        """Every department's labels on the customer (active ones, or all with ``history``)."""
        await self._authorize(caller, perms.LABELS_READ, "label.list", customer_id)
        await self._customer(customer_id)
        return await self.labels_of(customer_id, caller, history=history)

    async def labels_of(self, customer_id: uuid.UUID, caller: Caller, *, history: bool = False) -> list[LabelView]:
        """Labels for the single customer view (the caller was checked by the customer read)."""
        del caller
        return [LabelView.of(r) for r in await self._repo.labels(customer_id, history=history)]

    async def record_interaction(self, customer_id: uuid.UUID, kind: str, caller: Caller, *,
                                 occurred_at: datetime | None = None, satisfaction: int | None = None,
                                 department: str | None = None) -> InteractionView:
        """Record one interaction; the same (customer, instant, department, kind, score) is stored once.

        Raises:
            InvalidBehaviourError: unknown kind or department, score outside 1-5, instant without offset.
        """
        await self._authorize(caller, perms.INTERACTIONS_CREATE, "interaction.create", customer_id)
        if kind not in INTERACTION_KINDS:
            raise InvalidBehaviourError(f"unknown kind {kind!r}; valid kinds: {', '.join(INTERACTION_KINDS)}",
                                        field="kind", valid=list(INTERACTION_KINDS))
        dept = department or self.department_of(caller)
        if dept not in DEPARTMENTS:
            raise InvalidBehaviourError(f"unknown department {dept!r}; valid: {', '.join(DEPARTMENTS)}",
                                        field="department", valid=list(DEPARTMENTS))
        if satisfaction is not None and not (isinstance(satisfaction, int) and 1 <= satisfaction <= 5):
            raise InvalidBehaviourError("satisfaction must be a whole number from 1 to 5", field="satisfaction")
        now = self._clock()
        at = occurred_at or now
        if at.tzinfo is None:
            raise InvalidBehaviourError("occurred_at must carry a UTC offset", field="occurred_at")
        if at > now:
            raise InvalidBehaviourError("occurred_at may not lie in the future", field="occurred_at")
        await self._customer(customer_id)
        digest = interaction_digest(customer_id.hex, at, dept, kind, satisfaction)
        existing = await self._repo.interaction(digest)
        if existing is not None:
            return InteractionView(existing.id, customer_id, dept, kind, satisfaction, at, False)
        row = InteractionRow(id=uuid.uuid4(), customer_id=customer_id, department=dept, kind=kind,
                             satisfaction=satisfaction, occurred_at=at, kst_day=kst_day(at), row_digest=digest,
                             recorded_by=caller.actor.name[:100], recorded_at=now)
        await self._repo.add_interaction(row)
        await self._audit.record(self._s, AuditEvent(
            "interaction.create", Outcome.ALLOWED, caller.actor, purpose=caller.purpose, customer_id=customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip, detail=f"kind={kind} department={dept}"))
        return InteractionView(row.id, customer_id, dept, kind, satisfaction, at, True)
