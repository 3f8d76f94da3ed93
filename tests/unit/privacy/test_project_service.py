"""Analysis projects against in-memory stores: management, membership scope, ε accounting and re-identification.

The guard is the real one (shipped policies); a denial must be a durable audit entry and change nothing.
"""

from __future__ import annotations

import uuid

import pytest

from tests.unit.fakes import caller
from tests.unit.privacy.fakes import Analysts
from vault.access.errors import PermissionDeniedError
from vault.audit.entry import Outcome
from vault.errors import AccessDeniedError, InvalidInputError
from vault.privacy.errors import NotAMemberError, ProjectExistsError, ProjectNotFoundError, PseudonymNotFoundError

OFFICER = caller("compliance_officer", "analytics")


@pytest.fixture
def a() -> Analysts:
    return Analysts()


def _analyst() -> tuple[uuid.UUID, object]:
    who = caller("analyst", "analytics")
    assert who.principal is not None
    return who.principal.id, who


async def test_create_audits_with_the_change_and_refuses_a_taken_name(a: Analysts) -> None:
    pid, _ = _analyst()
    made = await a.projects().create(" churn ", OFFICER, epsilon_budget=2.0, members=[pid])
    assert (made.name, made.epsilon_budget, made.epsilon_remaining, made.members) == ("churn", 2.0, 2.0, [pid])
    (entry,) = a.w.audit.written
    assert entry.action == "project.create" and entry.outcome is Outcome.ALLOWED and entry.purpose == "analytics"
    assert entry.detail == f"project={made.id} budget=2 members=1"
    with pytest.raises(ProjectExistsError):
        await a.projects().create("churn", OFFICER)
    assert len(a.projects_store.rows) == 1 and len(a.w.audit.written) == 1


@pytest.mark.parametrize(("name", "budget"), [("", 1.0), ("a\nb", 1.0), ("x" * 101, 1.0), ("ok", -0.1), ("ok", 101)])
async def test_create_refuses_a_bad_name_or_budget(a: Analysts, name: str, budget: float) -> None:
    with pytest.raises(InvalidInputError):
        await a.projects().create(name, OFFICER, epsilon_budget=budget)
    assert not a.projects_store.rows and not a.w.audit.all


async def test_an_analyst_may_not_manage_projects_and_the_denial_is_durable(a: Analysts) -> None:
    made = await a.projects().create("p", OFFICER)
    _, analyst = _analyst()
    with pytest.raises(PermissionDeniedError):
        await a.projects().create("mine", analyst)  # type: ignore[arg-type]
    with pytest.raises(PermissionDeniedError):
        await a.projects().admit(made.id, analyst, "project.budget_set", epsilon_budget=5.0)  # type: ignore[arg-type]
    assert [(e.action, e.outcome) for e in a.w.audit.durable] == [
        ("project.create", Outcome.DENIED), ("project.budget_set", Outcome.DENIED)]
    assert [r.name for r in a.projects_store.rows.values()] == ["p"]


async def test_admit_checks_the_budget_before_the_project(a: Analysts) -> None:
    with pytest.raises(InvalidInputError):
        await a.projects().admit(uuid.uuid4(), OFFICER, "project.budget_set", epsilon_budget=500.0)
    with pytest.raises(ProjectNotFoundError):
        await a.projects().admit(uuid.uuid4(), OFFICER, "project.budget_set", epsilon_budget=5.0)
    assert not a.w.audit.all  # an unknown project is not a denial of anything


async def test_analysts_see_only_their_projects_and_a_peek_at_another_is_a_durable_denial(a: Analysts) -> None:
    pid, analyst = _analyst()
    mine = await a.projects().create("mine", OFFICER, members=[pid])
    other = await a.projects().create("other", OFFICER)
    assert [p.name for p in await a.projects().projects(analyst)] == ["mine"]  # type: ignore[arg-type]
    assert [p.name for p in await a.projects().projects(OFFICER)] == ["mine", "other"]
    assert (await a.projects().get(mine.id, analyst)).id == mine.id  # type: ignore[arg-type]
    with pytest.raises(ProjectNotFoundError):
        await a.projects().get(other.id, analyst)  # type: ignore[arg-type]
    with pytest.raises(ProjectNotFoundError):
        await a.projects().ledger(other.id, analyst)  # type: ignore[arg-type]
    denials = [(e.action, e.outcome, e.detail) for e in a.w.audit.durable]
    assert [d[:2] for d in denials] == [("project.read", Outcome.DENIED), ("project.ledger", Outcome.DENIED)]
    assert all(f"project={other.id} not a member" in (d[2] or "") for d in denials)


