"""Segments end to end on SQLite and PostgreSQL: behaviour import, features against hand-computed values
(KST midnight edges, returns, no purchases, quintile ties), memberships against a pure-Python reference,
sign-off rules, snapshot diffs, conflicts and contacts by segment."""

from __future__ import annotations

import csv
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Creds
from vault.access.caller import Caller
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.consent.contacts import ContactQuery
from vault.customers.importer import CONSENT_PROOF_COLUMNS, HEADER
from vault.customers.models import CustomerRow
from vault.segments.behaviour import TRANSACTION_HEADER
from vault.segments.errors import ExpressionError, SegmentStateError, SignoffDeniedError
from vault.segments.expression import compile_expression
from vault.segments.models import TransactionRow

OPERATOR = Caller(None, purpose="service_delivery", operator="tests")
KST = timezone(timedelta(hours=9))
D = date(2026, 6, 30)
# (ref, occurred_at, amount, returned); see the module docstring of each expectation below
FIXTURE = [
    ("FX-A", "2025-06-30T23:59:59+09:00", 1000, "n"),   # KST day D-365: outside the window, counts for tenure
    ("FX-A", "2025-06-30T15:00:00Z", 2000, "n"),        # = 2025-07-01 00:00 KST: first instant inside
    ("FX-A", "2026-06-30T14:59:59Z", 3000, "n"),        # = 2026-06-30 23:59:59 KST: last instant inside
    ("FX-A", "2026-06-30T15:00:00Z", 5000, "n"),        # = 2026-07-01 00:00 KST: after D, ignored
    ("FX-A", "2026-03-01T10:00:00+09:00", 4000, "y"),   # a return in the window
    ("FX-B", "2026-06-01T12:00:00+09:00", 5000, "n"),
    ("FX-B", "2026-06-15T12:00:00+09:00", 5000, "y"),
    ("FX-C", "2026-05-01T12:00:00+09:00", 7000, "y"),   # only a return: no purchase
    ("FX-E", "2026-06-20T09:00:00+09:00", 5000, "n"),
    ("FX-F", "2024-01-01T12:00:00+09:00", 9000, "n"),   # bought once, long before the window
]
FIXTURE_REFS = ["FX-A", "FX-B", "FX-C", "FX-D", "FX-E", "FX-F"]


def _customer_row(ref: str, rng: random.Random, consent: bool) -> list[str]:
    values = {"customer_ref": ref, "name": "Test Person", "email": f"{ref.lower()}@example.org",
              "phone": f"010-{rng.randint(2000, 9999)}-{rng.randint(1000, 9999)}",
              "birth_date": f"{rng.randint(1950, 2000)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
              "gender": rng.choice("FM"), "postal_code": rng.choice(["04524", "13494", "48058"]),
              "marketing_email": "y" if consent else "n", "marketing_sms": "n", "analytics": "y"}
    return [values.get(c, "") for c in HEADER] + ["2026-11-01", "2026-11"]  # consent proof (date, notice)


