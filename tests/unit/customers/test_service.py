"""CustomerService against in-memory storage, audit and ledger: the use cases' rules without a database."""

from __future__ import annotations

import uuid

import pytest

from tests.unit.fakes import World, caller, world
from vault.access.errors import NoLawfulBasisError, PermissionDeniedError, PurposeDeniedError, PurposeRequiredError
from vault.audit.entry import Outcome
from vault.customers.errors import (
    CustomerNotFoundError,
    CustomerRestrictedError,
    DuplicateCustomerError,
    IdempotencyConflictError,
)
from vault.customers.service import CustomerService
from vault.lib.clock import utcnow

KIM = {"customer_ref": "C-1", "name": "김민지", "email": "Minji.Kim@Example.org", "phone": "010-2345-6789"}
APP = caller("application", "service_delivery")


@pytest.fixture
def w() -> World:
    return world()


def svc(w: World) -> CustomerService:
    return CustomerService(None, w.deps)  # type: ignore[arg-type]  # the fakes need no session


def _no_pii(w: World) -> None:
    for event in w.audit.all:
        text = repr(event)
        assert "Minji" not in text and "김민지" not in text and "2345" not in text


async def test_create_seals_everything_and_audits_field_names_only(w: World) -> None:
    view, created = await svc(w).create(KIM, APP)
    assert created and view.fields["email"] == "minji.kim@example.org" and view.fields["phone"] == "+821023456789"
    row = w.store.rows[view.id]
    assert b"Minji" not in row.sealed and b"minji" not in row.sealed
    (event,) = w.audit.written
    assert event.action == "customer.create" and event.outcome is Outcome.ALLOWED
    assert event.fields == ("customer_ref", "email", "name", "phone") and event.customer_id == view.id
    _no_pii(w)


async def test_read_is_audited_durably_and_masked_per_role(w: World) -> None:
    view, _ = await svc(w).create(KIM, APP)
    agent = caller("crm_agent", "customer_support")
    read = await svc(w).get(view.id, agent)
    assert read.fields["name"] == "김민지" and read.fields["phone"] != "+821023456789" and "phone" in read.masked
    (event,) = w.audit.durable
    assert event.action == "customer.read" and event.outcome is Outcome.ALLOWED and "phone" in event.fields
    _no_pii(w)


async def test_lookup_goes_through_the_blind_index(w: World) -> None:
    view, _ = await svc(w).create(KIM, APP)
    found = await svc(w).lookup("email", "MINJI.KIM@example.org", APP)
    assert [v.id for v in found] == [view.id]
    assert await svc(w).lookup("email", "someone.else@example.org", APP) == []


async def test_duplicate_ref_and_idempotent_replay(w: World) -> None:
    view, _ = await svc(w).create(KIM, APP, idempotency_key="k1")
    again, created = await svc(w).create(KIM, APP, idempotency_key="k1")
    assert not created and again.id == view.id
    with pytest.raises(IdempotencyConflictError):
        await svc(w).create({**KIM, "name": "Lee"}, APP, idempotency_key="k1")
    with pytest.raises(DuplicateCustomerError):
        await svc(w).create(KIM, APP)


async def test_denials_go_through_the_guard_and_are_audited(w: World) -> None:
    view, _ = await svc(w).create(KIM, APP)
    with pytest.raises(PurposeRequiredError):
        await svc(w).get(view.id, caller("application", None))
    with pytest.raises(PurposeDeniedError):
        await svc(w).get(view.id, caller("application", "tax_reporting"))
    with pytest.raises(PermissionDeniedError):
        await svc(w).get(view.id, caller("admin", "service_delivery"))
    denied = [e for e in w.audit.durable if e.outcome is Outcome.DENIED]
    assert [e.action for e in denied] == ["customer.read"] * 3
    assert all(e.detail and e.detail.startswith("access.") for e in denied)
    _no_pii(w)


async def test_consent_purpose_needs_a_current_consent(w: World) -> None:
    view, _ = await svc(w).create(KIM, APP)
    marketing = caller("application", "marketing_email")
    with pytest.raises(NoLawfulBasisError, match="never granted"):
        await svc(w).get(view.id, marketing)
    w.ledger.granted.add((view.id, "marketing_email"))
    assert (await svc(w).get(view.id, marketing)).fields["email"] == "minji.kim@example.org"


async def test_restricted_customer_is_readable_only_for_legal_claims(w: World) -> None:
    view, _ = await svc(w).create(KIM, APP)
    w.store.rows[view.id].restricted_at = utcnow()
    with pytest.raises(CustomerRestrictedError, match="restricted"):
        await svc(w).get(view.id, APP)
    with pytest.raises(CustomerRestrictedError):
        await svc(w).update(view.id, {"name": "Lee"}, APP)
    legal = await svc(w).get(view.id, caller("compliance_officer", "legal_claims"))
    assert legal.id == view.id
    assert [e.action for e in w.audit.durable if e.outcome is Outcome.DENIED] == ["customer.read", "customer.update"]


async def test_update_reseals_and_soft_delete_hides(w: World) -> None:
    view, _ = await svc(w).create(KIM, APP)
    updated = await svc(w).update(view.id, {"email": "new@example.org"}, APP, expected_version=1)
    assert updated.fields["email"] == "new@example.org" and updated.row_version == 2
    assert [v.id for v in await svc(w).lookup("email", "new@example.org", APP)] == [view.id]
    await svc(w).soft_delete(view.id, APP)
    with pytest.raises(CustomerNotFoundError):
        await svc(w).get(view.id, APP)
    with pytest.raises(CustomerNotFoundError):
        await svc(w).get(uuid.uuid4(), APP)
