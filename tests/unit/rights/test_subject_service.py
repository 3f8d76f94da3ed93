"""SubjectService against in-memory records: export contents, rectification history, restriction and objection,
without a database (the export's queries run against SQLite and PostgreSQL in tests/integration/test_rights.py)."""

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
from vault.rights.erasure import ErasureService
from vault.rights.errors import RequestStateError, SubjectErasedError
from vault.rights.export import FORMAT
from vault.rights.subject import SubjectService

OFFICER = caller("compliance_officer", "legal_claims")
KIM = {"name": "김민지", "email": "minji.kim@example.org", "phone": "+821023456789", "city": "Seoul"}


@pytest.fixture
def s() -> Subjects:
    return subjects()


def svc(s: Subjects) -> SubjectService:
    return SubjectService(None, s.deps, repo=s.store)  # type: ignore[arg-type]  # the fakes need no session


async def test_restriction_is_recorded_closes_its_request_and_lifts(s: Subjects) -> None:
    row = s.customer(**KIM)
    req = s.request("restriction", row.id)
    since = await svc(s).restrict(row.id, OFFICER, request_id=req.id)
    assert since == s.clock[0] and row.restricted_at == s.clock[0] and row.restriction_request_id == req.id
    assert req.status == "completed" and req.outcome == "processing restricted"
    s.clock[0] += timedelta(days=1)
    assert await svc(s).restrict(row.id, OFFICER) == since  # restricting again keeps the first date
    assert await svc(s).restrict(row.id, OFFICER, lift=True) is None
    assert row.restricted_at is None and row.restriction_request_id is None
    assert [(e.action, e.customer_id, e.purpose) for e in s.audit.written] == [
        ("subject.restrict", row.id, "legal_claims"), ("subject.restrict", row.id, "legal_claims"),
        ("subject.restrict.lift", row.id, "legal_claims")]
    assert not s.audit.durable


async def test_objection_to_direct_marketing_is_recorded_and_withdrawn(s: Subjects) -> None:
    row = s.customer(**KIM)
    req = s.request("objection", row.id)
    version = row.row_version
    at = await svc(s).object(row.id, OFFICER, request_id=req.id)
    assert at == s.clock[0] and row.objected_marketing_at == s.clock[0] and row.row_version == version + 1
    assert req.status == "completed" and req.outcome == "objection to direct marketing recorded"
    assert await svc(s).object(row.id, OFFICER, withdraw=True) is None and row.objected_marketing_at is None
    assert [(e.action, e.detail) for e in s.audit.written] == [
        ("subject.object", f"direct marketing; request {req.id}"), ("subject.object.withdraw", "direct marketing")]


async def test_a_request_answers_only_its_own_kind_and_customer(s: Subjects) -> None:
    row, other = s.customer(**KIM), s.customer(**KIM)
    with pytest.raises(RequestStateError):
        await svc(s).restrict(row.id, OFFICER, request_id=s.request("objection", row.id).id)
    with pytest.raises(RequestStateError):
        await svc(s).restrict(row.id, OFFICER, request_id=s.request("restriction", other.id).id)
    assert row.restricted_at is None and not s.audit.written


async def test_rectification_keeps_the_replaced_value_sealed_and_the_export_shows_everything(s: Subjects) -> None:
    row = s.customer(**KIM)
    req = s.request("rectification", row.id)
    changed = await svc(s).rectify(row.id, {"city": "Busan", "name": "김민지"}, OFFICER, request_id=req.id)
    assert changed == ["city"] and s.fields(row)["city"] == "Busan"
    (history,) = s.store.history
    assert history["field"] == "city" and b"Seoul" not in history["sealed"]
    assert req.outcome == "rectified: city"
    (rectify,) = s.audit.written
    assert rectify.action == "subject.rectify" and rectify.fields == ("city",)

    access = s.request("access", row.id)
    doc = await svc(s).export(row.id, OFFICER, request_id=access.id)
    assert doc["format"] == FORMAT and doc["subject"]["id"] == str(row.id) and doc["subject"]["status"] == "active"
    assert doc["fields"]["city"]["value"] == "Busan" and doc["fields"]["name"]["value"] == "김민지"
    assert doc["fields"]["email"]["category"] == "contact"
    assert [(r["field"], r["previous_value"]) for r in doc["rectifications"]] == [("city", "Seoul")]
    assert {r["id"] for r in doc["requests"]} == {str(req.id), str(access.id)}
    assert access.status == "received"  # the runner closes it in its own write transaction
    (export,) = s.audit.durable
    assert export.action == "subject.export" and export.fields == tuple(sorted(doc["fields"]))
    assert export.detail == f"request {access.id}"
    for event in s.audit.all:
        assert "김민지" not in repr(event) and "Busan" not in repr(event) and "Seoul" not in repr(event)


async def test_the_export_of_an_erased_customer_is_its_tombstone_and_the_archive(s: Subjects) -> None:
    row = s.customer(**KIM)
    s.store.cohort_of[row.id] = {Cohort.PRIZE_WINNERS}
    erasure = ErasureService(None, s.deps, repo=s.store)  # type: ignore[arg-type]
    await erasure.erase(row.id, OFFICER, await erasure.admit(row.id, OFFICER))
    doc = await svc(s).export(row.id, OFFICER)
    assert doc["subject"]["status"] == "erased" and doc["fields"] == {} and doc["rectifications"] == []
    (archived,) = doc["statutory_archive"]
    assert archived["statute"] == "income_tax_prize_withholding" and archived["fields"]["name"] == "김민지"
    with pytest.raises(SubjectErasedError):
        await svc(s).rectify(row.id, {"city": "Busan"}, OFFICER)
    with pytest.raises(SubjectErasedError):
        await svc(s).restrict(row.id, OFFICER)


async def test_rectify_refuses_unknown_fields_and_customers(s: Subjects) -> None:
    row = s.customer(**KIM)
    with pytest.raises(InvalidInputError):
        await svc(s).rectify(row.id, {"shoe_size": "270"}, OFFICER)
    with pytest.raises(InvalidInputError):
        await svc(s).rectify(row.id, {}, OFFICER)
    with pytest.raises(CustomerNotFoundError):
        await svc(s).rectify(uuid.uuid4(), {"city": "Busan"}, OFFICER)
    assert not s.store.history and s.fields(row)["city"] == "Seoul"


async def test_a_role_without_the_subject_permissions_is_denied_durably(s: Subjects) -> None:
    row = s.customer(**KIM)
    agent = caller("crm_agent", "legal_claims")
    for call in (svc(s).export(row.id, agent), svc(s).restrict(row.id, agent), svc(s).object(row.id, agent)):
        with pytest.raises(PermissionDeniedError):
            await call
    assert [(e.action, e.outcome) for e in s.audit.durable] == [
        ("subject.export", Outcome.DENIED), ("subject.restrict", Outcome.DENIED), ("subject.object", Outcome.DENIED)]
    assert row.restricted_at is None and row.objected_marketing_at is None and not s.audit.written


async def test_counts_by_status(s: Subjects) -> None:
    s.customer(**KIM)
    s.customer(**KIM).status = "deleted"
    assert await svc(s).counts() == {"active": 1, "deleted": 1}
