"""What every segment service shares: its deps, the guard call, audit entries, and reading versions and snapshots.

A segment service works on the session it is given and never opens, commits or ends a transaction
(:class:`vault.segments.runner.SegmentRunner` does). Its SQL is the package's :class:`SegmentStore`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from vault.access.permissions import SEGMENTS_READ
from vault.audit.entry import AuditEvent, Outcome
from vault.lib.clock import as_utc, utcnow
from vault.segments.errors import SegmentNotFoundError
from vault.segments.features import FeatureEngine, today_kst
from vault.segments.repository import SegmentRepository, SegmentStore
from vault.segments.views import EventView, SnapshotView, VersionView, parse_ref

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access import permissions as perms
    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.audit.subjects import SubjectList
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.policy.purposes import PurposeCatalogue
    from vault.segments.features import FeatureTable
    from vault.segments.models import SegmentVersionRow, SnapshotRow

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SegmentDeps:
    """Collaborators of the segment services (built once per process: ``Vault.segment_deps``).

    ``db`` is for the runner only; ``store`` builds the services' :class:`SegmentStore` on a session.
    """

    db: Database
    keyring: Keyring
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog
    clock: Clock = utcnow
    store: Callable[[AsyncSession], SegmentStore] = SegmentRepository

    @cached_property
    def engine(self) -> FeatureEngine:
        """The feature engine (its catalogue names what an expression may use)."""
        return FeatureEngine(self.keyring, self.purposes, clock=self.clock)


def audit_event(action: str, caller: Caller, ref: str | None, detail: str) -> AuditEvent:
    """An allowed segment entry: ``segment=name@version`` (when there is one) and ``detail``, no PII."""
    return AuditEvent(action, Outcome.ALLOWED, caller.actor, purpose=caller.purpose, request_id=caller.request_id,
                      client_ip=caller.client_ip, detail=((f"segment={ref} " if ref else "") + detail)[:1000])


def may_see_customers(deps: SegmentDeps, caller: Caller) -> bool:
    """Whether the caller's role sees some customer field for some purpose (the local operator does)."""
    if caller.principal is None:
        return True
    policy = deps.guard.policy
    return any(policy.field_visibility(caller.role, p.id) for p in deps.purposes)


class SegmentBase:
    """Base of the segment services: the guard, audit entries, version and snapshot reads."""

    def __init__(self, session: AsyncSession, deps: SegmentDeps) -> None:
        self._d = deps
        self._session = session
        self._repo = deps.store(session)
        self.engine = deps.engine

    # -- access ---------------------------------------------------------------------------------------

    async def _require(self, caller: Caller, perm: perms.Permission, action: str, ref: str | None,
                       purpose: str = "*") -> None:
        """The guard: segment data holds no PII, so any purpose (``*``) unless ``purpose`` is named."""
        if purpose == "*":
            await self._d.guard.require_any_purpose(caller, perm, action)
        else:
            await self._d.guard.require(caller, perm, action, lawful_basis=False,
                                        context=f"segment={ref}" if ref else None)

    async def _audit(self, action: str, caller: Caller, ref: str | None, detail: str, *, durable: bool = True,
                     subjects: SubjectList | None = None) -> int:
        """An allowed entry naming the segment: committed before data leaves (``durable``, with ``subjects``
        as one bulk entry), or written in the session's transaction with the change."""
        event = audit_event(action, caller, ref, detail)
        if not durable:
            return await self._d.audit.record(self._session, event)
        if subjects is not None:
            return await self._d.audit.record_bulk_durable(event, subjects)
        return await self._d.audit.record_durable(event)

    def may_see_customers(self, caller: Caller) -> bool:
        """Whether the caller's role sees some customer field for some purpose (so customer ids of members
        may be shown to it; an analyst's may not)."""
        return may_see_customers(self._d, caller)

    # -- reads ----------------------------------------------------------------------------------------

    async def features(self, as_of: date | None, names: Sequence[str] = (), *,
                       groups: Sequence[str] = ()) -> FeatureTable:
        """The feature table for ``as_of`` (default: today in Asia/Seoul) with what ``names`` need."""
        day = as_of or today_kst(self._d.clock)
        wanted = self.engine.catalogue.groups_for(names) | set(groups)
        return await self._repo.features(self.engine, day, wanted)

    async def _row(self, name: str, version: int) -> SegmentVersionRow:
        row = await self._repo.version(name, version)
        if row is None:
            raise SegmentNotFoundError(f"segment {name}@{version} not found", segment=f"{name}@{version}")
        return row

    async def _view(self, row: SegmentVersionRow) -> VersionView:
        events = await self._repo.events(row.id)
        return VersionView(row.id, row.name, row.version, row.description, row.expression, row.targeting,
                           row.owner_department, row.status, row.created_by, as_utc(row.created_at),
                           tuple(EventView(e.action, e.role, e.actor, e.reason, as_utc(e.at)) for e in events))

    async def _snapshot_view(self, snap: SnapshotRow) -> SnapshotView:
        ver = await self._repo.version_by_id(snap.version_id)
        assert ver is not None
        return SnapshotView(snap.id, f"{ver.name}@{ver.version}", snap.as_of, snap.size, snap.population,
                            snap.summary, snap.created_by, as_utc(snap.created_at))

    async def get(self, ref: str, caller: Caller) -> VersionView:
        """One version with its sign-off trail (``segments:read``)."""
        name, version = parse_ref(ref)
        await self._require(caller, SEGMENTS_READ, "segment.read", ref)
        return await self._view(await self._row(name, version))

    async def latest_snapshot(self, ref: str, as_of: date | None = None) -> SnapshotView | None:
        """The newest snapshot of ``ref`` (at ``as_of`` when given), or None."""
        name, version = parse_ref(ref)
        row = await self._row(name, version)
        snap = await self._repo.latest_snapshot(row.id, as_of)
        return await self._snapshot_view(snap) if snap is not None else None

    async def snapshot(self, snapshot_id: uuid.UUID) -> SnapshotView:
        """One snapshot by id.

        Raises:
            SegmentNotFoundError
        """
        snap = await self._repo.snapshot(snapshot_id)
        if snap is None:
            raise SegmentNotFoundError(f"snapshot {snapshot_id} not found")
        return await self._snapshot_view(snap)
