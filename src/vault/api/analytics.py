"""/v1/projects, /v1/extracts and /v1/stats: the analysts' self-service (docs/analysts.md).

Analysts see pseudonyms and noisy counts only; every handler is one call into
``vault.privacy`` (projects, extract jobs, DP statistics).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import File

from vault.access.caller import Caller
from vault.bootstrap import Analysts
from vault.privacy.dp import DEFAULT_EPSILON, NoisyCounts, NoisySums
from vault.privacy.errors import StatsQueryError
from vault.privacy.jobs import ExtractJob
from vault.privacy.projects import Project


def analysts_of(state: State) -> Analysts:
    """The analysts' services built at start-up."""
    found: Analysts = state.analysts
    return found


class ProjectCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/projects."""

    name: str
    description: str | None = None
    epsilon_budget: float = 0.0
    members: list[uuid.UUID] = msgspec.field(default_factory=list)


class ProjectRead(msgspec.Struct, kw_only=True):
    """A project: members, ε budget and what is left, pseudonym key version."""

    id: uuid.UUID
    name: str
    description: str | None
    epsilon_budget: float
    epsilon_spent: float
    epsilon_remaining: float
    key_version: int
    members: list[uuid.UUID]
    created_by: str
    created_at: datetime

    @classmethod
    def from_domain(cls, p: Project) -> ProjectRead:
        return cls(
            id=p.id,
            name=p.name,
            description=p.description,
            epsilon_budget=p.epsilon_budget,
            epsilon_spent=p.epsilon_spent,
            epsilon_remaining=p.epsilon_remaining,
            key_version=p.key_version,
            members=p.members,
            created_by=p.created_by,
            created_at=p.created_at,
        )


class MemberAdd(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/projects/{id}/members."""

    principal_id: uuid.UUID


