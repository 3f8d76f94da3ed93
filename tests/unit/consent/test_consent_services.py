"""The consent services (recording, reads, expiry) against an in-memory consent store: the rules without a database.

Real policies, crypto and guard (tests/unit/fakes.py); the customers come from the customer service on fake
storage, so their records are sealed as in production.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from tests.unit.fakes import World, caller, world
from vault.access.errors import PermissionDeniedError
from vault.audit.entry import Outcome
from vault.consent.errors import NothingToReconfirmError, NoticeVersionRequiredError, ReceiptNotFoundError
from vault.consent.expiry import ConsentExpiry
from vault.consent.reads import ConsentReads
from vault.consent.rules import State
from vault.consent.service import ConsentChoice, ConsentDeps, ConsentService, Evidence
from vault.consent.views import Receipt
from vault.crypto.jws import verify_compact
from vault.customers.errors import CustomerNotFoundError
from vault.customers.service import CustomerService

APP = caller("application", "service_delivery")
OFFICER = caller("compliance_officer", "legal_claims")
DAY = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)
NOTICE = "2026-11"


class FakeConsentStore:
    """Consent events, current states and receipts in lists and dictionaries; customers from the customer fakes."""

    def __init__(self, w: World) -> None:
        self._customers = w.store
        self.events: list[dict[str, Any]] = []
        self.state_rows: dict[tuple[uuid.UUID, str, str], dict[str, Any]] = {}
        self.receipts: dict[uuid.UUID, Receipt] = {}

    async def customer(self, customer_id: uuid.UUID, *, lock: bool = False) -> Any:
        del lock
        return await self._customers.get(customer_id)

    async def states(self, customer_id: uuid.UUID, purposes: set[str] | None = None) -> dict[tuple[str, str], State]:
        return {(p, ch): State(r["status"], r["granted_at"], r["updated_at"], r["notice_version"], r["notice_hash"])
                for (c, p, ch), r in self.state_rows.items()
                if c == customer_id and (purposes is None or p in purposes)}

    async def add_receipt(self, receipt: Receipt) -> None:
        self.receipts[receipt.id] = receipt

    async def add_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.events.extend(dict(e) for e in events)

    async def write_states(self, new_states: Sequence[tuple[bool, Mapping[str, Any]]]) -> None:
        for exists, st in new_states:
            key = (st["customer_id"], st["purpose"], st["channel"])
            assert (key in self.state_rows) == exists  # an update only of a stored state, an insert only of a new one
            self.state_rows[key] = dict(st)

    async def events_of(self, customer_id: uuid.UUID) -> list[dict[str, Any]]:
        return sorted((e for e in self.events if e["customer_id"] == customer_id), key=lambda e: e["occurred_at"])

    async def event_receipt(self, event_id: uuid.UUID) -> SimpleNamespace | None:
        found = [e for e in self.events if e["id"] == event_id]
        if not found:
            return None
        return SimpleNamespace(customer_id=found[0]["customer_id"], receipt_id=found[0]["receipt_id"])

    async def receipt(self, receipt_id: uuid.UUID) -> Receipt | None:
        return self.receipts.get(receipt_id)

    async def granted_until(self, purpose_id: str, cutoff: datetime, *, limit: int) -> list[dict[str, Any]]:
        rows = [{"customer_id": c, "channel": ch, **r} for (c, p, ch), r in self.state_rows.items()
                if p == purpose_id and r["status"] == "granted" and r["granted_at"] <= cutoff]
        return sorted(rows, key=lambda r: r["granted_at"])[:limit]

    async def mark_expired(self, customer_id: uuid.UUID, purpose_id: str, channel: str, event_id: uuid.UUID,
                           lapsed: datetime) -> None:
        self.state_rows[(customer_id, purpose_id, channel)].update(status="expired", event_id=event_id,
                                                                    updated_at=lapsed)

    async def granted_between(self, windows: Sequence[tuple[str, datetime, datetime]], *,
                              after: tuple[datetime, uuid.UUID, str, str] | None, limit: int) -> list[tuple[Any, ...]]:
        rows = [(r["granted_at"], c, p, ch) for (c, p, ch), r in self.state_rows.items() if r["status"] == "granted"
                and any(p == pid and lo < r["granted_at"] <= hi for pid, lo, hi in windows)]
        rows = sorted(r for r in rows if after is None or r > after)[:limit]
        return [(c, p, ch, at) for at, c, p, ch in rows]


class Consent:
    """The three consent services on one fake store, at a settable time."""

    def __init__(self) -> None:
        self.w = world()
        self.store = FakeConsentStore(self.w)
        d = self.w.deps
        self.now = DAY
        self.deps = ConsentDeps(d.keyring, d.purposes, d.guard, d.audit, clock=lambda: self.now)

    def recording(self) -> ConsentService:
        return ConsentService(None, self.deps, repo=self.store)  # type: ignore[arg-type]  # no session needed

    def reads(self) -> ConsentReads:
        return ConsentReads(None, self.deps, repo=self.store)  # type: ignore[arg-type]

    def expiry(self) -> ConsentExpiry:
        return ConsentExpiry(None, self.deps, repo=self.store)  # type: ignore[arg-type]

    async def customer(self) -> uuid.UUID:
        view, _ = await CustomerService(None, self.w.deps).create(  # type: ignore[arg-type]
            {"customer_ref": f"C-{uuid.uuid4().hex[:8]}", "name": "김민지", "email": "minji@example.org"}, APP)
        self.w.audit.written.clear()
        return view.id


@pytest.fixture
def c() -> Consent:
    return Consent()


async def test_a_grant_appends_an_event_a_state_and_a_signed_receipt_in_the_callers_transaction(c: Consent) -> None:
    cid = await c.customer()
    result = await c.recording().record(cid, [ConsentChoice("marketing_email", "grant", notice_version=NOTICE)],
                                        APP, source="web_form")
    (event,) = c.store.events
    assert event["kind"] == "granted" and event["receipt_id"] == result.receipt.id
    assert c.store.state_rows[(cid, "marketing_email", "email")]["status"] == "granted"
    assert result.receipt is not None
    _, claims = verify_compact(result.receipt.jws, c.deps.keyring.receipt_signer.public_key)
    assert claims["sub"] == str(cid) and claims["consents"][0]["event_id"] == str(event["id"])
    email = next(s for s in result.state if s.purpose == "marketing_email")
    assert email.current and email.notice_version == NOTICE
    (audit,) = c.w.audit.written  # with the change, not group-committed on its own
    assert audit.action == "consent.record" and audit.outcome is Outcome.ALLOWED and audit.customer_id == cid
    assert not c.w.audit.durable


async def test_a_withdrawal_stops_processing_and_reconfirming_it_is_refused(c: Consent) -> None:
    cid = await c.customer()
    svc = c.recording()
    await svc.record(cid, [ConsentChoice("marketing_email", "grant", notice_version=NOTICE)], APP, source="web_form")
    c.now += timedelta(minutes=1)
    result = await svc.record(cid, [ConsentChoice("marketing_email", "withdraw")], APP, source="web_form")
    assert not next(s for s in result.state if s.purpose == "marketing_email").current
    c.now += timedelta(minutes=1)
    with pytest.raises(NothingToReconfirmError):
        await svc.record(cid, [ConsentChoice("marketing_email", "reconfirm", notice_version=NOTICE)], APP,
                         source="web_form")
    assert [e["kind"] for e in c.store.events] == ["granted", "withdrawn"]


async def test_a_grant_must_name_its_notice_and_an_unknown_customer_is_not_found(c: Consent) -> None:
    cid = await c.customer()
    with pytest.raises(NoticeVersionRequiredError):
        await c.recording().record(cid, [ConsentChoice("marketing_email", "grant")], APP, source="web_form")
    with pytest.raises(CustomerNotFoundError):
        await c.recording().record(uuid.uuid4(), [ConsentChoice("marketing_email", "grant", notice_version=NOTICE)],
                                   APP, source="web_form")
    assert not c.store.events and not c.store.receipts


async def test_reads_are_audited_durably_and_evidence_opens_only_for_roles_allowed_it(c: Consent) -> None:
    cid = await c.customer()
    await c.recording().record(cid, [ConsentChoice("marketing_email", "grant", notice_version=NOTICE)], APP,
                               source="web_form", evidence=Evidence(ip="203.0.113.7", user_agent="Mozilla/5.0"))
    assert b"203.0.113.7" not in repr(c.store.events).encode()
    c.w.audit.written.clear()
    state = await c.reads().state(cid, APP)
    assert next(s for s in state if s.purpose == "marketing_email").status == "granted"
    (history,) = await c.reads().history(cid, OFFICER, with_evidence=True)
    assert history.evidence == {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0"}
    with pytest.raises(PermissionDeniedError):
        await c.reads().history(cid, APP, with_evidence=True)
    assert [(e.action, e.outcome) for e in c.w.audit.durable] == [
        ("consent.read", Outcome.ALLOWED), ("consent.history", Outcome.ALLOWED), ("consent.history", Outcome.DENIED)]
    assert not c.w.audit.written
    assert "203.0.113.7" not in repr(c.w.audit.all)


async def test_a_receipt_is_found_by_its_event_and_expiry_events_carry_none(c: Consent) -> None:
    cid = await c.customer()
    result = await c.recording().record(cid, [ConsentChoice("marketing_email", "grant", notice_version=NOTICE)],
                                        APP, source="web_form")
    receipt = await c.reads().receipt(result.events[0].id, APP)
    assert result.receipt is not None and receipt.id == result.receipt.id and receipt.jws == result.receipt.jws
    c.now += timedelta(days=731)
    assert await c.expiry().expire_due(APP) == 1
    expired = c.store.events[-1]
    assert expired["kind"] == "expired" and expired["receipt_id"] is None
    with pytest.raises(ReceiptNotFoundError):
        await c.reads().receipt(expired["id"], APP)


async def test_expiry_lapses_grants_past_the_reconfirmation_interval_once(c: Consent) -> None:
    old, fresh = await c.customer(), await c.customer()
    svc = c.recording()
    await svc.record(old, [ConsentChoice("marketing_email", "grant", notice_version=NOTICE)], APP, source="web_form")
    c.now += timedelta(days=400)
    await svc.record(fresh, [ConsentChoice("marketing_email", "grant", notice_version=NOTICE)], APP, source="web_form")
    c.now = DAY + timedelta(days=731)  # past 730 days for the first grant only
    c.w.audit.written.clear()
    assert await c.expiry().expire_due(APP) == 1
    assert c.store.state_rows[(old, "marketing_email", "email")]["status"] == "expired"
    assert c.store.state_rows[(fresh, "marketing_email", "email")]["status"] == "granted"
    (audit,) = c.w.audit.written
    assert audit.action == "consent.expire" and audit.subjects == (old,)
    assert await c.expiry().expire_due(APP) == 0


async def test_due_lists_grants_lapsing_soon_soonest_first_and_is_audited(c: Consent) -> None:
    first, second = await c.customer(), await c.customer()
    svc = c.recording()
    await svc.record(first, [ConsentChoice("marketing_email", "grant", notice_version=NOTICE)], APP, source="web_form")
    c.now += timedelta(days=10)
    await svc.record(second, [ConsentChoice("marketing_email", "grant", notice_version=NOTICE)], APP,
                     source="web_form")
    c.now = DAY + timedelta(days=720)  # the first lapses in 10 days, the second in 20
    due = await c.expiry().due(APP, within_days=15, purpose_id="marketing_email")
    assert [(d.customer_id, d.expires_at) for d in due] == [(first, DAY + timedelta(days=730))]
    due = await c.expiry().due(APP, within_days=30)
    assert [d.customer_id for d in due if d.purpose == "marketing_email"] == [first, second]
    assert [e.action for e in c.w.audit.durable] == ["consent.due", "consent.due"]


async def test_a_caller_without_the_permission_is_denied_and_audited_before_anything_is_read(c: Consent) -> None:
    cid = await c.customer()
    analyst = caller("analyst", "analytics")
    with pytest.raises(PermissionDeniedError):
        await c.recording().record(cid, [ConsentChoice("marketing_email", "grant", notice_version=NOTICE)],
                                   analyst, source="web_form")
    (denial,) = c.w.audit.durable
    assert denial.action == "consent.record" and denial.outcome is Outcome.DENIED
    assert not c.store.events
