"""Extracts as jobs: requested over HTTP, run in the background, tracked in ``extract_jobs``.

``submit`` checks the spec, the caller's permission and project membership, records a
queued job (audited) and starts it as an asyncio task in this process. The job row is the
only state: any API process answers ``get`` / ``list`` / ``file`` for any job, whichever
process runs it. The runner writes a heartbeat every few seconds; a running job whose
heartbeat is older than :data:`STALE_AFTER` (its process died) is reported as failed.

Files live under ``<var_dir>/extracts/`` (named by job id) and expire ``ttl`` after they
were written: expired files are deleted and their jobs marked ``expired`` by a sweep run at
the start of each submit / list (so no single scheduler process is needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from vault.access import permissions as perms
from vault.errors import InvalidInputError, VaultError
from vault.lib.clock import as_utc, utcnow
from vault.lib.ids import new_id
from vault.lib.periodic import every
from vault.privacy.errors import (
    ExtractExpiredError,
    ExtractJobNotFoundError,
    ExtractNotReadyError,
    TargetUnmeetableError,
)
from vault.privacy.models import ExtractJobRow, ProjectRow
from vault.privacy.projects import ANALYTICS
from vault.privacy.spec import parse_spec, resolve

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from vault.access.caller import Caller
    from vault.db.engine import Database
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.purposes import PurposeCatalogue
    from vault.privacy.projects import ProjectGuard, ProjectService
    from vault.privacy.service import ExtractService

log = logging.getLogger("vault.privacy.jobs")
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


class ExtractJobs:
    """Submits, runs, reports and serves extract jobs."""

    def __init__(self, db: Database, guard: ProjectGuard, projects: ProjectService, catalogue: FieldCatalogue,
                 purposes: PurposeCatalogue, directory: Path, ttl: timedelta,
                 extracts: Callable[[], ExtractService], clock: Callable[[], datetime] = utcnow,
                 segment_check: Callable[[str], Awaitable[object]] | None = None) -> None:
        self._db = db
        self._guard = guard
        self._projects = projects
        self._catalogue = catalogue
        self._purposes = purposes
        self._dir = directory
        self._ttl = ttl
        self._extracts = extracts
        self._clock = clock
        #: Checks a spec's ``segment: name@version`` at submission (raises the segments' 404/409 errors).
        self._segment_check = segment_check
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner = f"{socket.gethostname()}:{os.getpid()}"

    # -- submitting and running ------------------------------------------------------------------------

    async def submit(self, spec_doc: dict[str, Any], fmt: str, caller: Caller) -> ExtractJob:
        """Check and queue an extract; it starts at once in this process.

        Raises:
            ExtractSpecError / DirectIdentifierError: a bad spec (422).
            AccessDeniedError: no ``extracts:create`` for the purpose, or not a member of the project (audited).
            ProjectNotFoundError: the spec's project does not exist.
            SegmentNotFoundError / SegmentStateError: the spec's segment version does not exist (404), or was
                never activated or has no snapshot (409).
        """
        if fmt not in FORMATS:
            raise InvalidInputError(f"format: must be one of {', '.join(FORMATS)}", field="format")
        spec = parse_spec(spec_doc)
        plan = resolve(spec, self._catalogue, self._purposes)
        await self._guard.require(caller, perms.EXTRACTS_CREATE, plan.purpose.id, "extract.submit")
        if spec.segment is not None and self._segment_check is not None:
            await self._segment_check(spec.segment)
        await self.sweep()
        canonical = json.dumps(spec_doc, sort_keys=True, ensure_ascii=False, default=str)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        async with self._db.read() as session:  # a refusal is audited durably: not inside the write transaction
            await self._projects.require_member(session, spec.project, caller, "extract.submit")
        async with self._db.write() as session:
            project = await self._projects.require_member(session, spec.project, caller, "extract.submit")
            row = ExtractJobRow(
                id=new_id(), project_id=project.id, principal_id=caller.principal.id if caller.principal else None,
                actor_name=caller.actor.name, actor_role=caller.role, purpose=plan.purpose.id,
                spec=json.loads(canonical), spec_sha256=digest, format=fmt, status="queued", progress=0.0,
                created_at=self._clock())
            session.add(row)
            await session.flush()
            await self._guard.record(caller, "extract.submit", f"job={row.id} project={project.id} "
                                     f"spec_sha256={digest} format={fmt}", plan.purpose.id, session)
            job = _view(row, project.name)
        task = asyncio.create_task(self._run(job.id, spec_doc, fmt, caller))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job_id: uuid.UUID, spec_doc: dict[str, Any], fmt: str, caller: Caller) -> None:
        progress = {"done": 0.0}
        beat = asyncio.create_task(self._heartbeat(job_id, progress))
        out = self._dir / f"{job_id}.{fmt}"
        try:
            await self._set(job_id, status="running", runner=self._runner, heartbeat_at=self._clock())
            self._dir.mkdir(parents=True, exist_ok=True)
            spec = parse_spec(spec_doc)

            def on_progress(done: int, total: int) -> None:
                progress["done"] = 0.9 * done / max(total, 1)

            service = await asyncio.to_thread(self._extracts)  # the release gate is slow to build, once
            result = await service.create(spec, out, caller, spec_sha256=_sha(spec_doc),
                                                   progress=on_progress)
            m = result.manifest
            finished = self._clock()
            await self._set(job_id, status="done", progress=1.0, manifest=m, file_name=out.name,
                            file_sha256=m["file_sha256"], rows=m["rows"], finished_at=finished,
                            expires_at=finished + self._ttl, heartbeat_at=finished)
        except TargetUnmeetableError as exc:
            await self._fail(job_id, exc, {k: exc.extra.get(k) for k in ("worst_classes", "blocking", "failing_rows",
                                                                         "eligible_rows", "max_suppressed_rows",
                                                                         "levels")})
        except VaultError as exc:
            await self._fail(job_id, exc, {})
        except Exception:
            log.exception("extract job %s failed", job_id)
            await self._fail(job_id, None, {})
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _heartbeat(self, job_id: uuid.UUID, progress: dict[str, float]) -> None:
        async def beat() -> None:
            await self._set(job_id, progress=round(progress["done"], 3), heartbeat_at=self._clock())

        await every(HEARTBEAT, beat, errors=(VaultError, OSError))  # a missed beat is retried at the next one

    async def _fail(self, job_id: uuid.UUID, exc: VaultError | None, extra: dict[str, Any]) -> None:
        error: dict[str, Any] = ({"type": f"urn:vault:{exc.code}", "title": exc.title, "detail": exc.detail, **extra}
                                 if exc is not None else {"type": "urn:vault:extract.internal",
                                                          "title": "Extract failed",
                                                          "detail": "internal error; see the server log"})
        with contextlib.suppress(Exception):
            await self._set(job_id, status="failed", error=error, finished_at=self._clock())

    async def _set(self, job_id: uuid.UUID, **values: Any) -> None:
        async with self._db.write() as session:
            await session.execute(update(ExtractJobRow).where(ExtractJobRow.id == job_id).values(**values))

    async def wait(self) -> None:
        """Wait for every job this process runs (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- reading ---------------------------------------------------------------------------------------

    async def get(self, job_id: uuid.UUID, caller: Caller) -> ExtractJob:
        """One job: status, progress, manifest (404 unless the caller may see its project)."""
        await self._require_read(caller, "extract.read")
        async with self._db.read() as session:
            row, name = await self._visible(session, job_id, caller, "extract.read")
        row = await self._mark_stale(row)
        return _view(row, name)

    async def registry(self, caller: Caller, *, project_id: uuid.UUID | None = None, limit: int = 100,
                   offset: int = 0) -> list[ExtractJob]:
        """The registry: every job for compliance officers, the caller's projects' jobs for analysts."""
        await self._require_read(caller, "extract.list")
        await self.sweep()
        async with self._db.read() as session:
            q = (select(ExtractJobRow, ProjectRow.name).join(ProjectRow, ProjectRow.id == ExtractJobRow.project_id)
                 .order_by(ExtractJobRow.created_at.desc()).limit(limit).offset(offset))
            if project_id is not None:
                q = q.where(ExtractJobRow.project_id == project_id)
            if not self._projects.sees_all(caller):
                from vault.privacy.models import ProjectMemberRow

                assert caller.principal is not None
                q = q.join(ProjectMemberRow, ProjectMemberRow.project_id == ExtractJobRow.project_id).where(
                    ProjectMemberRow.principal_id == caller.principal.id)
            rows = (await session.execute(q)).all()
        return [_view(row, name) for row, name in rows]

    async def file(self, job_id: uuid.UUID, caller: Caller) -> tuple[Path, ExtractJob]:
        """The finished extract's file (audited download).

        Raises:
            ExtractJobNotFoundError: unknown or invisible job.
            ExtractNotReadyError: still running, or failed.
            ExtractExpiredError: the file expired and was deleted.
        """
        await self._require_read(caller, "extract.download")
        async with self._db.read() as session:
            row, name = await self._visible(session, job_id, caller, "extract.download")
        job = _view(row, name)
        if row.status == "expired" or row.deleted_at is not None or (
                row.expires_at is not None and as_utc(row.expires_at) <= self._clock()):
            raise ExtractExpiredError(f"extract {job_id} expired and its file was deleted; request a new one")
        if row.status != "done" or row.file_name is None:
            raise ExtractNotReadyError(f"extract {job_id} is {row.status}; the file is there once it is done",
                                       job_status=row.status)
        path = self._dir / row.file_name
        if not path.is_file():
            raise ExtractExpiredError(f"extract {job_id} has no file on this server any more")
        await self._guard.record(caller, "extract.download", f"job={job_id} project={row.project_id} "
                                 f"file_sha256={row.file_sha256} rows={row.rows}", ANALYTICS)
        return path, job

    async def _require_read(self, caller: Caller, action: str) -> None:
        if self._projects.sees_all(caller):
            return
        await self._guard.require(caller, perms.EXTRACTS_READ, ANALYTICS, action)

    async def _visible(self, session: Any, job_id: uuid.UUID, caller: Caller,
                       action: str) -> tuple[ExtractJobRow, str]:
        found = (await session.execute(select(ExtractJobRow, ProjectRow.name).join(
            ProjectRow, ProjectRow.id == ExtractJobRow.project_id).where(ExtractJobRow.id == job_id))).first()
        if found is not None:
            row, name = found
            if self._projects.sees_all(caller) or await self._projects.is_member(session, row.project_id, caller):
                return row, name
            await self._guard.deny(caller, action, ExtractJobNotFoundError(f"no extract {job_id} in your projects"),
                                   ANALYTICS, f"job={job_id} project={row.project_id} not a member")
        raise ExtractJobNotFoundError(f"no extract {job_id} in your projects")

    async def _mark_stale(self, row: ExtractJobRow) -> ExtractJobRow:
        beat = row.heartbeat_at or row.created_at
        if row.status in ACTIVE and as_utc(beat) < self._clock() - STALE_AFTER:
            error: dict[str, object] = {"type": "urn:vault:extract.interrupted", "title": "Extract interrupted",
                     "detail": f"the process running it ({row.runner or 'none'}) stopped; request it again"}
            await self._set(row.id, status="failed", error=error, finished_at=self._clock())
            row.status, row.error = "failed", error
        return row

    # -- expiry ----------------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Delete the files of expired extracts and mark them ``expired``; returns how many."""
        now = self._clock()
        async with self._db.read() as session:
            due = (await session.execute(select(ExtractJobRow.id, ExtractJobRow.file_name).where(
                ExtractJobRow.status == "done", ExtractJobRow.expires_at <= now))).all()
        for job_id, file_name in due:
            if file_name:
                (self._dir / file_name).unlink(missing_ok=True)
                (self._dir / f"{file_name}.manifest.json").unlink(missing_ok=True)
            await self._set(job_id, status="expired", deleted_at=now)
        return len(due)


def _sha(doc: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _view(row: ExtractJobRow, project: str) -> ExtractJob:
    return ExtractJob(
        id=row.id, project_id=row.project_id, project=project, requested_by=row.actor_name, role=row.actor_role,
        purpose=row.purpose, status=row.status, progress=row.progress, format=row.format, spec=dict(row.spec),
        spec_sha256=row.spec_sha256, created_at=as_utc(row.created_at),
        finished_at=as_utc(row.finished_at) if row.finished_at else None,
        expires_at=as_utc(row.expires_at) if row.expires_at else None, rows=row.rows, file_sha256=row.file_sha256,
        manifest=dict(row.manifest) if row.manifest else None, error=dict(row.error) if row.error else None)