class BudgetSet(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of PUT /v1/projects/{id}/budget."""

    epsilon_budget: float


class Reidentify(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/projects/{id}/reidentify."""

    pseudonym: str
    reason_code: str
    case_reference: str


class ReidentifyRead(msgspec.Struct, kw_only=True):
    """The customer behind a pseudonym."""

    customer_id: uuid.UUID
    key_version: int
    status: str


class LedgerEntry(msgspec.Struct, kw_only=True):
    """One ε charge."""

    query: str
    epsilon: float
    actor: str
    spent_at: datetime


class ExtractCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of POST /v1/extracts: the spec (as in SPEC.yaml, docs/extracts.md) and the file format."""

    spec: dict[str, Any]
    format: str = "parquet"


class ExtractRead(msgspec.Struct, kw_only=True):
    """An extract job: who, when, what for, status, and (when done) the manifest and file digest."""

    id: uuid.UUID
    project_id: uuid.UUID
    project: str
    requested_by: str
    role: str
    purpose: str
    status: str
    progress: float
    format: str
    spec_sha256: str
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    rows: int | None
    file_sha256: str | None
    manifest: dict[str, Any] | None
    error: dict[str, Any] | None
    spec: dict[str, Any]

    @classmethod
    def from_domain(cls, j: ExtractJob) -> ExtractRead:
        return cls(
            id=j.id,
            project_id=j.project_id,
            project=j.project,
            requested_by=j.requested_by,
            role=j.role,
            purpose=j.purpose,
            status=j.status,
            progress=j.progress,
            format=j.format,
            spec_sha256=j.spec_sha256,
            created_at=j.created_at,
            finished_at=j.finished_at,
            expires_at=j.expires_at,
            rows=j.rows,
            file_sha256=j.file_sha256,
            manifest=j.manifest,
            error=j.error,
            spec=j.spec,
        )


class ExtractList(msgspec.Struct, kw_only=True):
    """The extract registry, newest first."""

    items: list[ExtractRead]
    count: int


class StatsSnapshotRead(msgspec.Struct, kw_only=True):
    """A statistics snapshot (true counts are never returned)."""

    id: uuid.UUID
    created_at: datetime
    reference_date: str
    customers: int


class NoiseRead(msgspec.Struct, kw_only=True):
    """How the noise was made, so the counts can be read."""

    mechanism: str
    library: str
    epsilon: float
    scale: float
    sensitivity: int
    ci95: float
    note: str


class CountsRead(msgspec.Struct, kw_only=True):
    """Differentially private counts."""

    project: str
    by: list[str]
    filter: dict[str, str]
    groups: list[dict[str, Any]]
    noise: NoiseRead
    epsilon_remaining: float
    snapshot: StatsSnapshotRead

    @classmethod
    def from_domain(cls, project: str, c: NoisyCounts) -> CountsRead:
        s = c.snapshot
        return cls(
            project=project,
            by=c.by,
            filter=c.filters,
            groups=c.groups,
            noise=NoiseRead(
                mechanism="discrete Laplace",
                library="OpenDP",
                epsilon=c.epsilon,
                scale=c.scale,
                sensitivity=1,
                ci95=round(c.scale * 2.995732, 3),
                note="each count is the true count plus integer noise of this scale; 95% of "
                "counts lie within ci95 of the truth; counts are unbiased and may be "
                "negative",
            ),
            epsilon_remaining=c.epsilon_remaining,
            snapshot=StatsSnapshotRead(
                id=s.id, created_at=s.created_at, reference_date=s.reference_date, customers=s.customers
            ),
        )


_CI95 = 2.995732  # ln(1/0.05): 95% of discrete Laplace draws of scale b lie within b * this


class BoundsRead(msgspec.Struct, kw_only=True):
    """The clamping bounds: each customer's value was clamped to [lower, upper] before summing."""

    lower: int
    upper: int


class SumsRead(msgspec.Struct, kw_only=True):
    """Differentially private bounded sums (or means) of a measure per group."""

    project: str
    measure: str
    statistic: str
    by: list[str]
    filter: dict[str, str]
    bounds: BoundsRead
    groups: list[dict[str, Any]]
    noise: dict[str, NoiseRead]
    epsilon: float
    epsilon_remaining: float
    snapshot: StatsSnapshotRead

    @classmethod
    def from_domain(cls, project: str, statistic: str, r: NoisySums) -> SumsRead:
        s = r.snapshot
        share = r.epsilon if r.count_scale is None else r.epsilon / 2
        noise = {
            "sum": NoiseRead(
                mechanism="discrete Laplace",
                library="OpenDP",
                epsilon=share,
                scale=r.sum_scale,
                sensitivity=r.upper,
                ci95=round(r.sum_scale * _CI95, 3),
                note=f"each sum is the true sum of per-customer {r.measure} clamped to [{r.lower}, {r.upper}] plus "
                "integer noise of this scale; 95% of sums lie within ci95 of the clamped truth; unbiased, may be "
                "negative",
            )
        }
        if r.count_scale is not None:
            noise["count"] = NoiseRead(
                mechanism="discrete Laplace",
                library="OpenDP",
                epsilon=share,
                scale=r.count_scale,
                sensitivity=1,
                ci95=round(r.count_scale * _CI95, 3),
                note="each count is the true count plus integer noise of this scale; mean = sum / count, kept "
                "within the bounds, null when the noisy count is below 1; reliable only where count >> ci95",
            )
        return cls(
            project=project,
            measure=r.measure,
            statistic=statistic,
            by=r.by,
            filter=r.filters,
            bounds=BoundsRead(lower=r.lower, upper=r.upper),
            groups=r.groups,
            noise=noise,
            epsilon=r.epsilon,
            epsilon_remaining=r.epsilon_remaining,
            snapshot=StatsSnapshotRead(
                id=s.id, created_at=s.created_at, reference_date=s.reference_date, customers=s.customers
            ),
        )


def _filters(filter_: str | None) -> dict[str, str]:
    """``dimension:value`` pairs, comma-separated."""
    filters: dict[str, str] = {}
    for part in (filter_ or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition(":")
        if not sep:
            raise StatsQueryError(f"filter: {part!r} must be dimension:value")
        filters[name.strip()] = value.strip()
    return filters


ProjectParam = Annotated[str, QueryParameter(name="project", min_length=1, max_length=100)]
ByParam = Annotated[
    str,
    QueryParameter(
        name="by", min_length=1, max_length=200, description="comma-separated: age_band, age_band10, region, gender"
    ),
]
FilterParam = Annotated[
    str | None,
    QueryParameter(name="filter", max_length=500, description="comma-separated dimension:value pairs, e.g. gender:F"),
]
MeasureParam = Annotated[str, QueryParameter(name="measure", description="what to sum: spend (KRW, 365 days)")]
UpperParam = Annotated[
    int | None,
    QueryParameter(
        name="upper",
        description="clamp each customer's value to [0, upper] (default: VAULT_ANALYTICS__SPEND_UPPER_KRW)",
    ),
]


class ProjectController(Controller):
    """Analysis projects: compliance officers create and govern them; analysts read their own."""

    path = "/v1/projects"
    tags = ["analysts"]

    @get("/", operation_id="ListProjects")
    async def list_projects(self, caller: NamedDependency[Caller], state: State) -> list[ProjectRead]:
        """Every project (compliance officers) or the caller's projects (analysts)."""
        return [ProjectRead.from_domain(p) for p in await analysts_of(state).projects.projects(caller)]

    @post("/", operation_id="CreateProject", status_code=201)
    async def create_project(
        self, data: JSONBody[ProjectCreate], caller: NamedDependency[Caller], state: State
    ) -> ProjectRead:
        """Create a project; its name keys the pseudonyms of its extracts."""
        return ProjectRead.from_domain(
            await analysts_of(state).projects.create(
                data.name,
                caller,
                description=data.description,
                epsilon_budget=data.epsilon_budget,
                members=data.members,
            )
        )

    @get("/{project_id:uuid}", operation_id="GetProject")
    async def get_project(
        self, project_id: FromPath[uuid.UUID], caller: NamedDependency[Caller], state: State
    ) -> ProjectRead:
        """One project."""
        return ProjectRead.from_domain(await analysts_of(state).projects.get(project_id, caller))

    @post("/{project_id:uuid}/members", operation_id="AddProjectMember", status_code=200)
    async def add_member(
        self, project_id: FromPath[uuid.UUID], data: JSONBody[MemberAdd], caller: NamedDependency[Caller], state: State
    ) -> ProjectRead:
        """Add an analyst to the project."""
        return ProjectRead.from_domain(
            await analysts_of(state).projects.add_member(project_id, data.principal_id, caller)
        )

    @delete("/{project_id:uuid}/members/{principal_id:uuid}", operation_id="RemoveProjectMember", status_code=200)
    async def remove_member(
        self,
        project_id: FromPath[uuid.UUID],
        principal_id: FromPath[uuid.UUID],
        caller: NamedDependency[Caller],
        state: State,
    ) -> ProjectRead:
        """Remove an analyst from the project."""
        return ProjectRead.from_domain(
            await analysts_of(state).projects.remove_member(project_id, principal_id, caller)
        )

    @put("/{project_id:uuid}/budget", operation_id="SetProjectBudget")
    async def set_budget(
        self, project_id: FromPath[uuid.UUID], data: JSONBody[BudgetSet], caller: NamedDependency[Caller], state: State
    ) -> ProjectRead:
        """Set the project's total ε budget."""
        return ProjectRead.from_domain(
            await analysts_of(state).projects.set_budget(project_id, data.epsilon_budget, caller)
        )

    @post("/{project_id:uuid}/rotate-key", operation_id="RotateProjectKey", status_code=200)
    async def rotate_key(
        self, project_id: FromPath[uuid.UUID], caller: NamedDependency[Caller], state: State
    ) -> ProjectRead:
        """New pseudonyms for later extracts (unlinkable to earlier ones)."""
        return ProjectRead.from_domain(await analysts_of(state).projects.rotate_key(project_id, caller))

    @get("/{project_id:uuid}/ledger", operation_id="GetProjectLedger")
    async def ledger(
        self,
        project_id: FromPath[uuid.UUID],
        caller: NamedDependency[Caller],
        state: State,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[LedgerEntry]:
        """The project's most recent ε charges."""
        rows = await analysts_of(state).projects.ledger(project_id, caller, limit)
        return [LedgerEntry(query=r.query, epsilon=r.epsilon, actor=r.actor_name, spent_at=r.spent_at) for r in rows]

    @post("/{project_id:uuid}/reidentify", operation_id="ReidentifyPseudonym", status_code=200)
    async def reidentify(
        self, project_id: FromPath[uuid.UUID], data: JSONBody[Reidentify], caller: NamedDependency[Caller], state: State
    ) -> ReidentifyRead:
        """The customer id behind a pseudonym: compliance officers, purpose legal_claims, audited."""
        found = await analysts_of(state).projects.reidentify(
            project_id, data.pseudonym, caller, reason_code=data.reason_code, case_reference=data.case_reference
        )
        return ReidentifyRead(customer_id=found.customer_id, key_version=found.key_version, status=found.status)


class ExtractController(Controller):
    """Extracts as jobs over HTTP (docs/analysts.md)."""

    path = "/v1/extracts"
    tags = ["analysts"]

    @post("/", operation_id="CreateExtract", status_code=202)
    async def create_extract(
        self, data: JSONBody[ExtractCreate], caller: NamedDependency[Caller], state: State
    ) -> ExtractRead:
        """Queue an extract of one of the caller's projects; poll GET /v1/extracts/{id}."""
        return ExtractRead.from_domain(await analysts_of(state).jobs.submit(data.spec, data.format, caller))

    @get("/", operation_id="ListExtracts")
    async def list_extracts(
        self,
        caller: NamedDependency[Caller],
        state: State,
        project_id: Annotated[uuid.UUID | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> ExtractList:
        """The registry: who, when, purpose, project, rows, spec hash, file SHA-256."""
        items = await analysts_of(state).jobs.registry(caller, project_id=project_id, limit=limit, offset=offset)
        return ExtractList(items=[ExtractRead.from_domain(j) for j in items], count=len(items))

    @get("/{job_id:uuid}", operation_id="GetExtract")
    async def get_extract(
        self, job_id: FromPath[uuid.UUID], caller: NamedDependency[Caller], state: State
    ) -> ExtractRead:
        """Status, progress and (when done) the manifest."""
        return ExtractRead.from_domain(await analysts_of(state).jobs.get(job_id, caller))

    @get("/{job_id:uuid}/file", operation_id="DownloadExtract", media_type="application/octet-stream")
    async def download(self, job_id: FromPath[uuid.UUID], caller: NamedDependency[Caller], state: State) -> File:
        """The extract file, streamed."""
        path, job = await analysts_of(state).jobs.file(job_id, caller)
        media = "text/csv" if job.format == "csv" else "application/vnd.apache.parquet"
        return File(
            path=path,
            filename=f"{job.project}-{job.id}.{job.format}".replace("/", "_"),
            media_type=media,
            headers={"X-Content-SHA256": job.file_sha256 or ""},
        )


class StatsController(Controller):
    """Differentially private statistics (OpenDP) against a project's ε budget."""

    path = "/v1/stats"
    tags = ["analysts"]

    @post("/snapshots", operation_id="CreateStatsSnapshot", status_code=201)
    async def snapshot(self, caller: NamedDependency[Caller], state: State) -> StatsSnapshotRead:
        """Recount the consented population (the true counts DP answers are drawn from)."""
        s = await analysts_of(state).stats.refresh(caller)
        return StatsSnapshotRead(
            id=s.id, created_at=s.created_at, reference_date=s.reference_date, customers=s.customers
        )

    @get("/counts", operation_id="DpCounts")
    async def counts(
        self,
        caller: NamedDependency[Caller],
        state: State,
        project: Annotated[str, QueryParameter(name="project", min_length=1, max_length=100)],
        by: Annotated[
            str,
            QueryParameter(
                name="by",
                min_length=1,
                max_length=200,
                description="comma-separated: age_band, age_band10, region, gender",
            ),
        ],
        filter_: Annotated[
            str | None,
            QueryParameter(
                name="filter", max_length=500, description="comma-separated dimension:value pairs, e.g. gender:F"
            ),
        ] = None,
        epsilon: Annotated[float, QueryParameter(name="epsilon")] = DEFAULT_EPSILON,
    ) -> CountsRead:
        """Noisy counts grouped by ``by``; charges ``epsilon`` to the project."""
        result = await analysts_of(state).stats.counts(project, by.split(","), _filters(filter_), epsilon, caller)
        return CountsRead.from_domain(project, result)

    @get("/sums", operation_id="DpSums")
    async def sums(
        self,
        caller: NamedDependency[Caller],
        state: State,
        project: ProjectParam,
        measure: MeasureParam,
        by: ByParam,
        filter_: FilterParam = None,
        epsilon: Annotated[float, QueryParameter(name="epsilon")] = DEFAULT_EPSILON,
        upper: UpperParam = None,
    ) -> SumsRead:
        """Noisy sums of ``measure`` per group, each customer clamped to [0, upper]; charges ``epsilon``."""
        result = await analysts_of(state).stats.sums(
            project, measure, by.split(","), _filters(filter_), epsilon, caller, upper=upper
        )
        return SumsRead.from_domain(project, "sum", result)

    @get("/means", operation_id="DpMeans")
    async def means(
        self,
        caller: NamedDependency[Caller],
        state: State,
        project: ProjectParam,
        measure: MeasureParam,
        by: ByParam,
        filter_: FilterParam = None,
        epsilon: Annotated[float, QueryParameter(name="epsilon")] = DEFAULT_EPSILON,
        upper: UpperParam = None,
    ) -> SumsRead:
        """Noisy means of ``measure`` per group (ε/2 on clamped sums, ε/2 on counts); charges ``epsilon``."""
        result = await analysts_of(state).stats.means(
            project, measure, by.split(","), _filters(filter_), epsilon, caller, upper=upper
        )
        return SumsRead.from_domain(project, "mean", result)
