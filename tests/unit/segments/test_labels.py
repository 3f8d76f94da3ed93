"""Department labels and interactions against an in-memory store: one active label per department and name,
only the owning department (or compliance) clears, interactions stored once (no database)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.fakes import caller
from tests.unit.segments.fakes import SegmentAudit, segment_world
from vault.access.errors import PermissionDeniedError
from vault.audit.entry import Outcome
from vault.errors import AccessDeniedError
from vault.segments.errors import CustomerUnknownError, InvalidBehaviourError, SegmentStateError
from vault.segments.labels import LabelService
from vault.segments.models import InteractionRow, LabelRow

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MARKETING = caller("marketing", None)
CRM = caller("crm_agent", None)
OFFICER = caller("compliance_officer", None)
ANALYST = caller("analyst", None)


class FakeLabels:
    """Live customers, labels and interactions in memory."""

    def __init__(self) -> None:
        self.customers: set[uuid.UUID] = set()
        self.rows: dict[uuid.UUID, LabelRow] = {}
        self.interactions: dict[bytes, InteractionRow] = {}

    async def customer_exists(self, customer_id: uuid.UUID) -> bool:
        return customer_id in self.customers

    async def held_label(self, customer_id: uuid.UUID, label: str, department: str) -> uuid.UUID | None:
        return next((r.id for r in self.rows.values() if (r.customer_id, r.label, r.department) ==
                     (customer_id, label, department) and r.cleared_at is None), None)

    async def active_label(self, customer_id: uuid.UUID, label_id: uuid.UUID) -> LabelRow | None:
        row = self.rows.get(label_id)
        return row if row is not None and row.customer_id == customer_id and row.cleared_at is None else None

    async def add_label(self, row: LabelRow) -> None:
        self.rows[row.id] = row

    async def clear_label(self, row: LabelRow, by: str, at: datetime) -> None:
        row.cleared_by, row.cleared_at = by, at

    async def labels(self, customer_id: uuid.UUID, *, history: bool) -> Sequence[LabelRow]:
        return sorted((r for r in self.rows.values() if r.customer_id == customer_id
                       and (history or r.cleared_at is None)), key=lambda r: (r.set_at, r.id))

    async def interaction(self, digest: bytes) -> InteractionRow | None:
        return self.interactions.get(digest)

    async def add_interaction(self, row: InteractionRow) -> None:
        self.interactions[row.row_digest] = row


class Labels:
    def __init__(self) -> None:
        w = segment_world()
        self.audit: SegmentAudit = w.audit
        self.store = FakeLabels()
        self.now = NOW
        self.svc = LabelService(None, w.deps.guard, w.audit, lambda: self.now, store=self.store)  # type: ignore[arg-type]

    def customer(self) -> uuid.UUID:
        cid = uuid.uuid4()
        self.store.customers.add(cid)
        return cid


@pytest.fixture
def lab() -> Labels:
    return Labels()


async def test_a_department_holds_one_active_label_of_a_kind(lab: Labels) -> None:
    cid = lab.customer()
    view = await lab.svc.set(cid, "vip", "high_spend", MARKETING)
    assert (view.department, view.set_by) == ("marketing", "marketing-svc")
    with pytest.raises(SegmentStateError):
        await lab.svc.set(cid, "vip", "again", MARKETING)
    other = await lab.svc.set(cid, "vip", "loyal_caller", CRM)  # another department may
    assert other.department == "crm"
    assert [(e.action, e.customer_id, e.detail) for e in lab.audit.written] == [
        ("label.set", cid, "label=vip department=marketing reason=high_spend"),
        ("label.set", cid, "label=vip department=crm reason=loyal_caller")]


async def test_labels_are_checked_before_anything_is_stored(lab: Labels) -> None:
    cid = lab.customer()
    with pytest.raises(InvalidBehaviourError):
        await lab.svc.set(cid, "gold", "x", MARKETING)
    with pytest.raises(InvalidBehaviourError):
        await lab.svc.set(cid, "vip", "Has Spaces", MARKETING)
    with pytest.raises(CustomerUnknownError):
        await lab.svc.set(uuid.uuid4(), "vip", "high_spend", MARKETING)
    with pytest.raises(PermissionDeniedError):
        await lab.svc.set(cid, "vip", "high_spend", ANALYST)
    assert lab.store.rows == {} and lab.audit.written == []
    assert (lab.audit.durable[-1].action, lab.audit.durable[-1].outcome) == ("label.set", Outcome.DENIED)


async def test_only_the_owning_department_or_compliance_clears_a_label(lab: Labels) -> None:
    cid = lab.customer()
    label = await lab.svc.set(cid, "blacklist", "abusive_returns", CRM)
    with pytest.raises(AccessDeniedError):
        await lab.svc.clear(cid, label.id, MARKETING)
    denial = lab.audit.durable[-1]
    assert (denial.action, denial.outcome, denial.customer_id) == ("label.clear", Outcome.DENIED, cid)
    assert lab.store.rows[label.id].cleared_at is None
    lab.now += timedelta(hours=1)
    cleared = await lab.svc.clear(cid, label.id, OFFICER)
    assert (cleared.cleared_by, cleared.cleared_at) == ("compliance_officer-svc", NOW + timedelta(hours=1))
    with pytest.raises(CustomerUnknownError):
        await lab.svc.clear(cid, label.id, OFFICER)  # no longer active
    assert await lab.svc.list_labels(cid, MARKETING) == []
    assert [v.id for v in await lab.svc.list_labels(cid, MARKETING, history=True)] == [label.id]


async def test_an_interaction_is_stored_once(lab: Labels) -> None:
    cid = lab.customer()
    at = NOW - timedelta(hours=2)
    first = await lab.svc.record_interaction(cid, "complaint", CRM, occurred_at=at, satisfaction=2)
    again = await lab.svc.record_interaction(cid, "complaint", CRM, occurred_at=at, satisfaction=2)
    assert first.created and not again.created and again.id == first.id and first.department == "crm"
    assert len(lab.store.interactions) == 1
    assert [e.action for e in lab.audit.written] == ["interaction.create"]


async def test_interactions_refuse_bad_codes_and_future_instants(lab: Labels) -> None:
    cid = lab.customer()
    for kw in ({"kind": "gossip"}, {"kind": "survey", "satisfaction": 6},
               {"kind": "ticket", "occurred_at": NOW + timedelta(minutes=5)},
               {"kind": "ticket", "occurred_at": datetime(2026, 3, 1, 9, 0)}):
        kind = str(kw.pop("kind"))
        with pytest.raises(InvalidBehaviourError):
            await lab.svc.record_interaction(cid, kind, CRM, **kw)  # type: ignore[arg-type]
    assert lab.store.interactions == {}
