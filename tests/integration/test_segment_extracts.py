"""Segment-scoped extracts with behaviour aggregates: population `segment: name@version`, bucketed and
top/bottom-coded spend, orders, returns, categories, RFM scores, tier and quadrant in the k/l checks."""

from __future__ import annotations

import csv
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from tests.conftest import Creds
from tests.extract_checker import check_release
from tests.integration.test_extracts import MANIFEST_KEYS, _cli, _customers
from vault.access.caller import Caller
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.config import Settings
from vault.consent.models import ConsentStateRow
from vault.customers.importer import CONSENT_PROOF_COLUMNS, HEADER
from vault.detection import PiiDetector, build_analyzer
from vault.privacy import ExtractSpecError, parse_spec
from vault.segments.behaviour import kst_day
from vault.segments.errors import SegmentStateError
from vault.segments.models import TransactionRow

OPERATOR = Caller(None, purpose="analytics", operator="tests")
CATEGORIES = ("beauty", "food", "fashion", "home")


@dataclass
class World:
    """Customers, who consented to analytics, who bought (the segment), and the segment's reference."""

    consenting: set[uuid.UUID]
    buyers: set[uuid.UUID]
    ref: str
    draft: str
    spend: dict[uuid.UUID, int]


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector(build_analyzer())


@pytest.fixture(scope="module")
async def world(vault: Vault, principals: dict[str, Creds], tmp_path_factory: pytest.TempPathFactory) -> World:
    path = tmp_path_factory.mktemp("seed") / "customers.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*HEADER, *CONSENT_PROOF_COLUMNS])
        w.writerows(_customers(20261125, 700, "S" + uuid.uuid4().hex[:5]))
    report = await vault.importer().run(path, Caller(None, purpose="service_delivery", operator="tests"),
                                        workers=0, keep_ids=True)
    created = sorted(report.created_ids)
    async with vault.db.read() as session:
        consenting = set((await session.scalars(select(ConsentStateRow.customer_id).where(
            ConsentStateRow.purpose == "analytics", ConsentStateRow.status == "granted",
            ConsentStateRow.customer_id.in_(created)))).all())
    # Two customers in three buy: 1-6 orders of 30,000-90,000 KRW, a few returns; every 25th spends millions.
    at = datetime.now(UTC) - timedelta(days=20)
    rows, spend, buyers = [], {}, set()
    for i, cid in enumerate(created):
        if i % 3 == 2:
            continue
        buyers.add(cid)
        total = 0
        for j in range(1 + i % 6):
            amount = 30_000 * (1 + (i + j) % 3) + (4_000_000 if i % 25 == 0 and j == 0 else 0)
            total += amount
            rows.append(TransactionRow(customer_id=cid, occurred_at=at, kst_day=kst_day(at), amount_krw=amount,
                                       channel="web", category=CATEGORIES[(i + j) % 4], returned=False,
                                       row_digest=os.urandom(16)))
        if i % 4 == 0:
            rows.append(TransactionRow(customer_id=cid, occurred_at=at, kst_day=kst_day(at), amount_krw=10_000,
                                       channel="web", category="food", returned=True, row_digest=os.urandom(16)))
        spend[cid] = total
    async with vault.db.write() as session:
        session.add_all(rows)
    svc = vault.segments()
    who = {role: Caller(c.principal) for role, c in principals.items()}
    name = f"buyers-{uuid.uuid4().hex[:6]}"
    v = await svc.create(name, "frequency >= 1", who["marketing"])
    for role in ("marketing", "sales", "crm_agent"):
        await svc.approve(v.ref, who[role])
    await svc.activate(v.ref, who["marketing"])
    snap = await svc.evaluate(v.ref, who["marketing"])
    draft = await svc.create(name, "frequency >= 2", who["marketing"])
    assert snap.size >= len(buyers)  # buyers of earlier modules' data are members too
    return World(consenting, buyers, v.ref, draft.ref, spend)


SPEND = {"field": "spend", "buckets": [50_000, 100_000, 500_000], "top": 1_000_000, "max": "*"}


