"""The segment services against an in-memory store: sign-off rules, veto, activation, evaluation, diffs,
conflicts and member scopes, with the real guard and policies (no database)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from tests.unit.fakes import caller
from tests.unit.segments.fakes import NOW, SegmentWorld, customers, feature_frame, segment_world
from vault.access.caller import Caller
from vault.access.errors import PermissionDeniedError
from vault.audit.entry import Outcome
from vault.errors import InvalidInputError
from vault.segments.compare import SegmentComparison
from vault.segments.errors import ExpressionError, SegmentNotFoundError, SegmentStateError, SignoffDeniedError
from vault.segments.evaluation import SegmentEvaluation, record_evaluation
from vault.segments.scopes import SegmentScopes
from vault.segments.versions import SegmentVersions

MARKETING = caller("marketing", None)
SALES = caller("sales", None)
CRM = caller("crm_agent", None)
OFFICER = caller("compliance_officer", None)
ANALYST = caller("analyst", None)
OPERATOR = Caller(None, operator="segments-test")
CORE = 'tier == "core" and frequency >= 3'
DAY = date(2026, 3, 1)


@pytest.fixture
def w() -> SegmentWorld:
    return segment_world()


def versions(w: SegmentWorld) -> SegmentVersions:
    return SegmentVersions(None, w.deps)  # type: ignore[arg-type]


def evaluation(w: SegmentWorld) -> SegmentEvaluation:
    return SegmentEvaluation(None, w.deps)  # type: ignore[arg-type]


def comparison(w: SegmentWorld) -> SegmentComparison:
    return SegmentComparison(None, w.deps)  # type: ignore[arg-type]


def scopes(w: SegmentWorld) -> SegmentScopes:
    return SegmentScopes(None, w.deps)  # type: ignore[arg-type]


async def approved(w: SegmentWorld, name: str = "core", expression: str = CORE) -> str:
    ref = (await versions(w).create(name, expression, MARKETING)).ref
    for who in (MARKETING, SALES, CRM):
        w.tick()
        await versions(w).approve(ref, who)
    return ref


async def active(w: SegmentWorld, name: str = "core", expression: str = CORE) -> str:
    ref = await approved(w, name, expression)
    await versions(w).activate(ref, MARKETING)
    return ref


async def evaluated(w: SegmentWorld, ref: str, caller: Caller = MARKETING, as_of: date = DAY) -> uuid.UUID:
    svc = evaluation(w)
    plan = await svc.plan(ref, caller, as_of)
    snap = await svc.store(plan, caller)
    await record_evaluation(w.deps, plan, caller)
    w.tick()
    return snap.id


# -- versions and sign-off -----------------------------------------------------------------------------------


async def test_create_numbers_versions_per_name_and_audits_with_the_change(w: SegmentWorld) -> None:
    first = await versions(w).create("core", CORE, MARKETING, description="core customers")
    second = await versions(w).create("core", "frequency >= 5", SALES)
    other = await versions(w).create("lapsed", "recency_days > 180", CRM)
    assert (first.ref, second.ref, other.ref) == ("core@1", "core@2", "lapsed@1")
    assert (first.status, first.owner_department, second.owner_department) == ("draft", "marketing", "sales")
    assert [e.action for e in first.events] == ["create"]
    assert [(e.action, e.detail) for e in w.audit.written] == [
        ("segment.create", "segment=core@1 status=draft"), ("segment.create", "segment=core@2 status=draft"),
        ("segment.create", "segment=lapsed@1 status=draft")]
    assert w.audit.durable == []


async def test_create_refuses_a_bad_name_or_expression_and_stores_nothing(w: SegmentWorld) -> None:
    with pytest.raises(InvalidInputError):
        await versions(w).create("Core Customers", CORE, MARKETING)
    with pytest.raises(ExpressionError) as exc:
        await versions(w).create("core", "frequency >= ", MARKETING)
    assert exc.value.position > 0
    assert w.store.rows == {} and w.audit.written == []


async def test_a_concurrent_create_of_the_same_version_is_a_conflict(w: SegmentWorld) -> None:
    w.store.race = True
    with pytest.raises(SegmentStateError):
        await versions(w).create("core", CORE, MARKETING)
    assert w.audit.written == []


async def test_a_version_is_approved_only_once_marketing_sales_and_crm_signed(w: SegmentWorld) -> None:
    ref = (await versions(w).create("core", CORE, MARKETING)).ref
    w.tick()
    v = await versions(w).approve(ref, MARKETING)
    assert (v.status, v.approvals, v.missing_approvals) == ("draft", ["marketing"], ["sales", "crm_agent"])
    w.tick()
    v = await versions(w).approve(ref, CRM)
    assert (v.status, v.missing_approvals) == ("draft", ["sales"])
    w.tick()
    v = await versions(w).approve(ref, SALES)
    assert (v.status, v.missing_approvals) == ("approved", [])
    assert [e.action for e in v.events] == ["create", "approve", "approve", "approve"]
    assert [e.detail for e in w.audit.written if e.action == "segment.approve"] == [
        "segment=core@1 role=marketing status=draft", "segment=core@1 role=crm_agent status=draft",
        "segment=core@1 role=sales status=approved"]


async def test_a_department_signs_once_and_only_a_draft(w: SegmentWorld) -> None:
    ref = (await versions(w).create("core", CORE, MARKETING)).ref
    await versions(w).approve(ref, MARKETING)
    with pytest.raises(SegmentStateError, match="marketing already approved"):
        await versions(w).approve(ref, MARKETING)
    ref = await approved(w, "lapsed", "recency_days > 180")
    with pytest.raises(SegmentStateError, match="only a draft"):
        await versions(w).approve(ref, SALES)


async def test_only_department_principals_sign_off(w: SegmentWorld) -> None:
    ref = (await versions(w).create("core", CORE, MARKETING)).ref
    with pytest.raises(SignoffDeniedError):
        await versions(w).approve(ref, OPERATOR)  # the local operator is no department
    with pytest.raises(PermissionDeniedError):
        await versions(w).approve(ref, OFFICER)  # compliance may veto, not approve
    denial = w.audit.durable[-1]
    assert (denial.action, denial.outcome) == ("segment.approve", Outcome.DENIED)
    assert (await versions(w).get(ref, OFFICER)).approvals == []


async def test_activation_names_the_missing_sign_offs_and_needs_all_three(w: SegmentWorld) -> None:
    ref = (await versions(w).create("core", CORE, MARKETING)).ref
    await versions(w).approve(ref, MARKETING)
    with pytest.raises(SegmentStateError) as exc:
        await versions(w).activate(ref, MARKETING)
    assert exc.value.extra["missing"] == ["sales", "crm_agent"]
    assert "missing sign-off from sales, crm_agent" in str(exc.value)
    await versions(w).approve(ref, SALES)
    await versions(w).approve(ref, CRM)
    v = await versions(w).activate(ref, SALES)
    assert v.status == "active" and v.events[-1].action == "activate"
    row = w.store.rows[v.id]
    assert row.status_at > row.created_at >= NOW
    with pytest.raises(SegmentStateError, match="it is active"):
        await versions(w).activate(ref, SALES)


async def test_a_veto_needs_compliance_and_a_reason_and_ends_the_version(w: SegmentWorld) -> None:
    ref = await active(w)
    with pytest.raises(PermissionDeniedError):
        await versions(w).veto(ref, "not lawful", MARKETING)
    with pytest.raises(InvalidInputError):
        await versions(w).veto(ref, "  no ", OFFICER)
    assert (await versions(w).get(ref, OFFICER)).status == "active"
    v = await versions(w).veto(ref, "targets minors", OFFICER)
    assert v.status == "vetoed" and v.events[-1].reason == "targets minors"
    with pytest.raises(SegmentStateError):
        await versions(w).activate(ref, MARKETING)
    with pytest.raises(SegmentStateError, match="cannot be vetoed"):
        await versions(w).veto(ref, "again, really", OFFICER)
    with pytest.raises(SegmentStateError, match="only an active version can be evaluated"):
        await evaluation(w).plan(ref, OPERATOR, DAY)


async def test_retire_only_an_active_version(w: SegmentWorld) -> None:
    ref = await approved(w)
    with pytest.raises(SegmentStateError, match="only an active version can be retired"):
        await versions(w).retire(ref, MARKETING)
    await versions(w).activate(ref, MARKETING)
    assert (await versions(w).retire(ref, CRM)).status == "retired"


async def test_unknown_versions_are_not_found(w: SegmentWorld) -> None:
    with pytest.raises(SegmentNotFoundError):
        await versions(w).get("core@9", MARKETING)
    with pytest.raises(InvalidInputError):
        await versions(w).get("core", MARKETING)


async def test_versions_lists_newest_first_per_name(w: SegmentWorld) -> None:
    for name in ("b", "a", "a"):
        await versions(w).create(name, CORE, MARKETING)
    assert [v.ref for v in await versions(w).versions(ANALYST)] == ["a@2", "a@1", "b@1"]
    assert [v.ref for v in await versions(w).versions(ANALYST, "b")] == ["b@1"]


# -- evaluation --------------------------------------------------------------------------------------------


def population(w: SegmentWorld) -> list[uuid.UUID]:
    ids = customers(6)
    w.store.frame = feature_frame([(ids[0], "core", "loyal", 5), (ids[1], "core", "loyal", 3),
                                   (ids[2], "core", "at_risk_valuable", 1), (ids[3], "identified", "loyal", 9),
                                   (ids[4], "core", "cost_to_serve", 4), (ids[5], "general", "low_value", 0)])
    return ids


async def test_evaluation_stores_the_members_and_audits_them_after_the_snapshot(w: SegmentWorld) -> None:
    ids = population(w)
    ref = await active(w)
    svc = evaluation(w)
    plan = await svc.plan(ref, MARKETING, DAY)
    assert w.store.snapshot_rows == {} and not [e for e in w.audit.all if e.action == "segment.evaluate"]
    snap = await svc.store(plan, MARKETING)
    assert (snap.size, snap.population, snap.as_of, snap.summary["trial"]) == (3, 6, DAY, False)
    assert snap.summary["tiers"] == {"general": 0, "identified": 0, "core": 3}
    assert w.store.member_rows[snap.id] == {ids[0]: ("core", "loyal"), ids[1]: ("core", "loyal"),
                                            ids[4]: ("core", "cost_to_serve")}
    await record_evaluation(w.deps, plan, MARKETING)
    entry = w.audit.durable[-1]
    assert entry.action == "segment.evaluate" and set(entry.subjects or ()) == {ids[0], ids[1], ids[4]}
    assert entry.detail == f"segment={ref} snapshot={snap.id} as_of={DAY} size=3"
    assert "tier" in w.store.computed[-1][1]


async def test_only_the_operator_may_evaluate_a_draft_as_a_trial(w: SegmentWorld) -> None:
    population(w)
    ref = (await versions(w).create("core", CORE, MARKETING)).ref
    with pytest.raises(SegmentStateError, match="is draft"):
        await evaluation(w).plan(ref, MARKETING, DAY)
    plan = await evaluation(w).plan(ref, OPERATOR, DAY)
    assert plan.trial and plan.summary["trial"] is True and plan.summary["expression"] == CORE


async def test_a_role_without_evaluate_is_denied_durably_before_anything_is_read(w: SegmentWorld) -> None:
    population(w)
    ref = await active(w)
    computed = len(w.store.computed)
    with pytest.raises(PermissionDeniedError):
        await evaluation(w).plan(ref, ANALYST, DAY)
    assert (w.audit.durable[-1].action, w.audit.durable[-1].outcome) == ("segment.evaluate", Outcome.DENIED)
    assert len(w.store.computed) == computed


async def test_preview_stores_nothing_and_audits_counts_only(w: SegmentWorld) -> None:
    population(w)
    p = await evaluation(w).preview(CORE, ANALYST, DAY)
    assert (p.size, p.population, p.names) == (3, 6, ["frequency", "tier"])
    assert w.store.snapshot_rows == {}
    entry = w.audit.durable[-1]
    assert entry.action == "segment.preview" and "size=3" in (entry.detail or "") and not entry.subjects


# -- diffs, comparisons, conflicts ----------------------------------------------------------------------------


async def test_diff_counts_who_joined_and_left_by_tier_and_the_tier_changes_of_stayers(w: SegmentWorld) -> None:
    ids = population(w)
    ref = await active(w, "spenders", "frequency >= 3")
    before = await evaluated(w, ref)  # ids 0, 1, 3, 4
    w.store.frame = feature_frame([(ids[0], "identified", "loyal", 5), (ids[1], "core", "loyal", 1),
                                   (ids[3], "identified", "loyal", 9), (ids[4], "core", "cost_to_serve", 4),
                                   (ids[5], "general", "low_value", 7)])
    after = await evaluated(w, ref)  # ids 0, 3, 4, 5
    d = await comparison(w).diff(before, after, ANALYST, with_ids=True)
    assert (d.joined.count, d.joined.ids, d.joined.by_tier) == (1, [ids[5]], {"general": 1})
    assert (d.left.count, d.left.ids, d.left.by_tier, d.left.by_quadrant) == (1, [ids[1]], {"core": 1}, {"loyal": 1})
    assert d.stayed == 3 and d.tier_changes == {"core->identified": 1}
    entry = w.audit.durable[-1]
    assert entry.action == "segment.diff" and entry.detail == (
        f"segment={ref},{ref} base={before} target={after} joined=1 left=1")


async def test_compare_shows_analysts_counts_but_no_customer_ids(w: SegmentWorld) -> None:
    ids = population(w)
    await versions(w).create("core", CORE, MARKETING)
    await versions(w).create("core", "frequency >= 4", MARKETING)
    cmp = await comparison(w).compare("core@1", "core@2", MARKETING)
    assert (cmp.base_size, cmp.target_size, cmp.stayed) == (3, 3, 2)
    assert (cmp.joined.ids, cmp.left.ids) == ([ids[3]], [ids[1]])
    assert set(w.audit.durable[-1].subjects or ()) == {ids[1], ids[3]}
    blind = await comparison(w).compare("core@1", "core@2", ANALYST)
    assert (blind.joined.count, blind.left.count) == (1, 1) and blind.joined.ids == blind.left.ids == []
    assert not w.audit.durable[-1].subjects


async def test_conflicts_are_blocking_labels_of_other_departments_on_members(w: SegmentWorld) -> None:
    ids = population(w)
    ref = await active(w)
    with pytest.raises(SegmentStateError, match="no snapshot yet"):
        await comparison(w).conflicts(ref, MARKETING)
    await evaluated(w, ref)  # members 0, 1, 4
    w.store.labels = [(ids[0], "blacklist", "after_sales"), (ids[0], "do_not_contact", "crm"),
                      (ids[1], "blacklist", "marketing"), (ids[5], "blacklist", "crm")]
    r = await comparison(w).conflicts(ref, OFFICER)
    assert (r.owner_department, r.count, r.customer_ids) == ("marketing", 1, [ids[0]])
    assert r.by_label == {"blacklist": 1, "do_not_contact": 1} and r.by_department == {"after_sales": 1, "crm": 1}


# -- scopes -------------------------------------------------------------------------------------------------


async def test_member_pseudonyms_are_the_consenting_members_under_the_project_key(w: SegmentWorld) -> None:
    ids = population(w)
    analyst = caller("analyst", "analytics")
    ref = await active(w)
    snap = await evaluated(w, ref)  # members 0, 1, 4
    w.store.analytics = {ids[1], ids[4], ids[5]}
    got, pseudonyms = await scopes(w).member_pseudonyms(ref, "churn-study", analyst)
    pseudonym = w.deps.keyring.pseudonyms.pseudonym
    assert got.id == snap and pseudonyms == sorted(pseudonym("churn-study", c) for c in (ids[1], ids[4]))
    entry = w.audit.durable[-1]
    assert entry.action == "segment.members" and set(entry.subjects or ()) == {ids[1], ids[4]}
    with pytest.raises(InvalidInputError):
        await scopes(w).member_pseudonyms(ref, "Bad Project", analyst)
    with pytest.raises(PermissionDeniedError):
        await scopes(w).member_pseudonyms(ref, "churn-study", caller("marketing", "analytics"))


async def test_extracts_use_only_activated_versions_with_a_real_snapshot(w: SegmentWorld) -> None:
    population(w)
    draft = (await versions(w).create("draft-only", CORE, MARKETING)).ref
    await evaluated(w, draft, OPERATOR)
    with pytest.raises(SegmentStateError, match="is draft"):
        await scopes(w).extract_snapshot(draft)
    ref = await approved(w)
    await evaluated(w, ref, OPERATOR)  # a trial of the approved version
    await versions(w).activate(ref, MARKETING)
    with pytest.raises(SegmentStateError, match="no snapshot yet"):
        await scopes(w).extract_snapshot(ref)
    snap = await evaluated(w, ref)
    assert (await scopes(w).extract_snapshot(ref)).id == snap
    await versions(w).retire(ref, MARKETING)
    assert (await scopes(w).extract_snapshot(ref)).id == snap


async def test_extract_scope_joins_members_with_their_aggregates(w: SegmentWorld) -> None:
    ids = population(w)
    w.store.frame = w.store.frame.with_columns(window_returned=0, r_score=3, f_score=4, m_score=5, rfm=345)
    ref = await active(w)
    await evaluated(w, ref)  # members 0, 1, 4
    w.store.categories = {ids[0]: 2, ids[5]: 7}
    snap, frame = await scopes(w).extract_scope(ref, caller("analyst", "analytics"))
    assert frame["customer_id"].to_list() == [ids[0].hex, ids[1].hex, ids[4].hex]
    assert frame["categories"].to_list() == [2, 0, 0] and frame["spend"].to_list() == [50_000, 30_000, 40_000]
    assert snap.as_of == DAY


async def test_contacts_by_segment_need_an_active_version(w: SegmentWorld) -> None:
    population(w)
    ref = await approved(w)
    with pytest.raises(SegmentStateError, match="only for an active version"):
        await scopes(w).contact_scope(ref, MARKETING)
    await versions(w).activate(ref, MARKETING)
    with pytest.raises(SegmentStateError, match="no snapshot yet"):
        await scopes(w).contact_scope(ref, MARKETING)
    snap = await evaluated(w, ref)
    got, clause = await scopes(w).contact_scope(ref, MARKETING)
    assert got.id == snap and callable(clause)
