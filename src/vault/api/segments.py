"""/v1/segments (definitions, sign-off, snapshots, diffs, conflicts, members), department labels and
interactions on /v1/customers/{id}."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from vault.access.caller import Caller
from vault.api.deps import provide_read_session, provide_write_session, vault_of
from vault.segments.labels import InteractionView, LabelView
from vault.segments.views import DiffSide, SnapshotView, VersionView


class SegmentCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/segments: a new segment, or the next version of an existing one."""

    name: str
    expression: str
    description: str = ""
    targeting: bool = True
    owner_department: str | None = None


class PreviewRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/segments/preview."""

    expression: str
    as_of: date | None = None


class EvaluateRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/segments/{name}/versions/{version}/evaluate."""

    as_of: date | None = None


class VetoRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST .../veto."""

    reason: str


class EventRead(msgspec.Struct, kw_only=True):
    """A lifecycle step."""

    action: str
    role: str
    actor: str
    reason: str | None
    at: datetime


class VersionRead(msgspec.Struct, kw_only=True):
    """A segment version and its sign-off trail."""

    id: uuid.UUID
    segment: str
    name: str
    version: int
    status: str
    description: str
    expression: str
    targeting: bool
    owner_department: str
    approvals: list[str]
    missing_approvals: list[str]
    created_by: str
    created_at: datetime
    events: list[EventRead]

    @classmethod
    def from_view(cls, v: VersionView) -> VersionRead:
        return cls(id=v.id, segment=v.ref, name=v.name, version=v.version, status=v.status,
                   description=v.description, expression=v.expression, targeting=v.targeting,
                   owner_department=v.owner_department, approvals=v.approvals, missing_approvals=v.missing_approvals,
                   created_by=v.created_by, created_at=v.created_at,
                   events=[EventRead(action=e.action, role=e.role, actor=e.actor, reason=e.reason, at=e.at)
                           for e in v.events])


class VersionList(msgspec.Struct, kw_only=True):
    """Versions, newest first per name."""

    items: list[VersionRead]


class PreviewRead(msgspec.Struct, kw_only=True):
    """An expression evaluated without storing anything."""

    expression: str
    as_of: date
    size: int
    population: int
    features: list[str]
    summary: dict[str, Any]


class SnapshotRead(msgspec.Struct, kw_only=True):
    """A stored evaluation: size and summary (the member ids stay in the vault)."""

    id: uuid.UUID
    segment: str
    as_of: date
    size: int
    population: int
    summary: dict[str, Any]
    created_by: str
    created_at: datetime

    @classmethod
    def from_view(cls, s: SnapshotView) -> SnapshotRead:
        return cls(id=s.id, segment=s.ref, as_of=s.as_of, size=s.size, population=s.population, summary=s.summary,
                   created_by=s.created_by, created_at=s.created_at)


class SnapshotList(msgspec.Struct, kw_only=True):
    """Snapshots of a version, newest first."""

    items: list[SnapshotRead]


class DiffSideRead(msgspec.Struct, kw_only=True):
    """Joined or left: counts by tier and quadrant."""

    count: int
    by_tier: dict[str, int]
    by_quadrant: dict[str, int]

    @classmethod
    def from_side(cls, s: DiffSide) -> DiffSideRead:
        return cls(count=s.count, by_tier=s.by_tier, by_quadrant=s.by_quadrant)


class DiffRead(msgspec.Struct, kw_only=True):
    """Membership change between two snapshots."""

    base: SnapshotRead
    target: SnapshotRead
    joined: DiffSideRead
    left: DiffSideRead
    stayed: int
    tier_changes: dict[str, int]


class ConflictRead(msgspec.Struct, kw_only=True):
    """Members blocked by another department (counts; ids only for the segment's departments)."""

    segment: str
    snapshot_id: uuid.UUID
    owner_department: str
    count: int
    by_label: dict[str, int]
    by_department: dict[str, int]
    customer_ids: list[uuid.UUID]


class MembersRead(msgspec.Struct, kw_only=True):
    """Members as project pseudonyms (analysts)."""

    segment: str
    snapshot_id: uuid.UUID
    project: str
    count: int
    pseudonyms: list[str]


class LabelCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/customers/{id}/labels."""

    label: str
    reason_code: str


class LabelRead(msgspec.Struct, kw_only=True):
    """A department's label on a customer."""

    id: uuid.UUID
    customer_id: uuid.UUID
    label: str
    department: str
    reason_code: str
    set_by: str
    set_at: datetime
    cleared_by: str | None = None
    cleared_at: datetime | None = None

    @classmethod
    def from_view(cls, v: LabelView) -> LabelRead:
        return cls(id=v.id, customer_id=v.customer_id, label=v.label, department=v.department,
                   reason_code=v.reason_code, set_by=v.set_by, set_at=v.set_at, cleared_by=v.cleared_by,
                   cleared_at=v.cleared_at)


class LabelList(msgspec.Struct, kw_only=True):
    """Every department's labels, side by side."""

    items: list[LabelRead]


class InteractionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/customers/{id}/interactions (codes only: no free text, no PII)."""

    kind: str
    satisfaction: int | None = None
    occurred_at: datetime | None = None
    department: str | None = None


class InteractionRead(msgspec.Struct, kw_only=True):
    """A recorded interaction; ``created`` is false for a repeat of the same interaction."""

    id: uuid.UUID
    customer_id: uuid.UUID
    department: str
    kind: str
    satisfaction: int | None
    occurred_at: datetime
    created: bool

    @classmethod
    def from_view(cls, v: InteractionView) -> InteractionRead:
        return cls(id=v.id, customer_id=v.customer_id, department=v.department, kind=v.kind,
                   satisfaction=v.satisfaction, occurred_at=v.occurred_at, created=v.created)


def _ref(name: FromPath[str], version: FromPath[int]) -> str:
    return f"{name}@{version}"


class SegmentController(Controller):
    """Shared segments: no PII leaves through these endpoints (ids, counts, pseudonyms for analysts)."""

    path = "/v1/segments"
    tags = ["segments"]

    @post("/preview", operation_id="PreviewSegment", status_code=200)
    async def preview(self, data: JSONBody[PreviewRequest], caller: NamedDependency[Caller],
                      state: State) -> PreviewRead:
        """Evaluate an expression now (or at ``as_of``) without storing anything; 422 names the column."""
        p = await vault_of(state).segments().preview(data.expression, caller, data.as_of)
        return PreviewRead(expression=p.expression, as_of=p.as_of, size=p.size, population=p.population,
                           features=p.names, summary=p.summary)

    @get("/features", operation_id="ListSegmentFeatures")
    async def features(self, state: State) -> dict[str, Any]:
        """Every feature name an expression may use, with its type and meaning."""
        cat = vault_of(state).segments().engine.catalogue
        return {"items": [{"name": f.name, "type": f.type, "doc": f.doc, "values": f.values}
                          for f in sorted(cat.features.values(), key=lambda f: f.name)]}

    @post("/", operation_id="CreateSegment", status_code=201)
    async def create(self, data: JSONBody[SegmentCreate], caller: NamedDependency[Caller], state: State) -> VersionRead:
        """Create version 1 of a new segment, or the next version of an existing one, as a draft."""
        v = await vault_of(state).segments().create(data.name, data.expression, caller, description=data.description,
                                                   targeting=data.targeting, owner_department=data.owner_department)
        return VersionRead.from_view(v)

    @get("/", operation_id="ListSegments")
    async def list_segments(self, caller: NamedDependency[Caller], state: State,
                            name: Annotated[str | None, QueryParameter(max_length=80)] = None) -> VersionList:
        """Every version (of ``name``) with status and sign-offs."""
        return VersionList(items=[VersionRead.from_view(v) for v in await vault_of(state).segments().versions(
            caller, name)])

    @get("/{name:str}/versions/{version:int}", operation_id="GetSegmentVersion")
    async def get_version(self, name: FromPath[str], version: FromPath[int], caller: NamedDependency[Caller],
                          state: State) -> VersionRead:
        """One version and its sign-off trail."""
        return VersionRead.from_view(await vault_of(state).segments().get(_ref(name, version), caller))

    @post("/{name:str}/versions/{version:int}/approve", operation_id="ApproveSegmentVersion", status_code=200)
    async def approve(self, name: FromPath[str], version: FromPath[int], caller: NamedDependency[Caller],
                      state: State) -> VersionRead:
        """Sign off for the caller's department (marketing, sales or crm_agent)."""
        return VersionRead.from_view(await vault_of(state).segments().approve(_ref(name, version), caller))

    @post("/{name:str}/versions/{version:int}/veto", operation_id="VetoSegmentVersion", status_code=200)
    async def veto(self, name: FromPath[str], version: FromPath[int], data: JSONBody[VetoRequest],
                   caller: NamedDependency[Caller], state: State) -> VersionRead:
        """Compliance veto with a reason."""
        return VersionRead.from_view(await vault_of(state).segments().veto(_ref(name, version), data.reason, caller))

    @post("/{name:str}/versions/{version:int}/activate", operation_id="ActivateSegmentVersion", status_code=200)
    async def activate(self, name: FromPath[str], version: FromPath[int], caller: NamedDependency[Caller],
                       state: State) -> VersionRead:
        """Make an approved version usable (409 naming the missing sign-offs otherwise)."""
        return VersionRead.from_view(await vault_of(state).segments().activate(_ref(name, version), caller))

    @post("/{name:str}/versions/{version:int}/retire", operation_id="RetireSegmentVersion", status_code=200)
    async def retire(self, name: FromPath[str], version: FromPath[int], caller: NamedDependency[Caller],
                     state: State) -> VersionRead:
        """Take an active version out of use."""
        return VersionRead.from_view(await vault_of(state).segments().retire(_ref(name, version), caller))

    @post("/{name:str}/versions/{version:int}/evaluate", operation_id="EvaluateSegmentVersion", status_code=201)
    async def evaluate(self, name: FromPath[str], version: FromPath[int], caller: NamedDependency[Caller], state: State,
                       data: JSONBody[EvaluateRequest | None] = None) -> SnapshotRead:
        """Evaluate an active version and store a membership snapshot (ids only)."""
        snap = await vault_of(state).segments().evaluate(_ref(name, version), caller, data.as_of if data else None)
        return SnapshotRead.from_view(snap)

    @get("/{name:str}/versions/{version:int}/snapshots", operation_id="ListSegmentSnapshots")
    async def snapshots(self, name: FromPath[str], version: FromPath[int], caller: NamedDependency[Caller],
                        state: State) -> SnapshotList:
        """Snapshots (summaries: size, tiers, quadrants, feature distributions), newest first."""
        items = await vault_of(state).segments().snapshots(_ref(name, version), caller)
        return SnapshotList(items=[SnapshotRead.from_view(s) for s in items])

    @get("/snapshots/diff", operation_id="DiffSegmentSnapshots")
    async def diff(self, caller: NamedDependency[Caller], state: State, base: Annotated[uuid.UUID, QueryParameter()],
                   target: Annotated[uuid.UUID, QueryParameter()]) -> DiffRead:
        """Who joined and who left between two snapshots, by tier and quadrant (counts)."""
        d = await vault_of(state).segments().diff(base, target, caller)
        return DiffRead(base=SnapshotRead.from_view(d.base), target=SnapshotRead.from_view(d.target),
                        joined=DiffSideRead.from_side(d.joined), left=DiffSideRead.from_side(d.left),
                        stayed=d.stayed, tier_changes=d.tier_changes)

    @get("/{name:str}/versions/{version:int}/conflicts", operation_id="SegmentConflicts")
    async def conflicts(self, name: FromPath[str], version: FromPath[int], caller: NamedDependency[Caller],
                        state: State) -> ConflictRead:
        """Members of the latest snapshot that another department labelled blacklist / do_not_contact."""
        r = await vault_of(state).segments().conflicts(_ref(name, version), caller)
        return ConflictRead(segment=r.snapshot.ref, snapshot_id=r.snapshot.id, owner_department=r.owner_department,
                            count=r.count, by_label=r.by_label, by_department=r.by_department,
                            customer_ids=r.customer_ids)

    @get("/{name:str}/versions/{version:int}/members", operation_id="SegmentMembers")
    async def members(self, name: FromPath[str], version: FromPath[int], caller: NamedDependency[Caller], state: State,
                      project: Annotated[str, QueryParameter(max_length=64)],
                      purpose: Annotated[str | None, QueryParameter()] = None) -> MembersRead:
        """Members of the latest snapshot as ``project`` pseudonyms (analysts, purpose analytics; consenting
        customers only)."""
        del purpose
        snap, items = await vault_of(state).segments().member_pseudonyms(_ref(name, version), project, caller)
        return MembersRead(segment=snap.ref, snapshot_id=snap.id, project=project, count=len(items),
                           pseudonyms=items)


class CustomerLabelController(Controller):
    """Department labels on a customer: every department's labels side by side."""

    path = "/v1/customers/{customer_id:uuid}/labels"
    tags = ["labels"]

    @get("/", operation_id="ListCustomerLabels", dependencies={"session": Provide(provide_read_session)})
    async def list_labels(self, customer_id: FromPath[uuid.UUID], caller: NamedDependency[Caller],
                          session: NamedDependency[AsyncSession], state: State,
                          history: Annotated[bool, QueryParameter()] = False) -> LabelList:
        """Active labels (all, with ``history=true``)."""
        items = await vault_of(state).labels(session).list_labels(customer_id, caller, history=history)
        return LabelList(items=[LabelRead.from_view(v) for v in items])

    @post("/", operation_id="SetCustomerLabel", status_code=201,
          dependencies={"session": Provide(provide_write_session)})
    async def set_label(self, customer_id: FromPath[uuid.UUID], data: JSONBody[LabelCreate],
                        caller: NamedDependency[Caller], session: NamedDependency[AsyncSession],
                        state: State) -> LabelRead:
        """Set a label for the caller's department, with a reason code."""
        return LabelRead.from_view(await vault_of(state).labels(session).set(
            customer_id, data.label, data.reason_code, caller))

    @post("/{label_id:uuid}/clear", operation_id="ClearCustomerLabel", status_code=200,
          dependencies={"session": Provide(provide_write_session)})
    async def clear_label(self, customer_id: FromPath[uuid.UUID], label_id: FromPath[uuid.UUID],
                          caller: NamedDependency[Caller], session: NamedDependency[AsyncSession],
                          state: State) -> LabelRead:
        """Clear a label of the caller's own department (compliance may clear any)."""
        return LabelRead.from_view(await vault_of(state).labels(session).clear(customer_id, label_id, caller))


class InteractionController(Controller):
    """Service interactions (tickets, complaints, returns, inquiries, surveys)."""

    path = "/v1/customers/{customer_id:uuid}/interactions"
    tags = ["interactions"]

    @post("/", operation_id="RecordInteraction", status_code=201,
          dependencies={"session": Provide(provide_write_session)})
    async def record(self, customer_id: FromPath[uuid.UUID], data: JSONBody[InteractionCreate],
                     caller: NamedDependency[Caller], session: NamedDependency[AsyncSession],
                     state: State) -> InteractionRead:
        """Record an interaction with a department and an optional satisfaction score (1-5)."""
        return InteractionRead.from_view(await vault_of(state).labels(session).record_interaction(
            customer_id, data.kind, caller, occurred_at=data.occurred_at, satisfaction=data.satisfaction,
            department=data.department))
