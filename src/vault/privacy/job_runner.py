"""Extract jobs as they run: submitted over HTTP, built in the background, each state change its own commit.

:class:`ExtractJobs` owns the transactions of :class:`vault.privacy.jobs.ExtractJobService` (which never opens
one). A submission is checked, admitted in a read transaction (a refusal is durable at once) and recorded in a
write transaction; the job then runs as an asyncio task in this process and commits each change of its row
(running, a heartbeat every few seconds, done or failed) on its own, so any process answers for any job.
Expired files are deleted and their jobs marked ``expired`` by a sweep at the start of each submit and list.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from vault.errors import VaultError
from vault.lib.clock import utcnow
from vault.lib.periodic import every
from vault.privacy.errors import TargetUnmeetableError
from vault.privacy.jobs import HEARTBEAT, ExtractJobService, is_stale, view
from vault.privacy.spec import parse_spec

if TYPE_CHECKING:
    import uuid
    from collections.abc import Awaitable, Callable
    from datetime import datetime, timedelta
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.db.engine import Database
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.purposes import PurposeCatalogue
    from vault.privacy.jobs import ExtractJob, Submission
    from vault.privacy.projects import ProjectGuard
    from vault.privacy.runner import ExtractRunner, ProjectRunner

log = logging.getLogger("vault.privacy.jobs")


class ExtractJobs:
    """Submits, runs, reports and serves extract jobs (one per process: it tracks the jobs it runs)."""

    def __init__(self, db: Database, guard: ProjectGuard, projects: ProjectRunner, catalogue: FieldCatalogue,
                 purposes: PurposeCatalogue, directory: Path, ttl: timedelta,
                 extracts: Callable[[], ExtractRunner], clock: Callable[[], datetime] = utcnow,
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

    def service(self, session: AsyncSession) -> ExtractJobService:
        """The jobs' service on ``session``."""
        return ExtractJobService(session, self._guard, self._projects.service(session), self._catalogue,
                                 self._purposes, self._clock)

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
        async with self._db.read() as session:  # no statement: the checks and a denial's durable entry
            submission = await self.service(session).check(spec_doc, fmt, caller)
        if submission.spec.segment is not None and self._segment_check is not None:
            await self._segment_check(submission.spec.segment)
        await self.sweep()
        async with self._db.read() as session:  # a refusal is audited durably: not inside the write transaction
            await self.service(session).admit(submission, caller)
        async with self._db.write() as session:
            job = await self.service(session).record(submission, caller)
        task = asyncio.create_task(self._run(job.id, submission, caller))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job_id: uuid.UUID, submission: Submission, caller: Caller) -> None:
        progress = {"done": 0.0}
        beat = asyncio.create_task(self._heartbeat(job_id, progress))
        out = self._dir / f"{job_id}.{submission.format}"
        try:
            async with self._db.write() as session:
                await self.service(session).start(job_id, self._runner)
            self._dir.mkdir(parents=True, exist_ok=True)
            spec = parse_spec(submission.spec_doc)

            def on_progress(done: int, total: int) -> None:
                progress["done"] = 0.9 * done / max(total, 1)

            extracts = await asyncio.to_thread(self._extracts)  # the release gate is slow to build, once
            result = await extracts.create(spec, out, caller, spec_sha256=submission.digest, progress=on_progress)
            async with self._db.write() as session:
                await self.service(session).finish(job_id, result.manifest, out.name, self._ttl)
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
            async with self._db.write() as session:
                await self.service(session).beat(job_id, progress["done"])

        await every(HEARTBEAT, beat, errors=(VaultError, OSError))  # a missed beat is retried at the next one

    async def _fail(self, job_id: uuid.UUID, exc: VaultError | None, extra: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            async with self._db.write() as session:
                await self.service(session).fail(job_id, exc, extra)

    async def wait(self) -> None:
        """Wait for every job this process runs (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- reading ---------------------------------------------------------------------------------------

    async def get(self, job_id: uuid.UUID, caller: Caller) -> ExtractJob:
        """One job: status, progress, manifest (404 unless the caller may see its project)."""
        async with self._db.read() as session:
            row, name = await self.service(session).find(job_id, caller, "extract.read")
        if is_stale(row, self._clock()):
            async with self._db.write() as session:
                row = await self.service(session).mark_stale(row)
        return view(row, name)

    async def registry(self, caller: Caller, *, project_id: uuid.UUID | None = None, limit: int = 100,
                       offset: int = 0) -> list[ExtractJob]:
        """The registry: every job for compliance officers, the caller's projects' jobs for analysts."""
        async with self._db.read() as session:  # no statement: the permission check and a denial's entry
            await self.service(session).require_read(caller, "extract.list")
        await self.sweep()
        async with self._db.read() as session:
            return await self.service(session).registry(caller, project_id=project_id, limit=limit, offset=offset)

    async def file(self, job_id: uuid.UUID, caller: Caller) -> tuple[Path, ExtractJob]:
        """The finished extract's file (audited download; see :meth:`ExtractJobService.download`)."""
        async with self._db.read() as session:
            return await self.service(session).download(job_id, caller, self._dir)

    # -- expiry ----------------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Delete the files of expired extracts and mark them ``expired``; returns how many."""
        async with self._db.read() as session:
            due = await self.service(session).due()
        for job_id, file_name in due:
            if file_name:
                (self._dir / file_name).unlink(missing_ok=True)
                (self._dir / f"{file_name}.manifest.json").unlink(missing_ok=True)
            async with self._db.write() as session:
                await self.service(session).expire(job_id)
        return len(due)
