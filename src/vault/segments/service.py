"""Segment use cases: preview, versions and sign-off, evaluation into snapshots, diffs, conflicts, members.

Lifecycle of a version (versions are immutable; only the status moves)::

    draft --(marketing, sales and crm_agent each approve)--> approved --activate--> active --retire--> retired
    draft / approved / active --(compliance_officer veto, with a reason)--> vetoed

Every step is an event on the version (who, role, why) and an audit entry naming ``name@version``.
Evaluations, summaries and member reads are audited with the segment version too.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import ColumnElement, and_, exists, func, insert, select

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.audit.subjects import SubjectList
from vault.consent.ledger import effective_clause
from vault.consent.models import ConsentStateRow
from vault.customers.models import CustomerRow
from vault.errors import InvalidInputError
from vault.lib.clock import as_utc, utcnow
from vault.segments.errors import SegmentNotFoundError, SegmentStateError, SignoffDeniedError
from vault.segments.expression import compile_expression
from vault.segments.features import (
    BLOCKING_LABELS,
    QUADRANTS,
    SNAPSHOT_GROUPS,
    TIERS,
    WINDOW_DAYS,
    FeatureEngine,
    FeatureTable,
    day_number,
    today_kst,
)
from vault.segments.labels import ROLE_DEPARTMENT
from vault.segments.models import (
    LabelRow,
    SegmentEventRow,
    SegmentVersionRow,
    SnapshotMemberRow,
    SnapshotRow,
    TransactionRow,
    members_table,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.policy.purposes import PurposeCatalogue

Clock = Callable[[], datetime]
ScopeClause = Callable[[Any], ColumnElement[bool]]
APPROVERS = ("marketing", "sales", "crm_agent")
VETOER = "compliance_officer"
DRAFT, APPROVED, ACTIVE, RETIRED, VETOED = "draft", "approved", "active", "retired", "vetoed"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_-]{0,79})@(?P<version>\d{1,6})$")
SUMMARY_FEATURES = ("frequency", "monetary_krw", "recency_days", "churn_risk", "ltv_krw", "return_ratio",
                    "experience_score")
FEATURES_VERSION = 1


def parse_ref(ref: str) -> tuple[str, int]:
    """``core-customers@3`` -> ("core-customers", 3).

    Raises:
        InvalidInputError: not NAME@VERSION.
    """
    m = REF.match(ref.strip())
    if m is None:
        raise InvalidInputError(f"segment reference {ref[:100]!r} must be NAME@VERSION, e.g. core-customers@1",
                                field="segment")
    return m["name"], int(m["version"])


@dataclass(frozen=True)
class SegmentDeps:
    """Collaborators of :class:`SegmentService`."""

    db: Database
    keyring: Keyring
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog
    clock: Clock = utcnow


@dataclass(frozen=True, slots=True)
class EventView:
    """One lifecycle step."""

    action: str
    role: str
    actor: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class VersionView:
    """A version with its sign-off trail."""

    id: uuid.UUID
    name: str
    version: int
    description: str
    expression: str
    targeting: bool
    owner_department: str
    status: str
    created_by: str
    created_at: datetime
    events: tuple[EventView, ...]

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    @property
    def approvals(self) -> list[str]:
        """Roles that approved (once each)."""
        return sorted({e.role for e in self.events if e.action == "approve"})

    @property
    def missing_approvals(self) -> list[str]:
        """Approver roles still to sign off."""
        return [r for r in APPROVERS if r not in self.approvals]


@dataclass
class Preview:
    """The result of evaluating an expression without storing anything."""

    expression: str
    as_of: date
    size: int
    population: int
    names: list[str]
    summary: dict[str, Any]


@dataclass(frozen=True)
class SnapshotView:
    """A stored evaluation (ids live in ``segment_snapshot_members``)."""

    id: uuid.UUID
    ref: str
    as_of: date
    size: int
    population: int
    summary: dict[str, Any]
    created_by: str
    created_at: datetime


@dataclass
class DiffSide:
    """Customers who joined or left, with counts by tier and quadrant."""

    count: int = 0
    by_tier: dict[str, int] = field(default_factory=dict)
    by_quadrant: dict[str, int] = field(default_factory=dict)
    ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class SnapshotDiff:
    """Membership change from snapshot ``base`` to snapshot ``target``."""

    base: SnapshotView
    target: SnapshotView
    joined: DiffSide
    left: DiffSide
    stayed: int
    tier_changes: dict[str, int]


@dataclass
class VersionComparison:
    """Membership of two versions' expressions evaluated on the same feature table (nothing stored).

    ``joined`` are members of ``target`` only (by their tier/quadrant), ``left`` members of ``base`` only;
    their ``ids`` hold at most the requested sample (the counts are complete).
    """

    base: VersionView
    target: VersionView
    as_of: date
    population: int
    base_size: int
    target_size: int
    joined: DiffSide
    left: DiffSide
    stayed: int


@dataclass
class ConflictReport:
    """Members of a targeting segment that another department blocked."""

    snapshot: SnapshotView
    owner_department: str
    count: int
    by_label: dict[str, int]
    by_department: dict[str, int]
    customer_ids: list[uuid.UUID]


def summarize(members: pl.DataFrame, features: FeatureTable) -> dict[str, Any]:
    """Size, tier and quadrant counts and feature distributions (aggregates only, no ids)."""
    out: dict[str, Any] = {"size": members.height, "population": features.population,
                           "as_of": features.as_of.isoformat(), "features_version": FEATURES_VERSION}
    if "tier" in members.columns:
        counts = dict(members.group_by("tier").len().iter_rows())
        out["tiers"] = {t: int(counts.get(t, 0)) for t in TIERS}
    if "quadrant" in members.columns:
        counts = dict(members.group_by("quadrant").len().iter_rows())
        out["quadrants"] = {q: int(counts.get(q, 0)) for q in QUADRANTS}
    dist: dict[str, Any] = {}
    for name in SUMMARY_FEATURES:
        if name not in members.columns:
            continue
        col = members[name].drop_nulls().cast(pl.Float64)
        if col.is_empty():
            dist[name] = {"count": 0}
            continue
        dist[name] = {"count": col.len(), "min": col.min(), "p25": col.quantile(0.25, "lower"),
                      "median": col.quantile(0.5, "lower"), "p75": col.quantile(0.75, "lower"), "max": col.max(),
                      "mean": round(float(col.mean() or 0.0), 4)}  # type: ignore[arg-type]
    out["features"] = dist
    return out


class SegmentService:
    """Segment use cases; opens its own transactions."""

    def __init__(self, deps: SegmentDeps) -> None:
        self._d = deps
        self.engine = FeatureEngine(deps.keyring, deps.purposes, clock=deps.clock)

    @property
    def feature_names(self) -> list[str]:
        """Every name an expression may use."""
        return self.engine.catalogue.names

    # -- access ---------------------------------------------------------------------------------------

    async def _require(self, caller: Caller, perm: perms.Permission, action: str, ref: str | None,
                       purpose: str = "*") -> None:
        """The guard: segment data holds no PII, so any purpose (``*``) unless ``purpose`` is named."""
        if purpose == "*":
            await self._d.guard.require_any_purpose(caller, perm, action)
        else:
            await self._d.guard.require(caller, perm, action, lawful_basis=False,
                                        context=f"segment={ref}" if ref else None)

    async def _audit(self, action: str, caller: Caller, ref: str | None, detail: str,
                     session: AsyncSession | None = None, subjects: SubjectList | None = None) -> int:
        event = AuditEvent(action, Outcome.ALLOWED, caller.actor, purpose=caller.purpose,
                           request_id=caller.request_id, client_ip=caller.client_ip,
                           detail=((f"segment={ref} " if ref else "") + detail)[:1000])
        if session is not None:
            return await self._d.audit.record(session, event)
        if subjects is not None:
            return await self._d.audit.record_bulk_durable(event, subjects)
        return await self._d.audit.record_durable(event)

    def may_see_customers(self, caller: Caller) -> bool:
        """Whether the caller's role sees some customer field for some purpose (so customer ids of members
        may be shown to it; an analyst's may not)."""
        if caller.principal is None:
            return True
        policy = self._d.guard.policy
        return any(policy.field_visibility(caller.role, p.id) for p in self._d.purposes)

    # -- preview --------------------------------------------------------------------------------------

    async def features(self, as_of: date | None, names: Sequence[str] = (), *,
                       groups: Sequence[str] = ()) -> FeatureTable:
        """The feature table for ``as_of`` (default: today in Asia/Seoul) with what ``names`` need."""
        day = as_of or today_kst(self._d.clock)
        wanted = self.engine.catalogue.groups_for(names) | set(groups)
        async with self._d.db.read() as session:
            return await self.engine.compute(session, day, wanted)

    async def preview(self, expression: str, caller: Caller, as_of: date | None = None) -> Preview:
        """Evaluate ``expression`` over every customer not erased, storing nothing (audited: counts only).

        Raises:
            ExpressionError: syntax, unknown name or type error, with the column (422).
        """
        await self._require(caller, perms.SEGMENTS_READ, "segment.preview", None)
        compiled = compile_expression(expression, self.engine.catalogue)
        table = await self.features(as_of, sorted(compiled.names), groups=sorted(SNAPSHOT_GROUPS))
        members = table.frame.filter(compiled.predicate)
        summary = summarize(members, table)
        digest = hashlib.sha256(expression.encode()).hexdigest()[:16]
        await self._audit("segment.preview", caller, None,
                          f"expression_sha256={digest} as_of={table.as_of} size={members.height}")
        return Preview(expression, table.as_of, members.height, table.population, sorted(compiled.names), summary)

    # -- versions -------------------------------------------------------------------------------------

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
        async with self._d.db.write() as session:
            latest = await session.scalar(select(func.max(SegmentVersionRow.version))
                                          .where(SegmentVersionRow.name == name))
            row = SegmentVersionRow(
                id=uuid.uuid4(), name=name, version=(latest or 0) + 1, description=description,
                expression=expression, targeting=targeting, owner_department=dept[:32], status=DRAFT,
                created_by=caller.actor.name[:100], created_at=now, status_at=now)
            session.add(row)
            await session.flush()
            await self._event(session, row, "create", caller, None)
            await self._audit("segment.create", caller, f"{name}@{row.version}", "status=draft", session)
            return await self._view(session, row)

    async def _event(self, session: AsyncSession, row: SegmentVersionRow, action: str, caller: Caller,
                     reason: str | None) -> None:
        session.add(SegmentEventRow(
            id=uuid.uuid4(), version_id=row.id, action=action, role=caller.role,
            principal_id=caller.principal.id if caller.principal else None, actor=caller.actor.name[:100],
            reason=reason, at=self._d.clock()))
        await session.flush()

    async def _view(self, session: AsyncSession, row: SegmentVersionRow) -> VersionView:
        events = (await session.scalars(select(SegmentEventRow).where(SegmentEventRow.version_id == row.id)
                                        .order_by(SegmentEventRow.at, SegmentEventRow.id))).all()
        return VersionView(row.id, row.name, row.version, row.description, row.expression, row.targeting,
                           row.owner_department, row.status, row.created_by, as_utc(row.created_at),
                           tuple(EventView(e.action, e.role, e.actor, e.reason, as_utc(e.at)) for e in events))

    async def _row(self, session: AsyncSession, name: str, version: int) -> SegmentVersionRow:
        row = await session.scalar(select(SegmentVersionRow).where(
            SegmentVersionRow.name == name, SegmentVersionRow.version == version))
        if row is None:
            raise SegmentNotFoundError(f"segment {name}@{version} not found", segment=f"{name}@{version}")
        return row

    async def get(self, ref: str, caller: Caller) -> VersionView:
        """One version with its sign-off trail."""
        name, version = parse_ref(ref)
        await self._require(caller, perms.SEGMENTS_READ, "segment.read", ref)
        async with self._d.db.read() as session:
            return await self._view(session, await self._row(session, name, version))

    async def versions(self, caller: Caller, name: str | None = None) -> list[VersionView]:
        """Every version (of ``name``), newest version first per name."""
        await self._require(caller, perms.SEGMENTS_READ, "segment.list", name)
        async with self._d.db.read() as session:
            q = select(SegmentVersionRow)
            if name is not None:
                q = q.where(SegmentVersionRow.name == name)
            rows = (await session.scalars(q.order_by(SegmentVersionRow.name,
                                                     SegmentVersionRow.version.desc()))).all()
            return [await self._view(session, r) for r in rows]

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
        async with self._d.db.write() as session:
            row = await self._row(session, name, version)
            if row.status != DRAFT:
                raise SegmentStateError(f"{ref} is {row.status}; only a draft can be approved", state=row.status)
            view = await self._view(session, row)
            if caller.role in view.approvals:
                raise SegmentStateError(f"{caller.role} already approved {ref}", state=row.status)
            await self._event(session, row, "approve", caller, None)
            if not [r for r in view.missing_approvals if r != caller.role]:
                row.status = APPROVED
                row.status_at = self._d.clock()
            await self._audit("segment.approve", caller, ref, f"role={caller.role} status={row.status}", session)
            return await self._view(session, row)

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
        async with self._d.db.write() as session:
            row = await self._row(session, name, version)
            if row.status not in (DRAFT, APPROVED, ACTIVE):
                raise SegmentStateError(f"{ref} is {row.status}; it cannot be vetoed", state=row.status)
            await self._event(session, row, "veto", caller, reason)
            row.status = VETOED
            row.status_at = self._d.clock()
            await self._audit("segment.veto", caller, ref, "status=vetoed", session)
            return await self._view(session, row)

    async def activate(self, ref: str, caller: Caller) -> VersionView:
        """Make an approved version usable.

        Raises:
            SegmentStateError: sign-offs missing (naming them), vetoed, or not approved (409).
        """
        await self._require(caller, perms.SEGMENTS_ACTIVATE, "segment.activate", ref)
        name, version = parse_ref(ref)
        async with self._d.db.write() as session:
            row = await self._row(session, name, version)
            view = await self._view(session, row)
            if row.status != APPROVED or view.missing_approvals:
                missing = view.missing_approvals
                why = (f"missing sign-off from {', '.join(missing)}" if missing and row.status == DRAFT
                       else f"it is {row.status}")
                raise SegmentStateError(f"{ref} cannot be activated: {why}", state=row.status, missing=missing)
            await self._event(session, row, "activate", caller, None)
            row.status = ACTIVE
            row.status_at = self._d.clock()
            await self._audit("segment.activate", caller, ref, "status=active", session)
            return await self._view(session, row)

    async def retire(self, ref: str, caller: Caller) -> VersionView:
        """Take an active version out of use (its snapshots stay)."""
        await self._require(caller, perms.SEGMENTS_ACTIVATE, "segment.retire", ref)
        name, version = parse_ref(ref)
        async with self._d.db.write() as session:
            row = await self._row(session, name, version)
            if row.status != ACTIVE:
                raise SegmentStateError(f"{ref} is {row.status}; only an active version can be retired",
                                        state=row.status)
            await self._event(session, row, "retire", caller, None)
            row.status = RETIRED
            row.status_at = self._d.clock()
            await self._audit("segment.retire", caller, ref, "status=retired", session)
            return await self._view(session, row)

    # -- evaluation -----------------------------------------------------------------------------------

    async def evaluate(self, ref: str, caller: Caller, as_of: date | None = None) -> SnapshotView:
        """Evaluate an active version and store the membership snapshot (ids, tier, quadrant) and summary.

        The local operator (no principal) may also evaluate a draft or approved version as a trial
        (``summary["trial"]``); nobody may evaluate a vetoed or retired one.

        Raises:
            SegmentStateError: the version is not active (409).
        """
        await self._require(caller, perms.SEGMENTS_EVALUATE, "segment.evaluate", ref)
        name, version = parse_ref(ref)
        async with self._d.db.read() as session:
            row = await self._row(session, name, version)
            status, expression, version_id = row.status, row.expression, row.id
        trial = status != ACTIVE
        if status in (VETOED, RETIRED) or (trial and caller.principal is not None):
            raise SegmentStateError(f"{ref} is {status}; only an active version can be evaluated", state=status)
        compiled = compile_expression(expression, self.engine.catalogue)
        table = await self.features(as_of, sorted(compiled.names), groups=sorted(SNAPSHOT_GROUPS))
        members = table.frame.filter(compiled.predicate).select("customer_id", "tier", "quadrant",
                                                                *[c for c in table.frame.columns
                                                                  if c in SUMMARY_FEATURES])
        summary = summarize(members, table)
        summary["trial"] = trial
        summary["expression"] = expression
        snapshot_id = uuid.uuid4()
        now = self._d.clock()
        subjects = SubjectList()
        ids = [uuid.UUID(hex=h) for h in members["customer_id"].to_list()]
        for cid in ids:
            subjects.append(cid)
        async with self._d.db.write() as session:
            session.add(SnapshotRow(id=snapshot_id, version_id=version_id, as_of=table.as_of, size=members.height,
                                    population=table.population, summary=summary, created_by=caller.actor.name[:100],
                                    created_at=now))
            await session.flush()
            rows = [{"snapshot_id": snapshot_id, "customer_id": cid, "tier": t, "quadrant": q}
                    for cid, t, q in zip(ids, members["tier"].to_list(), members["quadrant"].to_list(), strict=True)]
            for i in range(0, len(rows), 20_000):
                await session.execute(insert(members_table), rows[i:i + 20_000])
        await self._audit("segment.evaluate", caller, ref,
                          f"snapshot={snapshot_id} as_of={table.as_of} size={members.height}"
                          + (" trial=true" if trial else ""), subjects=subjects)
        return SnapshotView(snapshot_id, ref, table.as_of, members.height, table.population, summary,
                            caller.actor.name[:100], now)

    async def _snapshot_view(self, session: AsyncSession, snap: SnapshotRow) -> SnapshotView:
        ver = await session.get(SegmentVersionRow, snap.version_id)
        assert ver is not None
        return SnapshotView(snap.id, f"{ver.name}@{ver.version}", snap.as_of, snap.size, snap.population,
                            snap.summary, snap.created_by, as_utc(snap.created_at))

    async def snapshots(self, ref: str, caller: Caller) -> list[SnapshotView]:
        """A version's snapshots, newest first (summaries only; audited)."""
        await self._require(caller, perms.SEGMENTS_READ, "segment.summary", ref)
        name, version = parse_ref(ref)
        async with self._d.db.read() as session:
            row = await self._row(session, name, version)
            snaps = (await session.scalars(select(SnapshotRow).where(SnapshotRow.version_id == row.id)
                                           .order_by(SnapshotRow.created_at.desc()))).all()
            out = [await self._snapshot_view(session, s) for s in snaps]
        await self._audit("segment.summary", caller, ref, f"snapshots={len(out)}")
        return out

    async def latest_snapshot(self, ref: str, as_of: date | None = None) -> SnapshotView | None:
        """The newest snapshot of ``ref`` (at ``as_of`` when given), or None."""
        name, version = parse_ref(ref)
        async with self._d.db.read() as session:
            row = await self._row(session, name, version)
            q = select(SnapshotRow).where(SnapshotRow.version_id == row.id)
            if as_of is not None:
                q = q.where(SnapshotRow.as_of == as_of)
            snap = await session.scalar(q.order_by(SnapshotRow.as_of.desc(), SnapshotRow.created_at.desc(),
                                                   SnapshotRow.id).limit(1))
            return await self._snapshot_view(session, snap) if snap is not None else None

    async def snapshot(self, snapshot_id: uuid.UUID) -> SnapshotView:
        """One snapshot by id.

        Raises:
            SegmentNotFoundError
        """
        async with self._d.db.read() as session:
            snap = await session.get(SnapshotRow, snapshot_id)
            if snap is None:
                raise SegmentNotFoundError(f"snapshot {snapshot_id} not found")
            return await self._snapshot_view(session, snap)

    async def _members(self, session: AsyncSession, snapshot_id: uuid.UUID) -> dict[uuid.UUID, tuple[str, str]]:
        rows = (await session.execute(select(SnapshotMemberRow.customer_id, SnapshotMemberRow.tier,
                                             SnapshotMemberRow.quadrant)
                                      .where(SnapshotMemberRow.snapshot_id == snapshot_id))).all()
        return {cid: (tier, quadrant) for cid, tier, quadrant in rows}

    async def diff(self, base_id: uuid.UUID, target_id: uuid.UUID, caller: Caller, *,
                   with_ids: bool = False) -> SnapshotDiff:
        """Who joined and who left between two snapshots, by tier and quadrant.

        Joined members are classified by their tier/quadrant in ``target``, members who left by the
        one they had in ``base``; ``tier_changes`` counts stayers whose tier moved (``core->identified``).
        """
        base = await self.snapshot(base_id)
        target = await self.snapshot(target_id)
        await self._require(caller, perms.SEGMENTS_READ, "segment.diff", f"{base.ref},{target.ref}")
        async with self._d.db.read() as session:
            a = await self._members(session, base_id)
            b = await self._members(session, target_id)
        joined, left = DiffSide(), DiffSide()
        for side, ids, source in ((joined, sorted(set(b) - set(a)), b), (left, sorted(set(a) - set(b)), a)):
            side.count = len(ids)
            for cid in ids:
                tier, quadrant = source[cid]
                side.by_tier[tier] = side.by_tier.get(tier, 0) + 1
                side.by_quadrant[quadrant] = side.by_quadrant.get(quadrant, 0) + 1
            if with_ids:
                side.ids = ids
        changes: dict[str, int] = {}
        stayed = set(a) & set(b)
        for cid in stayed:
            if a[cid][0] != b[cid][0]:
                key = f"{a[cid][0]}->{b[cid][0]}"
                changes[key] = changes.get(key, 0) + 1
        await self._audit("segment.diff", caller, f"{base.ref},{target.ref}",
                          f"base={base_id} target={target_id} joined={joined.count} left={left.count}")
        return SnapshotDiff(base, target, joined, left, len(stayed), dict(sorted(changes.items())))

    async def compare(self, base_ref: str, target_ref: str, caller: Caller, *, as_of: date | None = None,
                      sample: int = 5) -> VersionComparison:
        """Who the ``target`` version's expression adds and drops against ``base``'s, evaluated now (or at
        ``as_of``) over every customer not erased, storing nothing: drafts have no snapshot to compare yet.

        Audited as ``segment.compare`` with the counts; the sampled ids (only for roles that may see some
        customer field: never analysts) are recorded as the entry's subjects.

        Raises:
            SegmentNotFoundError: either version does not exist.
        """
        await self._require(caller, perms.SEGMENTS_READ, "segment.compare", f"{base_ref},{target_ref}")
        if not self.may_see_customers(caller):
            sample = 0  # analysts see members only as project pseudonyms, never customer ids
        base, target = await self.get(base_ref, caller), await self.get(target_ref, caller)
        a = compile_expression(base.expression, self.engine.catalogue)
        b = compile_expression(target.expression, self.engine.catalogue)
        table = await self.features(as_of, sorted(a.names | b.names), groups=sorted(SNAPSHOT_GROUPS))
        frame = table.frame.select("customer_id", "tier", "quadrant",
                                   a.predicate.fill_null(False).alias("_a"), b.predicate.fill_null(False).alias("_b"))
        joined, left = DiffSide(), DiffSide()
        for side, rows in ((joined, frame.filter(pl.col("_b") & ~pl.col("_a"))),
                           (left, frame.filter(pl.col("_a") & ~pl.col("_b")))):
            side.count = rows.height
            side.by_tier = {k: int(v) for k, v in rows.group_by("tier").len().iter_rows() if k is not None}
            side.by_quadrant = {k: int(v) for k, v in rows.group_by("quadrant").len().iter_rows() if k is not None}
            side.ids = [uuid.UUID(hex=h) for h in rows["customer_id"].sort().head(max(0, sample)).to_list()]
        sampled = SubjectList()
        for cid in sorted(joined.ids + left.ids, key=lambda u: u.bytes):
            sampled.append(cid)
        stayed = frame.filter(pl.col("_a") & pl.col("_b")).height
        base_size, target_size = int(frame["_a"].sum()), int(frame["_b"].sum())
        await self._audit("segment.compare", caller, f"{base.ref},{target.ref}",
                          f"as_of={table.as_of} joined={joined.count} left={left.count} stayed={stayed} "
                          f"sample={len(joined.ids) + len(left.ids)}",
                          subjects=sampled if joined.ids or left.ids else None)
        return VersionComparison(base, target, table.as_of, table.population, base_size, target_size, joined,
                                 left, stayed)

    async def conflicts(self, ref: str, caller: Caller) -> ConflictReport:
        """Members of the latest snapshot of a targeting version blocked (blacklist / do_not_contact) by
        a department other than the segment's owner.

        Raises:
            SegmentStateError: no snapshot yet (evaluate first).
        """
        await self._require(caller, perms.SEGMENTS_READ, "segment.conflicts", ref)
        snap = await self.latest_snapshot(ref)
        if snap is None:
            raise SegmentStateError(f"{ref} has no snapshot yet; evaluate it first")
        name, version = parse_ref(ref)
        async with self._d.db.read() as session:
            row = await self._row(session, name, version)
            q = (select(LabelRow.customer_id, LabelRow.label, LabelRow.department)
                 .join(SnapshotMemberRow, and_(SnapshotMemberRow.customer_id == LabelRow.customer_id,
                                               SnapshotMemberRow.snapshot_id == snap.id))
                 .where(LabelRow.label.in_(BLOCKING_LABELS), LabelRow.cleared_at.is_(None),
                        LabelRow.department != row.owner_department))
            found = (await session.execute(q)).all()
            owner = row.owner_department
        by_label: dict[str, int] = {}
        by_dept: dict[str, int] = {}
        for _, label, dept in found:
            by_label[label] = by_label.get(label, 0) + 1
            by_dept[dept] = by_dept.get(dept, 0) + 1
        ids = sorted({c for c, _, _ in found})
        await self._audit("segment.conflicts", caller, ref, f"snapshot={snap.id} conflicts={len(ids)}")
        return ConflictReport(snap, owner, len(ids), by_label, by_dept, ids)

    async def member_pseudonyms(self, ref: str, project: str, caller: Caller) -> tuple[SnapshotView, list[str]]:
        """The latest snapshot's members as ``project`` pseudonyms, only those with a current analytics
        basis and not restricted (audited with the subjects).
        """
        await self._require(caller, perms.SEGMENTS_MEMBERS, "segment.members", ref, purpose="analytics")
        if not re.match(r"^[a-z0-9][a-z0-9_-]{0,63}$", project or ""):
            raise InvalidInputError("project must be 1-64 characters a-z 0-9 _ -", field="project")
        snap = await self.latest_snapshot(ref)
        if snap is None:
            raise SegmentStateError(f"{ref} has no snapshot yet; evaluate it first")
        analytics = self._d.purposes.get("analytics")
        if analytics is None:
            raise SegmentStateError("purpose 'analytics' is not defined")
        async with self._d.db.read() as session:
            q = (select(SnapshotMemberRow.customer_id)
                 .join(CustomerRow, CustomerRow.id == SnapshotMemberRow.customer_id)
                 .where(SnapshotMemberRow.snapshot_id == snap.id, CustomerRow.erased_at.is_(None),
                        CustomerRow.restricted_at.is_(None),
                        exists(select(ConsentStateRow.customer_id).where(
                            ConsentStateRow.customer_id == SnapshotMemberRow.customer_id,
                            effective_clause(analytics, self._d.clock()))))
                 .order_by(SnapshotMemberRow.customer_id))
            ids = sorted((await session.scalars(q)).all(), key=lambda u: u.bytes)
        subjects = SubjectList()
        for cid in ids:
            subjects.append(cid)
        pseudonym = self._d.keyring.pseudonyms.pseudonym
        out = sorted(pseudonym(project, cid) for cid in ids)
        await self._audit("segment.members", caller.for_purpose("analytics"), ref,
                          f"snapshot={snap.id} project={project} members={len(out)}", subjects=subjects)
        return snap, out

    async def snapshot_table(self, snapshot_id: uuid.UUID, caller: Caller,
                             names: Sequence[str] = ()) -> pl.DataFrame:
        """A snapshot's members joined with their features at the snapshot's as-of date.

        For segment-scoped analytics (vault.privacy): one row per member, ``customer_id`` as
        ``uuid.UUID`` hex strings, ``tier``/``quadrant`` as stored, plus the feature columns
        ``names`` need (all behaviour features always). Holds no decrypted PII unless a
        demographic name (``age_band``, ``region``, ``gender``) is asked for, and then only the
        generalized values. The caller pseudonymizes before anything leaves the vault.
        """
        snap = await self.snapshot(snapshot_id)
        await self._require(caller, perms.SEGMENTS_MEMBERS, "segment.members", snap.ref, purpose="analytics")
        unknown = [n for n in names if n not in self.engine.catalogue]
        if unknown:
            raise InvalidInputError(f"unknown features {unknown}; valid: {', '.join(self.feature_names)}")
        async with self._d.db.read() as session:
            members = await self._members(session, snapshot_id)
        table = await self.features(snap.as_of, names)
        ids = pl.DataFrame({"customer_id": [c.hex for c in members],
                            "tier": [v[0] for v in members.values()],
                            "quadrant": [v[1] for v in members.values()]})
        frame = ids.join(table.frame.drop([c for c in ("tier", "quadrant") if c in table.frame.columns]),
                         on="customer_id", how="left")
        return frame.sort("customer_id")

    async def extract_snapshot(self, ref: str) -> SnapshotView:
        """The snapshot a segment-scoped extract of ``ref`` would use (checked when the job is submitted, so a
        spec naming a version that cannot be used is refused at once instead of failing later).

        Raises:
            InvalidInputError: not NAME@VERSION.
            SegmentNotFoundError: no such version.
            SegmentStateError: the version was never activated (draft, approved, vetoed), or it has no
                snapshot other than an operator's trial (409).
        """
        name, version = parse_ref(ref)
        async with self._d.db.read() as session:
            status = (await self._row(session, name, version)).status
        if status not in (ACTIVE, RETIRED):
            raise SegmentStateError(f"{ref} is {status}; extracts use only versions signed off by marketing, sales "
                                    "and CRM and activated", state=status)
        snap = await self.latest_snapshot(ref)
        if snap is None or snap.summary.get("trial"):
            raise SegmentStateError(f"{ref} has no snapshot yet; evaluate it first", state=status)
        return snap

    async def extract_scope(self, ref: str, caller: Caller) -> tuple[SnapshotView, pl.DataFrame]:
        """For a segment-scoped analytics extract: the frozen membership of a signed-off version and each
        member's behaviour aggregates at the snapshot's as-of date (no PII; ids as 32 hex digits).

        Columns: ``customer_id``, ``spend`` (KRW of purchases not returned in the 365-day window),
        ``orders`` (those purchases), ``returns`` (returned transactions in the window), ``categories``
        (distinct categories of those purchases), ``r_score``/``f_score``/``m_score`` (1-5, null without
        purchases), ``rfm``, and the ``tier``/``quadrant`` stored with the snapshot.

        Raises:
            InvalidInputError: not NAME@VERSION.
            SegmentNotFoundError: no such version.
            SegmentStateError: the version was never activated (draft, approved, vetoed), or it has no
                snapshot other than an operator's trial (409).
        """
        snap = await self.extract_snapshot(ref)
        table = await self.snapshot_table(snap.id, caller, ["frequency", "monetary_krw", "rfm"])
        day = day_number(snap.as_of)
        t = TransactionRow
        async with self._d.db.read() as session:
            rows = (await session.execute(
                select(t.customer_id, func.count(func.distinct(t.category)))
                .where(t.kst_day <= day, t.kst_day >= day - (WINDOW_DAYS - 1), t.returned.is_(False))
                .group_by(t.customer_id))).all()
        categories = pl.DataFrame({"customer_id": [c.hex for c, _ in rows], "categories": [int(n) for _, n in rows]},
                                  schema={"customer_id": pl.String, "categories": pl.Int64})
        frame = table.join(categories, on="customer_id", how="left").select(
            "customer_id",
            spend=pl.col("monetary_krw").fill_null(0).cast(pl.Int64),
            orders=pl.col("frequency").fill_null(0).cast(pl.Int64),
            returns=pl.col("window_returned").fill_null(0).cast(pl.Int64),
            categories=pl.col("categories").fill_null(0),
            r_score=pl.col("r_score"), f_score=pl.col("f_score"), m_score=pl.col("m_score"),
            rfm=pl.col("rfm"), tier=pl.col("tier"), quadrant=pl.col("quadrant"))
        return snap, frame

    async def contact_scope(self, ref: str, caller: Caller) -> tuple[SnapshotView, ScopeClause]:
        """For contact resolution by segment: the latest snapshot of an active version and a SQL clause
        factory "the customer is a member of it".

        Raises:
            SegmentStateError: the version is not active or has no snapshot (409).
        """
        await self._require(caller, perms.SEGMENTS_READ, "segment.contacts", ref)
        name, version = parse_ref(ref)
        async with self._d.db.read() as session:
            row = await self._row(session, name, version)
            status = row.status
        if status != ACTIVE:
            raise SegmentStateError(f"{ref} is {status}; contacts can be resolved only for an active version",
                                    state=status)
        snap = await self.latest_snapshot(ref)
        if snap is None:
            raise SegmentStateError(f"{ref} has no snapshot yet; evaluate it first")
        snapshot_id = snap.id

        def clause(key: Any) -> ColumnElement[bool]:
            return exists(select(SnapshotMemberRow.customer_id).where(
                SnapshotMemberRow.snapshot_id == snapshot_id, SnapshotMemberRow.customer_id == key))
        return snap, clause

