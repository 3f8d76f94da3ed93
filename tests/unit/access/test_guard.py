"""The one audited guard: every decision and every denial, with in-memory audit and consent ledger."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import pytest

from tests.unit.fakes import FakeAudit, FakeLedger, caller, policies
from vault.access import permissions as perms
from vault.access.caller import Caller
from vault.access.errors import (
    InvalidCredentialsError,
    NoLawfulBasisError,
    PermissionDeniedError,
    PurposeDeniedError,
    UnknownPurposeError,
)
from vault.access.guard import Guard
from vault.access.lawful_basis import LawfulBasisCheck
from vault.audit.entry import Outcome
from vault.customers.errors import CustomerObjectedError
from vault.customers.gate import restriction_error
from vault.lib.clock import utcnow


@dataclass
class Customer:
    id: uuid.UUID
    restricted_at: datetime | None = None
    restriction_request_id: uuid.UUID | None = None
    objected_marketing_at: datetime | None = None


@pytest.fixture
def parts() -> tuple[Guard, FakeAudit, FakeLedger]:
    p = policies()
    audit, ledger = FakeAudit(), FakeLedger()
    return Guard(p.access, p.purposes, LawfulBasisCheck(ledger), audit, restriction_error), audit, ledger  # type: ignore[arg-type]


async def test_allowed_returns_the_purpose_and_writes_nothing(parts: tuple[Guard, FakeAudit, FakeLedger]) -> None:
    guard, audit, _ = parts
    purpose = await guard.require(caller("application", "service_delivery"), perms.CUSTOMERS_CREATE, "customer.create")
    assert purpose.id == "service_delivery" and audit.all == []


@pytest.mark.parametrize(("who", "error"), [
    (caller("application", "no_such_purpose"), UnknownPurposeError),
    (caller("application", "tax_reporting"), PurposeDeniedError),
    (caller("analyst", "service_delivery"), PermissionDeniedError),
])
async def test_each_denial_is_one_durable_entry_naming_its_code(
        parts: tuple[Guard, FakeAudit, FakeLedger], who: Caller, error: type[Exception]) -> None:
    guard, audit, _ = parts
    cid = uuid.uuid4()
    with pytest.raises(error):
        await guard.require(who, perms.CUSTOMERS_UPDATE, "customer.update", customer_id=cid)
    (entry,) = audit.durable
    assert entry.outcome is Outcome.DENIED and entry.action == "customer.update" and entry.customer_id == cid
    assert entry.detail is not None and entry.detail.split(":")[0] == error.code  # type: ignore[attr-defined]


async def test_objection_beats_consent_and_basis_needs_consent(parts: tuple[Guard, FakeAudit, FakeLedger]) -> None:
    guard, audit, ledger = parts
    marketing = caller("marketing", "marketing_email")
    objected = Customer(uuid.uuid4(), objected_marketing_at=utcnow())
    ledger.granted.add((objected.id, "marketing_email"))
    with pytest.raises(CustomerObjectedError):
        await guard.require(marketing, perms.CONTACTS_READ, "customer.read", objected, session=None)
    fresh = Customer(uuid.uuid4())
    with pytest.raises(NoLawfulBasisError):
        await guard.require(marketing, perms.CONTACTS_READ, "customer.read", fresh, session=None)
    ledger.granted.add((fresh.id, "marketing_email"))
    await guard.require(marketing, perms.CONTACTS_READ, "customer.read", fresh, session=None)
    assert [e.customer_id for e in audit.durable] == [objected.id, fresh.id]


async def test_any_purpose_actions_and_failed_keys(parts: tuple[Guard, FakeAudit, FakeLedger]) -> None:
    guard, audit, _ = parts
    await guard.require_any_purpose(caller("admin", None), perms.PRINCIPALS_READ, "principal.list")
    with pytest.raises(PermissionDeniedError):
        await guard.require_any_purpose(caller("analyst", None), perms.AUDIT_READ, "audit.read")
    with pytest.raises(InvalidCredentialsError):
        await guard.reject_credentials("unknown, revoked or malformed API key", request_id="r9", client_ip="10.0.0.1")
    assert [(e.action, e.outcome) for e in audit.durable] == [("audit.read", Outcome.DENIED),
                                                            ("auth.api_key", Outcome.DENIED)]
    assert audit.durable[1].actor.name == "anonymous"
