"""ErasureService against in-memory records: holds, journal-first shredding, statutory retention, the second
approver of a bulk erasure and the journal replay, without a database (the shredder's statements and the WAL
scrub are tested in tests/integration/test_rights.py and test_rights_backup.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.unit.fakes import caller
from tests.unit.rights.fake_records import Subjects, subjects
from vault.access.errors import PermissionDeniedError
from vault.audit.entry import Outcome
from vault.customers.errors import CustomerNotFoundError
from vault.errors import InvalidInputError
from vault.policy.statutes import Cohort
from vault.rights.archive import open_record
from vault.rights.erasure import BulkErasure, ErasureProposal, ErasureResult, ErasureService
from vault.rights.errors import ErasureHeldError, JournalError, RequestStateError, SecondApprovalError
from vault.rights.journal import JournalEntry

OFFICER = caller("compliance_officer", "legal_claims")
KIM = {"name": "김민지", "email": "minji.kim@example.org", "phone": "+821023456789", "city": "Seoul"}


@pytest.fixture
def s() -> Subjects:
    return subjects(bulk_approval_over=2)


def svc(s: Subjects) -> ErasureService:
    return ErasureService(None, s.deps, repo=s.store)  # type: ignore[arg-type]  # the fakes need no session


async def erase(s: Subjects, customer_id: uuid.UUID, request_id: uuid.UUID | None = None) -> ErasureResult:
    purpose = await svc(s).admit(customer_id, OFFICER)
    return await svc(s).erase(customer_id, OFFICER, purpose, request_id=request_id)


def _no_pii(s: Subjects) -> None:
    for event in s.audit.all:
        text = repr(event)
        assert "김민지" not in text and "minji" not in text and "2345" not in text


async def test_erasure_is_refused_under_a_legal_hold_and_the_denial_is_durable(s: Subjects) -> None:
    row = s.customer(**KIM)
    row.restricted_at = s.clock[0] - timedelta(days=3)
    with pytest.raises(ErasureHeldError):
        await svc(s).admit(row.id, OFFICER)
    (denial,) = s.audit.durable
    assert denial.action == "subject.erase" and denial.outcome is Outcome.DENIED and denial.customer_id == row.id
    assert "restriction" in (denial.detail or "") or "hold" in (denial.detail or "")
    assert not s.journal.written and not s.audit.written
    assert row.wrapped_dek is not None and s.fields(row)["name"] == "김민지"


async def test_a_role_without_the_erase_permission_is_denied_durably(s: Subjects) -> None:
    row = s.customer(**KIM)
    with pytest.raises(PermissionDeniedError):
        await svc(s).admit(row.id, caller("crm_agent", "legal_claims"))
    (denial,) = s.audit.durable
    assert denial.action == "subject.erase" and denial.outcome is Outcome.DENIED
    assert row.wrapped_dek is not None


async def test_erasure_writes_the_journal_first_shreds_the_key_and_closes_the_request(s: Subjects) -> None:
    row = s.customer(**KIM)
    digest = row.ref_digest
    req = s.request("erasure", row.id)
    result = await erase(s, row.id, request_id=req.id)
    assert result.erased == [row.id] and result.erased_at == s.clock[0] and not result.retained
    assert [(e.customer_id, e.ref_digest, e.request_id) for e in s.journal.written] == [(row.id, digest, str(req.id))]
    assert row.status == "erased" and row.wrapped_dek is None and row.ref_digest is None
    assert req.status == "completed" and req.outcome == "erased (crypto-shredded)"
    (entry,) = s.audit.written
    assert entry.action == "subject.erase" and entry.customer_id == row.id and entry.purpose == "legal_claims"
    assert entry.detail == f"request {req.id}"
    _no_pii(s)
    again = await erase(s, row.id)
    assert again.erased == [] and again.already_erased == [row.id] and len(s.journal.written) == 1


async def test_nothing_is_erased_when_the_journal_cannot_be_written(s: Subjects) -> None:
    row = s.customer(**KIM)
    s.journal.broken = True
    with pytest.raises(JournalError):
        await erase(s, row.id)
    assert row.status == "active" and row.wrapped_dek is not None and not s.audit.written


async def test_erasure_refuses_an_unknown_customer_and_a_request_of_another_kind(s: Subjects) -> None:
    with pytest.raises(CustomerNotFoundError):
        await svc(s).erase(uuid.uuid4(), OFFICER, "legal_claims")
    row = s.customer(**KIM)
    access = s.request("access", row.id)
    with pytest.raises(RequestStateError):
        await erase(s, row.id, request_id=access.id)
    assert row.wrapped_dek is not None and not s.journal.written


async def test_a_prize_winner_s_statutory_fields_move_to_the_archive_before_the_key_is_shredded(s: Subjects) -> None:
    row = s.customer(**KIM, address_line="세종대로 110")
    s.store.cohort_of[row.id] = {Cohort.PRIZE_WINNERS}
    result = await erase(s, row.id)
    (kept,) = result.retained
    assert kept.statute == "income_tax_prize_withholding" and kept.until == s.clock[0] + timedelta(days=1825)
    assert set(kept.fields) == {"customer_ref", "name", "address_line", "city"}
    (record,) = s.store.archive
    opened = open_record(s.deps.keyring, record)
    assert opened.fields["name"] == "김민지" and "email" not in opened.fields
    assert row.wrapped_dek is None
    (entry,) = s.audit.written
    assert "kept under statute income_tax_prize_withholding" in (entry.detail or "")
    _no_pii(s)


async def test_a_bulk_erasure_over_the_threshold_takes_a_second_officer(s: Subjects) -> None:
    rows = [s.customer(**KIM) for _ in range(3)]
    ids = [r.id for r in rows]
    proposal = await svc(s).admit_bulk(ids, OFFICER, reason="closing the shop")
    assert isinstance(proposal, ErasureProposal) and proposal.customers == 3
    assert [e.action for e in s.audit.durable] == ["subject.erase.proposed"]
    assert all(r.wrapped_dek is not None for r in rows)

    with pytest.raises(SecondApprovalError):  # the proposer cannot approve
        await svc(s).admit_bulk(ids, OFFICER, reason="closing the shop", approves=proposal.proposal)
    second = caller("compliance_officer", "legal_claims")
    with pytest.raises(SecondApprovalError):  # another reason
        await svc(s).admit_bulk(ids, second, reason="something else", approves=proposal.proposal)
    with pytest.raises(SecondApprovalError):  # other customers
        await svc(s).admit_bulk([*ids[:2], uuid.uuid4()], second, reason="closing the shop",
                                approves=proposal.proposal)
    s.clock[0] += timedelta(hours=25)
    with pytest.raises(SecondApprovalError):  # too late
        await svc(s).admit_bulk(ids, second, reason="closing the shop", approves=proposal.proposal)
    assert [e.outcome for e in s.audit.durable[1:]] == [Outcome.DENIED] * 4
    s.clock[0] -= timedelta(hours=25)

    plan = await svc(s).admit_bulk(ids, second, reason="closing the shop", approves=proposal.proposal)
    assert isinstance(plan, BulkErasure)
    result = await svc(s).erase_bulk(plan, second)
    assert sorted(result.erased) == sorted(ids) and all(r.status == "erased" for r in rows)
    assert {e.customer_id for e in s.journal.written} == set(ids)
    (entry,) = s.audit.written
    assert entry.action == "subject.erase" and entry.subject_count == 3 and "closing the shop" in (entry.detail or "")


async def test_a_bulk_erasure_holds_restricted_customers_and_reports_the_others() -> None:
    s = subjects()  # under the approval threshold
    plain, restricted, gone = s.customer(**KIM), s.customer(**KIM), s.customer(**KIM)
    restricted.restricted_at = s.clock[0]
    await erase(s, gone.id)
    missing = uuid.uuid4()
    plan = await svc(s).admit_bulk([plain.id, restricted.id, gone.id, missing], OFFICER, reason="cleanup")
    assert isinstance(plan, BulkErasure)
    result = await svc(s).erase_bulk(plan, OFFICER)
    assert result.erased == [plain.id] and result.held == [restricted.id]
    assert result.already_erased == [gone.id] and result.not_found == [missing]
    assert restricted.wrapped_dek is not None and restricted.restricted_at is not None


async def test_bulk_erasure_checks_its_size_and_reason(s: Subjects) -> None:
    with pytest.raises(InvalidInputError):
        await svc(s).admit_bulk([], OFFICER, reason="x")
    with pytest.raises(InvalidInputError):
        await svc(s).admit_bulk([uuid.uuid4()], OFFICER, reason="")


async def test_replay_erases_again_what_a_restore_brought_back_by_id_and_by_customer_ref(s: Subjects) -> None:
    restored = s.customer(**KIM)
    again = s.customer(**KIM)  # the same person re-created under another id before the erasure
    later = s.customer(**KIM)
    later.ref_digest = again.ref_digest
    later.created_at = s.clock[0] + timedelta(days=1)  # created after the erasure: a new relationship, kept
    absent = uuid.uuid4()
    entries = [JournalEntry(restored.id, restored.ref_digest, s.clock[0], "r1"),
               JournalEntry(absent, again.ref_digest, s.clock[0], "r2")]
    result = await svc(s).replay(entries, OFFICER, s.clock[0])
    assert result.erased == 2 and result.absent == 1 and result.already == 0
    assert restored.status == "erased" and again.status == "erased" and later.status == "active"
    (entry,) = s.audit.written
    assert entry.action == "subject.erase.replay" and entry.subject_count == 2
    assert await svc(s).pending(entries) == 0