def _write(path: Path, header: tuple[str, ...] | list[str], rows: list[list[str]] | list[tuple[object, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@dataclass
class World:
    """The module's data: ids by ref and the random transactions of the reference check."""

    ids: dict[str, uuid.UUID]
    random_tx: list[tuple[str, datetime, int, bool]]


@pytest.fixture(scope="module")
async def world(vault: Vault, tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("seg")
    rng = random.Random(11)
    refs = FIXTURE_REFS + [f"RND-{i:04d}" for i in range(120)]
    rows = [_customer_row(r, rng, consent=(r != "FX-B")) for r in refs]
    report = await vault.importer().run(_write(tmp / "c.csv", [*HEADER, *CONSENT_PROOF_COLUMNS], rows), OPERATOR,
                                        keep_ids=True)
    assert report.created == len(refs)
    random_tx: list[tuple[str, datetime, int, bool]] = []
    for _ in range(1500):
        ref = f"RND-{rng.randrange(110):04d}"  # RND-0110.. never buy
        at = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(560 * 86400))
        random_tx.append((ref, at, rng.choice([1000, 2500, 5000, 12000, rng.randint(1, 300_000)]),
                          rng.random() < 0.1))
    tx_rows: list[tuple[object, ...]] = [(r, a, m, ret) for r, a, m, ret in FIXTURE]
    tx_rows += [(r, a.isoformat(), m, "y" if ret else "n", ) for r, a, m, ret in random_tx]
    tx_rows = [(r[0], r[1], r[2], "web", "fashion", r[3]) for r in tx_rows]
    imported = await vault.behaviour_importer().transactions(_write(tmp / "t.csv", TRANSACTION_HEADER, tx_rows),
                                                             OPERATOR, batch_size=500)
    assert imported.errors == []
    assert imported.created == len(tx_rows)
    async with vault.db.read() as session:
        ids = dict((await session.execute(select(CustomerRow.ref_digest, CustomerRow.id))).all())
    by_ref = {r: ids[vault.keyring.index.digest("customer_ref", r)] for r in refs}
    return World(by_ref, random_tx)


async def test_import_reports_bad_rows_and_is_idempotent(vault: Vault, world: World, tmp_path: Path) -> None:
    rows = [
        ("FX-E", "2026-06-21T10:00:00+09:00", 100, "app", "food", "n"),      # 2: good
        ("NOPE", "2026-06-21T10:00:00+09:00", 100, "app", "food", "n"),      # 3: unknown customer
        ("FX-E", "2026-06-21 10:00:00", 100, "app", "food", "n"),            # 4: no offset
        ("FX-E", "2026-06-21T10:00:00+09:00", -5, "app", "food", "n"),       # 5: negative
        ("FX-E", "2026-06-21T10:00:00+09:00", 100, "app", "food", "maybe"),  # 6: bad flag
        ("FX-E", "yesterday", 100, "app", "food", "n"),                      # 7: bad date
        ("FX-E", "2026-06-21T10:00:00+09:00", "12.5", "app", "food", "n"),   # 8: not whole won
    ]
    path = _write(tmp_path / "bad.csv", TRANSACTION_HEADER, rows)
    async with vault.db.read() as session:
        before = len((await session.scalars(select(TransactionRow.id))).all())
    refused = await vault.behaviour_importer().transactions(path, OPERATOR, all_or_nothing=True)
    assert refused.refused and refused.created == 0
    report = await vault.behaviour_importer().transactions(path, OPERATOR)
    assert report.created == 1
    assert [(e.line, e.field) for e in report.errors] == [
        (3, "customer_ref"), (4, "occurred_at"), (5, "amount_krw"), (6, "returned"), (7, "occurred_at"),
        (8, "amount_krw")]
    assert all("NOPE" not in e.reason and "12.5" not in e.reason for e in report.errors)
    again = await vault.behaviour_importer().transactions(path, OPERATOR)
    assert again.created == 0 and again.unchanged == 1
    async with vault.db.read() as session:
        after = len((await session.scalars(select(TransactionRow.id))).all())
    assert after == before + 1
    header = await vault.behaviour_importer().transactions(
        _write(tmp_path / "h.csv", ["customer_ref", "when"], [["a", "b"]]), OPERATOR)
    assert header.refused and header.errors[0].line == 1
    # undo the extra transaction for the feature tests below (FX-E must keep one purchase)
    async with vault.db.write() as session:
        extra = await session.scalar(select(TransactionRow).where(TransactionRow.amount_krw == 100))
        await session.delete(extra)


async def test_hand_computed_features(vault: Vault, world: World) -> None:
    table = await vault.segments().features(D, ["rfm", "churn_risk", "ltv_krw", "first_purchase_at"])
    rows = {r["customer_id"]: r for r in table.frame.to_dicts()}
    a, b, c, d, e, f = (rows[world.ids[r].hex] for r in FIXTURE_REFS)
    # A: window holds the 2,000 (00:00 KST edge) and 3,000 (23:59:59 KST edge) purchases and one return
    assert (a["frequency"], a["monetary_krw"], a["avg_order_krw"]) == (2, 5000, 2500.0)
    assert a["recency_days"] == 0 and a["return_ratio"] == pytest.approx(1 / 3)
    assert (a["purchases_total"], a["tenure_days"]) == (3, 365)
    assert a["first_purchase_at"] == datetime(2025, 6, 30, 14, 59, 59, tzinfo=UTC)
    assert a["last_purchase_at"] == datetime(2026, 6, 30, 14, 59, 59, tzinfo=UTC)
    assert a["churn_risk"] == 0.0
    assert (b["frequency"], b["monetary_krw"], b["recency_days"], b["return_ratio"]) == (1, 5000, 29, 0.5)
    assert b["churn_risk"] == pytest.approx(round(29 / (29 + 90), 4))
    assert b["ltv_krw"] == int(0.25 * 5000 * 1 * 3 * (1 - round(29 / 119, 4)))
    assert (c["frequency"], c["monetary_krw"], c["recency_days"], c["return_ratio"]) == (0, 0, None, 1.0)
    assert c["avg_order_krw"] is None and c["rfm"] is None and c["ltv_krw"] == 0
    assert (d["frequency"], d["recency_days"], d["return_ratio"], d["churn_risk"]) == (0, None, None, None)
    assert (e["frequency"], e["recency_days"]) == (1, 10)
    assert (f["frequency"], f["recency_days"], f["purchases_total"]) == (0, (D - date(2024, 1, 1)).days, 1)
    assert f["r_score"] is None


async def test_quintiles_and_memberships_match_a_reference(vault: Vault, world: World) -> None:
    """Both databases must give exactly the memberships a plain-Python reading of the definitions gives."""
    as_of = date(2026, 3, 15)
    day = lambda at: (at + timedelta(hours=9)).date()
    lo = as_of - timedelta(days=364)
    freq: dict[str, int] = defaultdict(int)
    money: dict[str, int] = defaultdict(int)
    last: dict[str, date] = {}
    for ref, at, amount, ret in world.random_tx:
        d = day(at)
        if d > as_of or ret:
            continue
        last[ref] = max(last.get(ref, d), d)
        if d >= lo:
            freq[ref] += 1
            money[ref] += amount
    buyers = [r for r in freq if freq[r] > 0]

    def scores(values: dict[str, float]) -> dict[str, int]:
        n = len(buyers)
        return {r: 1 + (5 * sum(1 for o in buyers if values[o] < values[r])) // n for r in buyers}

    f_score = scores({r: freq[r] for r in buyers})
    m_score = scores({r: money[r] for r in buyers})
    r_score = scores({r: -(as_of - last[r]).days for r in buyers})
    svc = vault.segments()
    table = await svc.features(as_of)
    got = {r["customer_id"]: r for r in table.frame.to_dicts()}
    for ref in buyers:
        row = got[world.ids[ref].hex]
        assert (row["frequency"], row["monetary_krw"]) == (freq[ref], money[ref]), ref
        assert (row["r_score"], row["f_score"], row["m_score"]) == (r_score[ref], f_score[ref], m_score[ref]), ref
    # memberships of a few expressions, over all customers not erased
    exprs = {
        "f_score >= 4 and m_score == 5": {r for r in buyers if f_score[r] >= 4 and m_score[r] == 5},
        "frequency between 2 and 4 or monetary_krw > 200000": {
            r for r in world.ids if 2 <= freq.get(r, 0) <= 4 or money.get(r, 0) > 200000},
        "recency_days <= 30 and not (r_score < 5)": {
            r for r in buyers if (as_of - last[r]).days <= 30 and r_score[r] == 5},
    }
    for expr, want_refs in exprs.items():
        preview = await svc.preview(expr, OPERATOR, as_of)
        want = {world.ids[r].hex for r in want_refs if r.startswith("RND")}
        compiled = compile_expression(expr, svc.engine.catalogue)
        table_ids = set(table.frame.filter(compiled.predicate)["customer_id"].to_list())
        assert {i for i in table_ids if i in {world.ids[r].hex for r in world.ids if r.startswith("RND")}} == want
        fixture_members = len(table_ids) - len(want)
        assert preview.size == len(want) + fixture_members
        assert preview.population == len(world.ids)


async def test_quintile_ties_share_the_lower_score() -> None:
    import polars as pl

    from vault.segments.features import quintile

    df = pl.DataFrame({"v": [10, 20, 20, 30, 40, 50, 60, 70, 80, 90, None], "ok": [True] * 10 + [False]})
    got = df.select(quintile(pl.col("v"), pl.col("ok")).alias("v"))["v"].to_list()
    assert got == [1, 1, 1, 2, 3, 3, 4, 4, 5, 5, None]
    all_tied = pl.DataFrame({"v": [7, 7, 7, 7], "ok": [True] * 4})
    assert all_tied.select(quintile(pl.col("v"), pl.col("ok")).alias("v"))["v"].to_list() == [1, 1, 1, 1]


async def test_invalid_expressions_carry_positions(vault: Vault) -> None:
    svc = vault.segments()
    with pytest.raises(ExpressionError) as info:
        await svc.preview('tier == "core" and regoin == "서울"', OPERATOR, D)
    assert info.value.position == 20 and "region" in info.value.extra["valid"]


async def _principal_callers(principals: dict[str, Creds]) -> dict[str, Caller]:
    return {role: Caller(c.principal) for role, c in principals.items()}


async def test_signoff_rules_and_immutable_versions(vault: Vault, principals: dict[str, Creds]) -> None:
    svc = vault.segments()
    who = await _principal_callers(principals)
    name = f"signoff-{uuid.uuid4().hex[:6]}"
    v1 = await svc.create(name, "frequency >= 1", who["marketing"])
    assert (v1.version, v1.status) == (1, "draft")
    with pytest.raises(SegmentStateError, match="missing sign-off from marketing, sales, crm_agent"):
        await svc.activate(v1.ref, who["marketing"])
    with pytest.raises(SignoffDeniedError):
        await svc.approve(v1.ref, OPERATOR)
    await svc.approve(v1.ref, who["marketing"])
    with pytest.raises(SegmentStateError, match="already approved"):
        await svc.approve(v1.ref, who["marketing"])
    await svc.approve(v1.ref, who["sales"])
    with pytest.raises(SegmentStateError, match="missing sign-off from crm_agent"):
        await svc.activate(v1.ref, who["sales"])
    with pytest.raises(SegmentStateError):
        await svc.evaluate(v1.ref, who["sales"], D)  # not active yet
    approved = await svc.approve(v1.ref, who["crm_agent"])
    assert approved.status == "approved" and approved.missing_approvals == []
    active = await svc.activate(v1.ref, who["crm_agent"])
    assert active.status == "active"
    assert [e.action for e in active.events] == ["create", "approve", "approve", "approve", "activate"]
    with pytest.raises(SegmentStateError):
        await svc.approve(v1.ref, who["sales"])  # an approved version never changes
    v2 = await svc.create(name, "frequency >= 2", who["sales"])
    assert v2.version == 2 and (await svc.get(v1.ref, OPERATOR)).expression == "frequency >= 1"
    from vault.errors import AccessDeniedError
    with pytest.raises(AccessDeniedError):
        await svc.veto(v2.ref, "too broad", who["marketing"])
    vetoed = await svc.veto(v2.ref, "uses no consent filter", who["compliance_officer"])
    assert vetoed.status == "vetoed" and vetoed.events[-1].reason == "uses no consent filter"
    with pytest.raises(SegmentStateError):
        await svc.approve(v2.ref, who["crm_agent"])
    async with vault.db.read() as session:
        actions = set((await session.scalars(select(AuditEntryRow.action).where(
            AuditEntryRow.detail.like(f"segment={name}@%")))).all())
    assert {"segment.create", "segment.approve", "segment.activate", "segment.veto"} <= actions


async def _activate(vault: Vault, principals: dict[str, Creds], name: str, expression: str) -> str:
    svc = vault.segments()
    who = await _principal_callers(principals)
    v = await svc.create(name, expression, who["marketing"])
    for role in ("marketing", "sales", "crm_agent"):
        await svc.approve(v.ref, who[role])
    await svc.activate(v.ref, who["marketing"])
    return v.ref


async def test_snapshot_diff_is_exact(vault: Vault, world: World, principals: dict[str, Creds]) -> None:
    svc = vault.segments()
    ref = await _activate(vault, principals, f"diff-{uuid.uuid4().hex[:6]}",
                          "frequency >= 1")
    early = await svc.evaluate(ref, OPERATOR, date(2026, 6, 10))   # A (2025-07-01..), B (06-01)
    late = await svc.evaluate(ref, OPERATOR, date(2026, 7, 1))     # A, B, E; A's 2025-07-01 purchase left window
    d = await svc.diff(early.id, late.id, OPERATOR, with_ids=True)
    fixture = {world.ids[r] for r in FIXTURE_REFS}
    joined = set(d.joined.ids) & fixture
    left = set(d.left.ids) & fixture
    assert joined == {world.ids["FX-E"]}
    assert left == set()
    assert d.joined.count == len(d.joined.ids) and sum(d.joined.by_tier.values()) == d.joined.count
    assert sum(d.left.by_quadrant.values()) == d.left.count
    early_ids = set((await svc.snapshot_table(early.id, OPERATOR))["customer_id"].to_list())
    late_ids = set((await svc.snapshot_table(late.id, OPERATOR))["customer_id"].to_list())
    assert {c.hex for c in d.joined.ids} == late_ids - early_ids
    assert {c.hex for c in d.left.ids} == early_ids - late_ids
    assert d.stayed == len(early_ids & late_ids)


async def test_conflicts_and_contacts_by_segment(vault: Vault, world: World, principals: dict[str, Creds]) -> None:
    svc = vault.segments()
    ref = await _activate(vault, principals, f"contact-{uuid.uuid4().hex[:6]}",
                          "frequency >= 1 or return_ratio is not null")
    a, c, e = world.ids["FX-A"], world.ids["FX-C"], world.ids["FX-E"]
    async with vault.db.write() as session:
        labels = vault.labels(session)
        await labels.set(a, "blacklist", "abuse", OPERATOR, department="after_sales")
        await labels.set(e, "vip", "big_spender", OPERATOR, department="marketing")
    await svc.evaluate(ref, OPERATOR, D)
    report = await svc.conflicts(ref, OPERATOR)
    assert a in report.customer_ids and report.by_department.get("after_sales", 0) >= 1
    assert e not in report.customer_ids
    resolver = vault.contacts()
    _, scope = await svc.contact_scope(ref, OPERATOR)
    plan = await resolver.plan(ContactQuery("email", scope=scope, scope_name=ref),
                               Caller(principals["marketing"].principal, purpose="marketing_email"))
    got = set(plan.subjects)
    assert e in got                      # consenting member
    assert a not in got                  # blacklisted by another department
    assert world.ids["FX-B"] not in got  # member without marketing consent
    assert world.ids["FX-D"] not in got  # not a member
    # withdraw / restrict / object: gone at once
    from vault.consent.models import ConsentStateRow
    async with vault.db.write() as session:
        state = await session.scalar(select(ConsentStateRow).where(ConsentStateRow.customer_id == e,
                                                                   ConsentStateRow.purpose == "marketing_email"))
        assert state is not None
        state.status = "withdrawn"
        row = await session.get(CustomerRow, c)
        assert row is not None
        row.restricted_at = datetime.now(UTC)
    plan = await resolver.plan(ContactQuery("email", scope=scope, scope_name=ref),
                               Caller(principals["marketing"].principal, purpose="marketing_email"))
    assert e not in set(plan.subjects) and c not in set(plan.subjects)
    async with vault.db.read() as session:
        detail = await session.scalar(select(AuditEntryRow.detail).where(AuditEntryRow.seq == plan.audit_seq))
    assert detail is not None and f"segment={ref}" in detail


async def test_compare_versions_counts_who_joins_and_leaves(vault: Vault, world: World,
                                                            principals: dict[str, Creds]) -> None:
    """Drafts have no snapshot: comparing two versions evaluates both expressions on one feature table."""
    svc = vault.segments()
    who = await _principal_callers(principals)
    name = f"cmp-{uuid.uuid4().hex[:6]}"
    v1 = await svc.create(name, "frequency >= 1", who["marketing"])
    v2 = await svc.create(name, "frequency >= 2 or recency_days is null", who["sales"])
    got = await svc.compare(v1.ref, v2.ref, who["compliance_officer"], as_of=D, sample=3)
    table = (await svc.features(D)).frame
    freq = {r["customer_id"]: (r["frequency"], r["recency_days"]) for r in table.to_dicts()}
    base = {c for c, (f, _) in freq.items() if f >= 1}
    target = {c for c, (f, rec) in freq.items() if f >= 2 or rec is None}
    assert (got.base_size, got.target_size) == (len(base), len(target))
    assert got.joined.count == len(target - base) and got.left.count == len(base - target)
    assert got.stayed == len(base & target) and got.population == len(freq)
    assert sum(got.left.by_tier.values()) == got.left.count
    assert [c.hex for c in got.left.ids] == sorted(base - target)[:3]
    assert {c.hex for c in got.joined.ids} <= target - base and len(got.joined.ids) == min(3, got.joined.count)
    assert world.ids["FX-E"].hex in base - target  # one purchase: dropped by the tighter version
    async with vault.db.read() as session:
        entry = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.action == "segment.compare", AuditEntryRow.detail.like(f"segment={name}@1,{name}@2%")))).one()
    assert entry.subject_count == len(got.joined.ids) + len(got.left.ids) and f"left={got.left.count}" in entry.detail
