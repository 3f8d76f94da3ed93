"""The requests registry against an in-memory request store: deadlines, states and audit without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.fakes import World, caller, world
from vault.access.errors import PermissionDeniedError
from vault.audit.entry import Outcome
from vault.customers.errors import CustomerNotFoundError
from vault.rights.deadlines import OPEN
from vault.rights.errors import InvalidRequestError, RequestNotFoundError, RequestStateError
from vault.rights.models import RightsRequestRow
from vault.rights.requests import RequestRegistry

OFFICER = caller("compliance_officer", "legal_claims")
DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeRequests:
    """Requests in a dictionary; customers are the ids in ``customers``."""

    def __init__(self) -> None:
        self.customers: set[uuid.UUID] = set()
        self.rows: dict[uuid.UUID, RightsRequestRow] = {}

    async def customer_exists(self, customer_id: uuid.UUID) -> bool:
        return customer_id in self.customers

    async def add(self, row: RightsRequestRow) -> None:
        self.rows[row.id] = row

    async def get(self, request_id: uuid.UUID) -> RightsRequestRow | None:
        return self.rows.get(request_id)

    async def page(self, *, now: datetime, status: str | None, customer_id: uuid.UUID | None, limit: int,
                   offset: int) -> list[RightsRequestRow]:
        def rank(r: RightsRequestRow) -> int:
            return (0 if r.due_at < now else 1) if r.status in OPEN else 2

        rows = [r for r in self.rows.values() if customer_id in (None, r.customer_id) and (
            status is None or (status == "open" and r.status in OPEN)
            or (status == "overdue" and r.status in OPEN and r.due_at < now) or r.status == status)]
        return sorted(rows, key=lambda r: (rank(r), r.due_at, r.id))[offset:offset + limit]


class Registry:
    def __init__(self) -> None:
        self.w: World = world()
        self.store = FakeRequests()
        self.now = DAY

    def svc(self) -> RequestRegistry:
        d = self.w.deps
        return RequestRegistry(None, d.guard, d.audit, lambda: self.now, repo=self.store)  # type: ignore[arg-type]

    def customer(self) -> uuid.UUID:
        cid = uuid.uuid4()
        self.store.customers.add(cid)
        return cid


@pytest.fixture
def r() -> Registry:
    return Registry()


async def test_open_sets_the_deadline_of_the_jurisdiction_and_audits_without_personal_data(r: Registry) -> None:
    cid = r.customer()
    gdpr = await r.svc().open("erasure", cid, "gdpr", OFFICER, received_at=DAY - timedelta(days=1))
    pipa = await r.svc().open("access", cid, "pipa", OFFICER)
    assert gdpr.due_at == datetime(2026, 4, 1, 9, 0, tzinfo=UTC) and gdpr.status == "received"
    assert pipa.due_at == DAY + timedelta(days=10)
    assert set(r.store.rows) == {gdpr.id, pipa.id}
    assert [(e.action, e.outcome, e.customer_id) for e in r.w.audit.written] == [
        ("rights.request.open", Outcome.ALLOWED, cid)] * 2


async def test_open_refuses_an_unknown_customer_a_future_receipt_and_an_unknown_kind(r: Registry) -> None:
    with pytest.raises(CustomerNotFoundError):
        await r.svc().open("erasure", uuid.uuid4(), "gdpr", OFFICER)
    cid = r.customer()
    with pytest.raises(InvalidRequestError):
        await r.svc().open("erasure", cid, "gdpr", OFFICER, received_at=DAY + timedelta(hours=1))
    with pytest.raises(InvalidRequestError):
        await r.svc().open("forget-me", cid, "gdpr", OFFICER)
    assert not r.store.rows and not r.w.audit.written


async def test_list_puts_overdue_requests_first_and_is_audited_durably(r: Registry) -> None:
    cid = r.customer()
    late = await r.svc().open("access", cid, "pipa", OFFICER, received_at=DAY - timedelta(days=20))
    soon = await r.svc().open("access", cid, "pipa", OFFICER)
    done = await r.svc().open("objection", cid, "pipa", OFFICER, received_at=DAY - timedelta(days=30))
    await r.svc().update(done.id, OFFICER, status="completed", outcome="objection recorded")
    listed = await r.svc().list(OFFICER)
    assert [x.id for x in listed] == [late.id, soon.id, done.id]
    assert listed[0].overdue and not listed[1].overdue
    assert [x.id for x in await r.svc().list(OFFICER, status="overdue")] == [late.id]
    with pytest.raises(InvalidRequestError):
        await r.svc().list(OFFICER, status="lost")
    assert [e.action for e in r.w.audit.durable] == ["rights.request.list", "rights.request.list"]


async def test_update_closes_once_and_a_gdpr_deadline_extends_once_with_a_reason(r: Registry) -> None:
    cid = r.customer()
    req = await r.svc().open("access", cid, "gdpr", OFFICER)
    with pytest.raises(RequestStateError):
        await r.svc().update(req.id, OFFICER, extend=True)  # no reason given
    r.now = DAY + timedelta(days=3)
    extended = await r.svc().update(req.id, OFFICER, extend=True, extension_reason="complexity")
    assert extended.extended and extended.due_at == datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
    with pytest.raises(RequestStateError):
        await r.svc().update(req.id, OFFICER, extend=True, extension_reason="complexity")
    closed = await r.svc().update(req.id, OFFICER, status="completed", outcome="export delivered")
    assert closed.completed_at == r.now and closed.outcome == "export delivered"
    with pytest.raises(RequestStateError):
        await r.svc().update(req.id, OFFICER, status="in_progress")
    with pytest.raises(RequestNotFoundError):
        await r.svc().update(uuid.uuid4(), OFFICER, status="in_progress")


async def test_a_role_without_the_registry_permission_is_denied_and_the_denial_audited(r: Registry) -> None:
    cid = r.customer()
    with pytest.raises(PermissionDeniedError):
        await r.svc().open("erasure", cid, "gdpr", caller("crm_agent", "customer_support"))
    (denial,) = r.w.audit.durable
    assert denial.action == "rights.request.open" and denial.outcome is Outcome.DENIED
    assert not r.store.rows