async def test_segment_scoped_extract_with_behaviour(vault: Vault, world: World, detector: PiiDetector,
                                                     tmp_path: Path) -> None:
    spec = parse_spec({"project": "seg-study", "segment": world.ref,
                       "quasi_identifiers": [{"field": "birth_date", "generalize": "band10"}, "gender", SPEND, "tier"],
                       "sensitive_attributes": [{"field": "orders", "generalize": "value"}],
                       "k": 5, "l": 2, "max_suppression": 0.1})
    out = tmp_path / "seg.parquet"
    result = await vault.extracts(detector).create(spec, out, OPERATOR, spec_sha256="0" * 64)
    rows = pq.read_table(out).to_pylist()
    m = result.manifest
    assert check_release(rows, m) == []
    assert m["quasi_identifiers"] == ["birth_date", "gender", "spend", "tier"]
    assert m["sensitive_attributes"] == ["orders"] and m["columns"][-2:] == ["tier", "orders"]
    assert m["segment"]["ref"] == world.ref and m["segment"]["members"] >= len(world.buyers)
    assert m["behaviour"]["spend"]["top"] == 1_000_000 and m["behaviour"]["spend"]["buckets"] == [50_000, 100_000,
                                                                                                  500_000]
    # only members with a lawful basis were anonymized, and only they were decrypted
    pseudonym = vault.keyring.pseudonyms.pseudonym
    ours = {pseudonym("seg-study", c) for c in world.consenting & world.buyers}
    outsiders = {pseudonym("seg-study", c) for c in (world.consenting - world.buyers)}
    released = {r["pseudonym"] for r in rows}
    assert released and not released & outsiders
    assert len(released & ours) >= len(ours) - m["suppressed_rows"]
    # spend is banded at the rung reached, top-coded above 1,000,000; returns do not count
    level = m["generalization"]["spend"]
    values = {r["spend"] for r in rows}
    if level == "bucket100000":
        assert values <= {"0-99999", "100000-199999", "200000-299999", "300000-399999", "1000000+"} | {
            f"{lo}-{lo + 99_999}" for lo in range(0, 1_000_000, 100_000)}
    assert level in ("bucket50000", "bucket100000", "bucket500000", "*")
    assert all(v == "*" or v == "1000000+" or "-" in v for v in values)
    assert {r["tier"] for r in rows} <= {"general", "identified", "core"}
    assert {r["orders"] for r in rows} <= {str(n) for n in range(1, 7)}
    by_pseudonym = {pseudonym("seg-study", c): s for c, s in world.spend.items()}
    for r in rows:
        true = by_pseudonym.get(r["pseudonym"])
        if true is not None and r["spend"] not in ("*", "1000000+"):
            lo, hi = (int(x) for x in r["spend"].split("-"))
            assert lo <= true <= hi
        elif true is not None and r["spend"] == "1000000+":
            assert true >= 1_000_000
    async with vault.db.read() as session:
        entry = await session.scalar(select(AuditEntryRow).where(AuditEntryRow.seq == m["audit_seq"]))
    assert entry is not None and f"segment={world.ref}" in (entry.detail or "")
    assert entry.subject_count == m["eligible_customers"]  # non-members were never decrypted


async def test_segment_extract_via_cli(settings: Settings, world: World, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"""\
project: seg-cli
segment: {world.ref}
quasi_identifiers:
  - field: birth_date
    generalize: band10
  - field: spend
    buckets: [100000, 500000]
    top: 1000000
    max: "*"
  - field: orders
    buckets: [2, 6]
    top: 6
sensitive_attributes:
  - quadrant
  - field: categories
k: 5
max_suppression: 0.1
""", encoding="utf-8")
    out = tmp_path / "seg.csv"
    res = _cli(settings, "extract", "create", "--spec", str(spec), "--out", str(out))
    assert res.returncode == 0, res.stderr
    manifest = json.loads((tmp_path / "seg.csv.manifest.json").read_text(encoding="utf-8"))
    assert set(manifest) >= MANIFEST_KEYS
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert check_release(rows, manifest) == []
    assert manifest["quasi_identifiers"] == ["birth_date", "spend", "orders"]
    assert manifest["sensitive_attributes"] == ["quadrant", "categories"]
    assert {r["categories"] for r in rows} <= {"0-1", "2-3", "4-5"}  # finest bucket (2) by default
    assert {r["orders"] for r in rows} <= {"0-1", "2-3", "4-5", "6+", "0-5", "*"}


@pytest.mark.parametrize(("doc", "needle"), [
    ({"quasi_identifiers": ["birth_date", "spend"]}, "segment: name@version"),
    ({"segment": "buyers", "quasi_identifiers": ["spend"]}, "NAME@VERSION"),
    ({"segment": "x@1", "quasi_identifiers": [{"field": "spend", "buckets": [30_000, 50_000]}]}, "multiple"),
    ({"segment": "x@1", "quasi_identifiers": [{"field": "spend", "top": 1_234_567}]}, "widest bucket"),
    ({"segment": "x@1", "quasi_identifiers": [{"field": "tier", "buckets": [2]}]}, "is a code"),
    ({"segment": "x@1", "quasi_identifiers": [{"field": "gender", "top": 3}]}, "only to numeric"),
    ({"segment": "x@1", "quasi_identifiers": ["gender"], "filters": {"spend": ["1"]}}, "cannot be filtered"),
    ({"segment": "x@1", "quasi_identifiers": [{"field": "spend", "generalize": "band5"}]}, "not a generalization"),
])
async def test_bad_behaviour_specs_name_the_key(vault: Vault, detector: PiiDetector, tmp_path: Path,
                                                doc: dict[str, object], needle: str) -> None:
    async def attempt() -> None:
        spec = parse_spec({"project": "p", **doc})
        await vault.extracts(detector).create(spec, tmp_path / "x.csv", OPERATOR, spec_sha256="0" * 64)

    with pytest.raises(ExtractSpecError, match=needle):
        await attempt()
    assert not (tmp_path / "x.csv").exists()


async def test_only_activated_versions_with_a_snapshot(vault: Vault, world: World, detector: PiiDetector,
                                                       tmp_path: Path) -> None:
    spec = parse_spec({"project": "p", "segment": world.draft, "quasi_identifiers": ["gender", "tier"]})
    with pytest.raises(SegmentStateError, match="draft"):
        await vault.extracts(detector).create(spec, tmp_path / "x.csv", OPERATOR, spec_sha256="0" * 64)
    assert not (tmp_path / "x.csv").exists()