async def test_require_member_names_the_project_and_audits_a_stranger(a: Analysts) -> None:
    pid, analyst = _analyst()
    await a.projects().create("mine", OFFICER, members=[pid])
    assert (await a.projects().require_member("mine", analyst, "stats.count")).name == "mine"  # type: ignore[arg-type]
    with pytest.raises(ProjectNotFoundError):
        await a.projects().require_member("nope", analyst, "stats.count")  # type: ignore[arg-type]
    _, stranger = _analyst()
    with pytest.raises(NotAMemberError):
        await a.projects().require_member("mine", stranger, "stats.count")  # type: ignore[arg-type]
    (denial,) = a.w.audit.durable
    assert (denial.action, denial.outcome, denial.purpose) == ("stats.count", Outcome.DENIED, "analytics")


async def test_members_budget_and_key_changes_are_audited_with_the_change(a: Analysts) -> None:
    made = await a.projects().create("p", OFFICER, epsilon_budget=1.0)
    pid = uuid.uuid4()
    assert (await a.projects().add_member(made.id, pid, OFFICER)).members == [pid]
    assert (await a.projects().add_member(made.id, pid, OFFICER)).members == [pid]  # idempotent
    assert (await a.projects().remove_member(made.id, pid, OFFICER)).members == []
    row = a.projects_store.rows[made.id]
    assert await a.projects().spend(row, 0.75, "q", OFFICER) == pytest.approx(0.25)
    budget = await a.projects().set_budget(made.id, 0.5, OFFICER)
    assert (budget.epsilon_budget, budget.epsilon_spent, budget.epsilon_remaining) == (0.5, 0.75, 0.0)
    assert (await a.projects().rotate_key(made.id, OFFICER)).key_version == 2
    actions = [e.action for e in a.w.audit.written]
    assert actions == ["project.create", "project.member_add", "project.member_add", "project.member_remove",
                       "project.budget_set", "project.key_rotate"]
    assert a.w.audit.written[4].detail == f"project={made.id} budget=1->0.5 spent=0.75"
    assert not a.w.audit.durable


async def test_spend_never_overdraws_the_budget_and_records_only_what_it_charged(a: Analysts) -> None:
    made = await a.projects().create("p", OFFICER, epsilon_budget=0.3)
    row = a.projects_store.rows[made.id]
    lefts = []
    for i in range(4):
        a.tick(minutes=1)
        lefts.append(await a.projects().spend(row, 0.1, f"q{i}", OFFICER))
    assert lefts[:3] == pytest.approx([0.2, 0.1, 0.0]) and lefts[3] is None
    assert row.epsilon_spent == pytest.approx(0.3)
    assert [r.query for r in a.projects_store.spent] == ["q0", "q1", "q2"]
    assert [r.query for r in await a.projects().ledger(made.id, OFFICER, limit=2)] == ["q2", "q1"]


async def test_reidentify_finds_a_pseudonym_of_an_earlier_key_version_and_audits_durably(a: Analysts) -> None:
    made = await a.projects().create("study", OFFICER)
    ids = sorted(uuid.uuid4() for _ in range(30))
    a.projects_store.customers = [(cid, "active") for cid in ids]
    target = ids[17]
    old = a.keyring.pseudonyms.for_project("study", 1).many(target.bytes)[0]
    await a.projects().rotate_key(made.id, OFFICER)
    officer = caller("compliance_officer", "legal_claims")
    found = await a.projects().reidentify(made.id, old.upper(), officer, reason_code="court_order",
                                          case_reference="2026-Ga-123")
    assert (found.customer_id, found.key_version, found.status) == (target, 1, "active")
    (entry,) = a.w.audit.durable
    assert (entry.action, entry.outcome, entry.customer_id, entry.purpose) == (
        "pseudonym.reidentify", Outcome.ALLOWED, target, "legal_claims")
    assert "reason=court_order case=2026-Ga-123 key_version=1" in (entry.detail or "")


async def test_reidentify_refuses_bad_input_an_analyst_and_an_unknown_pseudonym(a: Analysts) -> None:
    made = await a.projects().create("study", OFFICER)
    officer = caller("compliance_officer", "legal_claims")
    with pytest.raises(InvalidInputError):
        await a.projects().reidentify(made.id, "a" * 26, officer, reason_code="curiosity", case_reference="c1")
    with pytest.raises(InvalidInputError):
        await a.projects().reidentify(made.id, "a" * 26, officer, reason_code="court_order", case_reference="Kim Minji")
    _, analyst = _analyst()
    with pytest.raises(AccessDeniedError):
        await a.projects().reidentify(made.id, "a" * 26, analyst, reason_code="court_order",  # type: ignore[arg-type]
                                      case_reference="c1")
    with pytest.raises(PseudonymNotFoundError):
        await a.projects().reidentify(made.id, "a" * 26, officer, reason_code="court_order", case_reference="c1")
    assert [(e.action, e.outcome) for e in a.w.audit.durable] == [
        ("pseudonym.reidentify", Outcome.DENIED), ("pseudonym.reidentify", Outcome.FAILED)]
