"""Extract jobs against in-memory stores: submission checks, project scope, state changes, downloads."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from tests.unit.fakes import caller
from tests.unit.privacy.fakes import Analysts
from vault.access.errors import PermissionDeniedError
from vault.audit.entry import Outcome
from vault.errors import InvalidInputError
from vault.privacy.errors import (
    ExtractExpiredError,
    ExtractJobNotFoundError,
    ExtractNotReadyError,
    ExtractSpecError,
    NotAMemberError,
    ProjectNotFoundError,
    TargetUnmeetableError,
)
from vault.privacy.jobs import STALE_AFTER, is_stale

OFFICER = caller("compliance_officer", "analytics")
ANALYST = caller("analyst", "analytics")
SPEC = {"project": "study", "quasi_identifiers": ["birth_date", "gender"], "k": 5}


@pytest.fixture
async def a() -> Analysts:
    a = Analysts()
    assert ANALYST.principal is not None
    await a.projects().create("study", OFFICER, members=[ANALYST.principal.id])
    await a.projects().create("other", OFFICER)
    return a


async def _submit(a: Analysts, spec: dict[str, object] = SPEC) -> uuid.UUID:
    submission = await a.jobs().check(spec, "csv", ANALYST)
    await a.jobs().admit(submission, ANALYST)
    return (await a.jobs().record(submission, ANALYST)).id


async def test_a_submission_is_checked_then_queued_with_its_audit_entry(a: Analysts) -> None:
    submission = await a.jobs().check(SPEC, "csv", ANALYST)
    canonical = json.dumps(SPEC, sort_keys=True, ensure_ascii=False, default=str)
    assert (submission.purpose, submission.digest) == ("analytics", hashlib.sha256(canonical.encode()).hexdigest())
    job = await a.jobs().record(submission, ANALYST)
    assert (job.status, job.project, job.role, job.progress) == ("queued", "study", "analyst", 0.0)
    entry = a.w.audit.written[-1]
    assert (entry.action, entry.outcome) == ("extract.submit", Outcome.ALLOWED)
    assert entry.detail == f"job={job.id} project={job.project_id} spec_sha256={submission.digest} format=csv"


async def test_a_bad_format_spec_or_role_queues_nothing(a: Analysts) -> None:
    with pytest.raises(InvalidInputError):
        await a.jobs().check(SPEC, "xlsx", ANALYST)
    with pytest.raises(ExtractSpecError):
        await a.jobs().check({**SPEC, "quasi_identifiers": ["email"]}, "csv", ANALYST)
    with pytest.raises(PermissionDeniedError):
        await a.jobs().check(SPEC, "csv", caller("marketing", "analytics"))
    assert [(e.action, e.outcome) for e in a.w.audit.durable] == [("extract.submit", Outcome.DENIED)]
    assert not a.jobs_store.rows


async def test_only_members_submit_to_a_project_and_a_stranger_is_denied_durably(a: Analysts) -> None:
    with pytest.raises(ProjectNotFoundError):
        await _submit(a, {**SPEC, "project": "nope"})
    submission = await a.jobs().check({**SPEC, "project": "other"}, "csv", ANALYST)
    with pytest.raises(NotAMemberError):
        await a.jobs().admit(submission, ANALYST)
    (denial,) = a.w.audit.durable
    assert (denial.action, denial.outcome) == ("extract.submit", Outcome.DENIED)
    assert not a.jobs_store.rows


async def test_a_job_runs_to_done_and_its_file_expires_after_the_ttl(a: Analysts) -> None:
    job_id = await _submit(a)
    row = a.jobs_store.rows[job_id]
    await a.jobs().start(job_id, "host:1")
    assert (row.status, row.runner, row.heartbeat_at) == ("running", "host:1", a.now)
    a.tick(seconds=2)
    await a.jobs().beat(job_id, 0.45678)
    assert (row.progress, row.heartbeat_at) == (0.457, a.now)
    await a.jobs().finish(job_id, {"file_sha256": "ab" * 32, "rows": 120}, f"{job_id}.csv", timedelta(hours=24))
    assert (row.status, row.progress, row.rows, row.file_name) == ("done", 1.0, 120, f"{job_id}.csv")
    assert row.expires_at == a.now + timedelta(hours=24)
    assert await a.jobs().due() == []
    a.tick(hours=24)
    assert await a.jobs().due() == [(job_id, f"{job_id}.csv")]
    await a.jobs().expire(job_id)
    assert (row.status, row.deleted_at) == ("expired", a.now)


async def test_a_failure_keeps_the_problem_details_and_hides_an_internal_error(a: Analysts) -> None:
    first, second = await _submit(a), await _submit(a)
    exc = TargetUnmeetableError("k=5 cannot be met")
    await a.jobs().fail(first, exc, {"failing_rows": 3})
    assert a.jobs_store.rows[first].error == {"type": "urn:vault:extract.target_unmeetable", "title": exc.title,
                                              "detail": exc.detail, "failing_rows": 3}
    await a.jobs().fail(second, None, {})
    error = a.jobs_store.rows[second].error
    assert a.jobs_store.rows[second].status == "failed" and error is not None
    assert error["type"] == "urn:vault:extract.internal" and "server log" in str(error["detail"])


async def test_a_job_whose_runner_stopped_beating_is_reported_failed(a: Analysts) -> None:
    job_id = await _submit(a)
    await a.jobs().start(job_id, "host:1")
    row = a.jobs_store.rows[job_id]
    a.tick(seconds=STALE_AFTER.total_seconds() - 1)
    assert not is_stale(row, a.now)
    assert (await a.jobs().mark_stale(row)).status == "running"
    a.tick(seconds=2)
    assert is_stale(row, a.now)
    stale = await a.jobs().mark_stale(row)
    assert stale.status == "failed" and stale.error is not None and "host:1" in str(stale.error["detail"])
    assert a.jobs_store.rows[job_id].status == "failed"


async def test_jobs_are_seen_by_members_and_officers_only(a: Analysts) -> None:
    job_id = await _submit(a)
    assert ANALYST.principal is not None
    other = next(r for r in a.projects_store.rows.values() if r.name == "other")
    await a.projects().add_member(other.id, ANALYST.principal.id, OFFICER)
    hidden = await _submit(a, {**SPEC, "project": "other"})
    await a.projects().remove_member(other.id, ANALYST.principal.id, OFFICER)
    assert [j.id for j in await a.jobs().registry(ANALYST)] == [job_id]
    assert {j.id for j in await a.jobs().registry(OFFICER)} == {job_id, hidden}
    assert (await a.jobs().find(job_id, ANALYST, "extract.read"))[1] == "study"
    with pytest.raises(ExtractJobNotFoundError):
        await a.jobs().find(hidden, ANALYST, "extract.read")
    with pytest.raises(ExtractJobNotFoundError):
        await a.jobs().find(uuid.uuid4(), ANALYST, "extract.read")
    (denial,) = a.w.audit.durable
    assert (denial.action, denial.outcome) == ("extract.read", Outcome.DENIED)


async def test_a_download_needs_a_finished_unexpired_file_and_is_audited_durably(a: Analysts, tmp_path: Path) -> None:
    job_id = await _submit(a)
    with pytest.raises(ExtractNotReadyError):
        await a.jobs().download(job_id, ANALYST, tmp_path)
    await a.jobs().finish(job_id, {"file_sha256": "cd" * 32, "rows": 9}, f"{job_id}.csv", timedelta(hours=1))
    with pytest.raises(ExtractExpiredError):  # done, but the file is not on this server
        await a.jobs().download(job_id, ANALYST, tmp_path)
    (tmp_path / f"{job_id}.csv").write_text("pseudonym\n", encoding="utf-8")
    path, job = await a.jobs().download(job_id, ANALYST, tmp_path)
    assert path == tmp_path / f"{job_id}.csv" and job.rows == 9
    (entry,) = a.w.audit.durable
    assert (entry.action, entry.outcome) == ("extract.download", Outcome.ALLOWED)
    assert entry.detail == f"job={job_id} project={job.project_id} file_sha256={'cd' * 32} rows=9"
    a.tick(hours=1)
    with pytest.raises(ExtractExpiredError):
        await a.jobs().download(job_id, ANALYST, tmp_path)
