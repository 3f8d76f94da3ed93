"""Extracts as jobs: requested over HTTP, run in the background, tracked in ``extract_jobs``.

This module is the jobs' service on one session (:class:`ExtractJobService`);
:class:`vault.privacy.job_runner.ExtractJobs` runs them and owns their transactions.

A submission is checked (the spec, the caller's permission and project membership), recorded
as a queued job (audited) and started as an asyncio task in the submitting process. The job row is the
only state: any API process answers ``get`` / ``list`` / ``file`` for any job, whichever
process runs it. The job runner writes a heartbeat every few seconds; a running job whose
heartbeat is older than :data:`STALE_AFTER` (its process died) is reported as failed.

Files live under ``<var_dir>/extracts/`` (named by job id) and expire ``ttl`` after they
were written: expired files are deleted and their jobs marked ``expired`` by a sweep run at
the start of each submit / list (so no single scheduler process is needed).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from vault.access import permissions as perms
from vault.errors import InvalidInputError
from vault.lib.clock import as_utc, utcnow
from vault.lib.ids import new_id
from vault.privacy.errors import ExtractExpiredError, ExtractJobNotFoundError, ExtractNotReadyError
from vault.privacy.models import ExtractJobRow
from vault.privacy.projects import ANALYTICS
from vault.privacy.repository import JobRepository
from vault.privacy.spec import parse_spec, resolve

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.errors import VaultError
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.purposes import PurposeCatalogue
    from vault.privacy.projects import ProjectGuard, ProjectService
    from vault.privacy.repository import JobStore
    from vault.privacy.spec import ExtractSpec

FORMATS = ("parquet", "csv")
HEARTBEAT = 2.0
STALE_AFTER = timedelta(minutes=5)
ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class ExtractJob:
    """A job as callers see it (no personal data: counts, hashes, generalized levels)."""

    id: uuid.UUID
    project_id: uuid.UUID
    project: str
    requested_by: str
    role: str
    purpose: str
    status: str
    progress: float
    format: str
    spec: dict[str, Any]
    spec_sha256: str
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    rows: int | None
    file_sha256: str | None
    manifest: dict[str, Any] | None
    error: dict[str, Any] | None


@dataclass(frozen=True)
class Submission:
    """A checked extract request, not yet recorded."""

    spec_doc: dict[str, Any]
    spec: ExtractSpec
    purpose: str
    format: str
    canonical: str
    digest: str


class ExtractJobService:
    """Extract jobs on the session it is given: submission, visibility, the registry and state changes.

    It never opens or commits a transaction: :class:`vault.privacy.job_runner.ExtractJobs` runs the jobs and
    owns their transactions (each state change commits on its own, so any process sees it).
    """

    def __init__(self, session: AsyncSession, guard: ProjectGuard, projects: ProjectService,
                 catalogue: FieldCatalogue, purposes: PurposeCatalogue, clock: Callable[[], datetime] = utcnow, *,
                 repo: JobStore | None = None) -> None:
        self._session = session
        self._repo = repo if repo is not None else JobRepository(session)
        self._guard = guard
        self._projects = projects
        self._catalogue = catalogue
        self._purposes = purposes
        self._clock = clock

    # -- submitting --------------------------------------------------------------------------------------

    async def check(self, spec_doc: dict[str, Any], fmt: str, caller: Caller) -> Submission:
        """Check the format, the spec and the caller's ``extracts:create`` for its purpose (runs no statement).

        Raises:
            InvalidInputError: an unknown format.
            ExtractSpecError / DirectIdentifierError: a bad spec (422).
            AccessDeniedError: no ``extracts:create`` for the purpose (audited).
        """
        if fmt not in FORMATS:
            raise InvalidInputError(f"format: must be one of {', '.join(FORMATS)}", field="format")
        spec = parse_spec(spec_doc)
        plan = resolve(spec, self._catalogue, self._purposes)
        await self._guard.require(caller, perms.EXTRACTS_CREATE, plan.purpose.id, "extract.submit")
        canonical = json.dumps(spec_doc, sort_keys=True, ensure_ascii=False, default=str)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return Submission(spec_doc, spec, plan.purpose.id, fmt, canonical, digest)

    async def admit(self, submission: Submission, caller: Caller) -> None:
        """The caller must be a member of the spec's project (run it in a read transaction: a refusal is durable).

        Raises:
            ProjectNotFoundError: the spec's project does not exist.
            NotAMemberError: the caller is not a member (audited).
        """
        await self._projects.require_member(submission.spec.project, caller, "extract.submit")

    async def record(self, submission: Submission, caller: Caller) -> ExtractJob:
        """Record the queued job with its audit entry (admitted by :meth:`admit`)."""
        project = await self._projects.require_member(submission.spec.project, caller, "extract.submit")
        row = ExtractJobRow(
            id=new_id(), project_id=project.id, principal_id=caller.principal.id if caller.principal else None,
            actor_name=caller.actor.name, actor_role=caller.role, purpose=submission.purpose,
            spec=json.loads(submission.canonical), spec_sha256=submission.digest, format=submission.format,
            status="queued", progress=0.0, created_at=self._clock())
        await self._repo.add(row)
        await self._guard.record(caller, "extract.submit", f"job={row.id} project={project.id} "
                                 f"spec_sha256={submission.digest} format={submission.format}", submission.purpose,
                                 self._session)
        return view(row, project.name)

    # -- state changes (each in its own write transaction) ------------------------------------------------

    async def start(self, job_id: uuid.UUID, runner: str) -> None:
        """queued -> running, in process ``runner``."""
        await self._repo.set(job_id, {"status": "running", "runner": runner, "heartbeat_at": self._clock()})

    async def beat(self, job_id: uuid.UUID, progress: float) -> None:
        """The runner is alive and this far (0 to 1)."""
        await self._repo.set(job_id, {"progress": round(progress, 3), "heartbeat_at": self._clock()})

    async def finish(self, job_id: uuid.UUID, manifest: dict[str, Any], file_name: str, ttl: timedelta) -> None:
        """running -> done: the file is there until ``ttl`` from now."""
        finished = self._clock()
        await self._repo.set(job_id, {"status": "done", "progress": 1.0, "manifest": manifest, "file_name": file_name,
                                      "file_sha256": manifest["file_sha256"], "rows": manifest["rows"],
                                      "finished_at": finished, "expires_at": finished + ttl,
                                      "heartbeat_at": finished})

    async def fail(self, job_id: uuid.UUID, exc: VaultError | None, extra: dict[str, Any]) -> None:
        """-> failed, with the error as problem details (an unexpected one says only "internal error")."""
        error: dict[str, Any] = ({"type": f"urn:vault:{exc.code}", "title": exc.title, "detail": exc.detail, **extra}
                                 if exc is not None else {"type": "urn:vault:extract.internal",
                                                          "title": "Extract failed",
                                                          "detail": "internal error; see the server log"})
        await self._repo.set(job_id, {"status": "failed", "error": error, "finished_at": self._clock()})

    async def mark_stale(self, row: ExtractJobRow) -> ExtractJobRow:
        """A queued or running job whose heartbeat is older than :data:`STALE_AFTER` failed (its process died)."""
        if is_stale(row, self._clock()):
            error: dict[str, object] = {"type": "urn:vault:extract.interrupted", "title": "Extract interrupted",
                     "detail": f"the process running it ({row.runner or 'none'}) stopped; request it again"}
            await self._repo.set(row.id, {"status": "failed", "error": error, "finished_at": self._clock()})
            row.status, row.error = "failed", error
        return row

    async def due(self) -> list[tuple[uuid.UUID, str | None]]:
        """Done jobs whose files expired: ids and file names."""
        return await self._repo.expired(self._clock())

    async def expire(self, job_id: uuid.UUID) -> None:
        """done -> expired, its file deleted by the caller."""
        await self._repo.set(job_id, {"status": "expired", "deleted_at": self._clock()})

    # -- reading -----------------------------------------------------------------------------------------

    async def find(self, job_id: uuid.UUID, caller: Caller, action: str) -> tuple[ExtractJobRow, str]:
        """The job and its project's name, if the caller may see it.

        Raises:
            AccessDeniedError: no ``extracts:read`` (audited).
            ExtractJobNotFoundError: unknown job, or not in the caller's projects (audited as a denial).
        """
        await self.require_read(caller, action)
        found = await self._repo.with_project(job_id)
        if found is not None:
            row, name = found
            if self._projects.sees_all(caller) or await self._projects.is_member(row.project_id, caller):
                return row, name
            await self._guard.deny(caller, action, ExtractJobNotFoundError(f"no extract {job_id} in your projects"),
                                   ANALYTICS, f"job={job_id} project={row.project_id} not a member")
        raise ExtractJobNotFoundError(f"no extract {job_id} in your projects")

    async def registry(self, caller: Caller, *, project_id: uuid.UUID | None = None, limit: int = 100,
                       offset: int = 0) -> list[ExtractJob]:
        """The registry: every job for compliance officers, the caller's projects' jobs for analysts."""
        await self.require_read(caller, "extract.list")
        member = None
        if not self._projects.sees_all(caller):
            assert caller.principal is not None
            member = caller.principal.id
        rows = await self._repo.page(project_id=project_id, member=member, limit=limit, offset=offset)
        return [view(row, name) for row, name in rows]

    async def download(self, job_id: uuid.UUID, caller: Caller, directory: Path) -> tuple[Path, ExtractJob]:
        """The finished extract's file under ``directory`` (audited durably).

        Raises:
            ExtractJobNotFoundError: unknown or invisible job.
            ExtractNotReadyError: still running, or failed.
            ExtractExpiredError: the file expired and was deleted.
        """
        row, name = await self.find(job_id, caller, "extract.download")
        job = view(row, name)
        if row.status == "expired" or row.deleted_at is not None or (
                row.expires_at is not None and as_utc(row.expires_at) <= self._clock()):
            raise ExtractExpiredError(f"extract {job_id} expired and its file was deleted; request a new one")
        if row.status != "done" or row.file_name is None:
            raise ExtractNotReadyError(f"extract {job_id} is {row.status}; the file is there once it is done",
                                       job_status=row.status)
        path = directory / row.file_name
        if not path.is_file():
            raise ExtractExpiredError(f"extract {job_id} has no file on this server any more")
        await self._guard.record(caller, "extract.download", f"job={job_id} project={row.project_id} "
                                 f"file_sha256={row.file_sha256} rows={row.rows}", ANALYTICS)
        return path, job

    async def require_read(self, caller: Caller, action: str) -> None:
        """Compliance officers read every job; others need ``extracts:read`` (a denial is audited durably)."""
        if self._projects.sees_all(caller):
            return
        await self._guard.require(caller, perms.EXTRACTS_READ, ANALYTICS, action)


def is_stale(row: ExtractJobRow, now: datetime) -> bool:
    """Whether the job is queued or running with no heartbeat for :data:`STALE_AFTER`."""
    return row.status in ACTIVE and as_utc(row.heartbeat_at or row.created_at) < now - STALE_AFTER


def view(row: ExtractJobRow, project: str) -> ExtractJob:
    """The job as callers see it."""
    return ExtractJob(
        id=row.id, project_id=row.project_id, project=project, requested_by=row.actor_name, role=row.actor_role,
        purpose=row.purpose, status=row.status, progress=row.progress, format=row.format, spec=dict(row.spec),
        spec_sha256=row.spec_sha256, created_at=as_utc(row.created_at),
        finished_at=as_utc(row.finished_at) if row.finished_at else None,
        expires_at=as_utc(row.expires_at) if row.expires_at else None, rows=row.rows, file_sha256=row.file_sha256,
        manifest=dict(row.manifest) if row.manifest else None, error=dict(row.error) if row.error else None)
