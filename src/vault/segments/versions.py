"""Segment definitions and their sign-off: create a version, read them, approve, veto, activate, retire.

Every step is an event on the version (who, role, why) and an audit entry naming ``name@version``,
written in the caller's write transaction with the change (:mod:`vault.segments.views` draws the lifecycle).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from vault.access import permissions as perms
from vault.errors import InvalidInputError
from vault.segments.base import SegmentBase
from vault.segments.errors import SegmentStateError, SignoffDeniedError
from vault.segments.expression import compile_expression
from vault.segments.labels import ROLE_DEPARTMENT
from vault.segments.models import SegmentEventRow, SegmentVersionRow
from vault.segments.views import (
    ACTIVE,
    APPROVED,
    APPROVERS,
    DRAFT,
    NAME,
    RETIRED,
    VETOED,
    VETOER,
    VersionView,
    parse_ref,
)

if TYPE_CHECKING:
    from vault.access.caller import Caller


class SegmentVersions(SegmentBase):
    """Versions and their lifecycle on one session (reads: a read transaction; steps: a write one)."""

    async def create(self, name: str, expression: str, caller: Caller, *, description: str = "",
                     targeting: bool = True, owner_department: str | None = None) -> VersionView:
        """Create the next version of ``name`` as a draft (version 1 for a new name).

        Raises:
            InvalidInputError: bad name; ExpressionError: the expression does not compile.
        """
        await self._require(caller, perms.SEGMENTS_CREATE, "segment.create", name)
        if not NAME.match(name):
            raise InvalidInputError("segment name must be 1-80 characters a-z 0-9 _ - (starting with a letter or "
                                    "digit)", field="name")
        if len(description) > 2000:
            raise InvalidInputError("description is longer than 2000 characters", field="description")
        compile_expression(expression, self.engine.catalogue)
        dept = owner_department or ROLE_DEPARTMENT.get(caller.role, "marketing")
        now = self._d.clock()
        latest = await self._repo.latest_version(name)
        row = SegmentVersionRow(
            id=uuid.uuid4(), name=name, version=(latest or 0) + 1, description=description,
            expression=expression, targeting=targeting, owner_department=dept[:32], status=DRAFT,
            created_by=caller.actor.name[:100], created_at=now, status_at=now)
        await self._repo.add_version(row)
        await self._event(row, "create", caller, None)
        await self._audit("segment.create", caller, f"{name}@{row.version}", "status=draft", durable=False)
        return await self._view(row)

    async def _event(self, row: SegmentVersionRow, action: str, caller: Caller, reason: str | None) -> None:
        await self._repo.add_event(SegmentEventRow(
            id=uuid.uuid4(), version_id=row.id, action=action, role=caller.role,
            principal_id=caller.principal.id if caller.principal else None, actor=caller.actor.name[:100],
            reason=reason, at=self._d.clock()))

    async def versions(self, caller: Caller, name: str | None = None) -> list[VersionView]:
        """Every version (of ``name``), newest version first per name."""
        await self._require(caller, perms.SEGMENTS_READ, "segment.list", name)
        return [await self._view(r) for r in await self._repo.versions(name)]

    async def approve(self, ref: str, caller: Caller) -> VersionView:
        """Record the caller's department approval; the version is ``approved`` once all three signed.

        Raises:
            SignoffDeniedError: the caller is not a marketing, sales or crm_agent principal (403).
            SegmentStateError: not a draft, or the role already approved (409).
        """
        await self._require(caller, perms.SEGMENTS_APPROVE, "segment.approve", ref)
        if caller.principal is None or caller.role not in APPROVERS:
            raise SignoffDeniedError(f"only {', '.join(APPROVERS)} principals sign off segment versions",
                                     segment=ref)
        name, version = parse_ref(ref)
        row = await self._row(name, version)
        if row.status != DRAFT:
            raise SegmentStateError(f"{ref} is {row.status}; only a draft can be approved", state=row.status)
        view = await self._view(row)
        if caller.role in view.approvals:
            raise SegmentStateError(f"{caller.role} already approved {ref}", state=row.status)
        await self._event(row, "approve", caller, None)
        if not [r for r in view.missing_approvals if r != caller.role]:
            await self._repo.set_status(row, APPROVED, self._d.clock())
        await self._audit("segment.approve", caller, ref, f"role={caller.role} status={row.status}", durable=False)
        return await self._view(row)

    async def veto(self, ref: str, reason: str, caller: Caller) -> VersionView:
        """Compliance veto (with a reason): the version can never become or stay active.

        Raises:
            SignoffDeniedError: not a compliance_officer principal; InvalidInputError: no reason.
        """
        await self._require(caller, perms.SEGMENTS_VETO, "segment.veto", ref)
        if caller.principal is not None and caller.role != VETOER:
            raise SignoffDeniedError(f"only {VETOER} principals may veto", segment=ref)
        reason = (reason or "").strip()
        if not 3 <= len(reason) <= 500:
            raise InvalidInputError("a veto needs a reason of 3-500 characters", field="reason")
        name, version = parse_ref(ref)
        row = await self._row(name, version)
        if row.status not in (DRAFT, APPROVED, ACTIVE):
            raise SegmentStateError(f"{ref} is {row.status}; it cannot be vetoed", state=row.status)
        await self._event(row, "veto", caller, reason)
        await self._repo.set_status(row, VETOED, self._d.clock())
        await self._audit("segment.veto", caller, ref, "status=vetoed", durable=False)
        return await self._view(row)

    async def activate(self, ref: str, caller: Caller) -> VersionView:
        """Make an approved version usable.

        Raises:
            SegmentStateError: sign-offs missing (naming them), vetoed, or not approved (409).
        """
        await self._require(caller, perms.SEGMENTS_ACTIVATE, "segment.activate", ref)
        name, version = parse_ref(ref)
        row = await self._row(name, version)
        view = await self._view(row)
        if row.status != APPROVED or view.missing_approvals:
            missing = view.missing_approvals
            why = (f"missing sign-off from {', '.join(missing)}" if missing and row.status == DRAFT
                   else f"it is {row.status}")
            raise SegmentStateError(f"{ref} cannot be activated: {why}", state=row.status, missing=missing)
        await self._event(row, "activate", caller, None)
        await self._repo.set_status(row, ACTIVE, self._d.clock())
        await self._audit("segment.activate", caller, ref, "status=active", durable=False)
        return await self._view(row)

    async def retire(self, ref: str, caller: Caller) -> VersionView:
        """Take an active version out of use (its snapshots stay)."""
        await self._require(caller, perms.SEGMENTS_ACTIVATE, "segment.retire", ref)
        name, version = parse_ref(ref)
        row = await self._row(name, version)
        if row.status != ACTIVE:
            raise SegmentStateError(f"{ref} is {row.status}; only an active version can be retired",
                                    state=row.status)
        await self._event(row, "retire", caller, None)
        await self._repo.set_status(row, RETIRED, self._d.clock())
        await self._audit("segment.retire", caller, ref, "status=retired", durable=False)
        return await self._view(row)
