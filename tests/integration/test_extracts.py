"""Analytics extracts end to end: consent, pseudonyms, k-anonymity, l-diversity, audit, CLI, atomic writes."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from tests.conftest import Creds
from tests.extract_checker import check_release
from vault.access.caller import Caller
from vault.audit.entry import AuditEvent
from vault.audit.models import AuditEntryRow, AuditSubjectRow
from vault.bootstrap import Vault
from vault.config import Settings
from vault.consent.models import ConsentStateRow
from vault.customers.importer import CONSENT_PROOF_COLUMNS, HEADER
from vault.detection import DetectedEntity, PiiDetector, build_analyzer
from vault.errors import AccessDeniedError
from vault.privacy import (
    DirectIdentifierError,
    ExtractResult,
    ExtractWriteError,
    ReleaseRefusedError,
    TargetUnmeetableError,
    parse_spec,
)
from vault.privacy.errors import ProjectNotFoundError
from vault.privacy.projects import ProjectGuard
from vault.privacy.runner import ExtractRunner

OPERATOR = Caller(None, purpose="analytics", operator="tests")
CITIES = [("서울특별시", ["강남구", "마포구", "종로구"]), ("부산광역시", ["해운대구", "수영구"]),
          ("경기도", ["성남시 분당구", "수원시 영통구"]), ("대구광역시", ["수성구"])]
MANIFEST_KEYS = {"quasi_identifiers", "sensitive_attributes", "k", "l", "rows", "suppressed_rows", "pseudonym_column",
                 "generated_at", "spec_sha256", "purpose", "project", "format", "generalization", "achieved_k",
                 "reference_date", "file_sha256", "audit_seq"}


@dataclass
class Seeded:
    """The module's customers: who consented to analytics, who did not."""

    consenting: set[uuid.UUID]
    refusing: set[uuid.UUID]


def _customers(seed: int, n: int, prefix: str) -> list[list[str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        city, districts = rng.choice(CITIES)
        born = date(1945, 1, 1) + timedelta(days=rng.randint(0, 60 * 365))
        values = {
            "customer_ref": f"{prefix}-{i:05d}", "name": "김민준", "email": f"{prefix}{i}@example.com",
            "phone": f"010-{rng.randint(2000, 9999)}-{rng.randint(1000, 9999)}",
            "birth_date": born.isoformat() if rng.random() > 0.02 else "", "gender": rng.choice("FFMMX"),
            "postal_code": f"{rng.randint(1000, 63999):05d}", "city": city, "district": rng.choice(districts),
            "address_line": "센텀중앙로 97", "rrn": "", "marketing_email": "n", "marketing_sms": "n",
            "marketing_sms_night": "", "analytics": "y" if rng.random() < 0.75 else "n",
        }
        rows.append([values[c] for c in HEADER] + ["2026-11-01", "2026-11"])  # consent proof: verified grants
    return rows


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector(build_analyzer())


@pytest.fixture(scope="module")
async def seeded(vault: Vault, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    path = tmp_path_factory.mktemp("seed") / "customers.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*HEADER, *CONSENT_PROOF_COLUMNS])
        w.writerows(_customers(20260115, 700, "X" + uuid.uuid4().hex[:5]))
    report = await vault.importer().run(path, Caller(None, purpose="service_delivery", operator="tests"),
                                        workers=0, keep_ids=True)
    assert report.created == 700, report.errors[:3]
    async with vault.db.read() as session:
        granted = set((await session.scalars(select(ConsentStateRow.customer_id).where(
            ConsentStateRow.purpose == "analytics", ConsentStateRow.status == "granted"))).all())
    created = set(report.created_ids)
    assert granted <= created and 400 < len(granted) < 650
    return Seeded(granted, created - granted)


def _service(vault: Vault, detector: PiiDetector) -> ExtractRunner:
    return vault.extracts(detector)


async def _extract(vault: Vault, detector: PiiDetector, out: Path, caller: Caller = OPERATOR,
                   **spec: object) -> ExtractResult:
    # 500-odd consenting customers with uniformly spread postal codes: the postal code must be allowed to go
    # (max "*") for k=5 within 5% suppression; the vault refuses rather than over-suppress otherwise.
    doc: dict[str, object] = {"project": "churn", "quasi_identifiers": [
        "birth_date", "gender", {"field": "postal_code", "max": "*"}]}
    doc.update(spec)
    return await _service(vault, detector).create(parse_spec(doc), out, caller, spec_sha256="0" * 64)


def _read(path: Path) -> list[dict[str, str | None]]:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _assert_k_anonymous(rows: list[dict[str, str | None]], qis: list[str], k: int) -> Counter[tuple]:
    classes = Counter(tuple(r[q] for q in qis) for r in rows)
    assert all(n >= k for n in classes.values()), min(classes.values())
    return classes


@pytest.mark.parametrize("k", [2, 5, 10])
async def test_output_is_k_anonymous_and_only_consenting_customers(vault: Vault, seeded: Seeded,
                                                                   detector: PiiDetector, tmp_path: Path,
                                                                   k: int) -> None:
    out = tmp_path / "x.csv"
    qis = ["birth_date", {"field": "gender", "max": "*"}, {"field": "postal_code", "max": "*"}]  # may go entirely
    result = await _extract(vault, detector, out, k=k, quasi_identifiers=qis, max_suppression=0.5)
    rows = _read(out)
    m = result.manifest
    classes = _assert_k_anonymous(rows, ["birth_date", "gender", "postal_code"], k)
    assert m["rows"] == len(rows) > 0
    assert m["rows"] + m["suppressed_rows"] == m["eligible_customers"] == len(seeded.consenting)
    assert m["suppressed_rows"] <= int(0.5 * m["eligible_customers"])
    assert m["suppressed_share"] == pytest.approx(m["suppressed_rows"] / m["eligible_customers"], abs=1e-6)
    assert m["achieved_k"] == min(classes.values()) and m["equivalence_classes"] == len(classes)
    assert m["customers_without_basis"] >= len(seeded.refusing)
    pseudo = vault.keyring.pseudonyms.pseudonym
    allowed = {pseudo("churn", c) for c in seeded.consenting}
    refused = {pseudo("churn", c) for c in seeded.refusing}
    released = {r["pseudonym"] for r in rows}
    assert released <= allowed and not released & refused
    assert list(rows[0]) == ["pseudonym", "birth_date", "gender", "postal_code"]
    assert [r["pseudonym"] for r in rows] == sorted(released)  # sorted: insertion order does not leak
    text = out.read_text(encoding="utf-8")
    assert not any(str(c) in text or c.hex in text for c in seeded.consenting)


async def test_manifest_written_beside_the_file(vault: Vault, seeded: Seeded, detector: PiiDetector,
                                                tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    result = await _extract(vault, detector, out, reference_date="2026-01-01")
    doc = json.loads((tmp_path / "m.csv.manifest.json").read_text(encoding="utf-8"))
    assert set(doc) >= MANIFEST_KEYS
    assert doc == result.manifest
    assert doc["quasi_identifiers"] == ["birth_date", "gender", "postal_code"]
    assert doc["sensitive_attributes"] == [] and doc["l"] == 1 and doc["k"] == 5
    assert doc["reference_date"] == "2026-01-01" and doc["purpose"] == "analytics" and doc["format"] == "csv"
    assert set(doc["generalization"]) == set(doc["quasi_identifiers"])
    assert doc["release_gate"]["findings"] == 0


async def test_l_diversity(vault: Vault, seeded: Seeded, detector: PiiDetector, tmp_path: Path) -> None:
    out = tmp_path / "l.csv"
    qis = ["birth_date", {"field": "postal_code", "max": "*"}]
    result = await _extract(vault, detector, out, quasi_identifiers=qis, sensitive_attributes=["gender", "city"],
                            k=4, l=2)
    rows = _read(out)
    _assert_k_anonymous(rows, ["birth_date", "postal_code"], 4)
    seen: dict[tuple, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for r in rows:
        key = (r["birth_date"], r["postal_code"])
        seen[key][0].add(r["gender"])
        seen[key][1].add(r["city"])
    assert all(len(g) >= 2 and len(c) >= 2 for g, c in seen.values())
    assert result.manifest["achieved_l"] >= 2
    assert result.manifest["sensitive_attributes"] == ["gender", "city"]
    assert check_release(rows, result.manifest) == []


async def test_ladder_climbs_and_suppresses(vault: Vault, seeded: Seeded, detector: PiiDetector,
                                            tmp_path: Path) -> None:
    # Raw districts within cities plus birth years cannot be 10-anonymous: the vault must climb birth_date and
    # suppress what the fixed-rung district cannot fix (within the budget), and report it.
    result = await _extract(vault, detector, tmp_path / "c.csv", k=10, max_suppression=0.8,
                            quasi_identifiers=["birth_date", "district"])
    m = result.manifest
    assert m["generalization"]["birth_date"] in ("band5", "band10")
    assert m["generalization_steps"][0]["field"] == "birth_date"
    rows = _read(tmp_path / "c.csv")
    _assert_k_anonymous(rows, ["birth_date", "district"], 10)
    assert m["suppressed_rows"] == m["eligible_customers"] - len(rows) > 0
    assert m["suppressed_rows"] <= int(0.8 * m["eligible_customers"])


async def test_never_releases_above_max_suppression(vault: Vault, seeded: Seeded, detector: PiiDetector,
                                                    tmp_path: Path) -> None:
    # The same spec with no suppression budget: the top of every ladder still leaves small classes -> refused.
    out = tmp_path / "c.csv"
    with pytest.raises(TargetUnmeetableError) as caught:
        await _extract(vault, detector, out, k=20, max_suppression=0.0, quasi_identifiers=["birth_date", "district"])
    assert not list(tmp_path.iterdir())
    extra = caught.value.extra
    assert extra["levels"] == {"birth_date": "band10", "district": "value"}
    assert extra["failing_rows"] > extra["max_suppressed_rows"] == 0
    worst = extra["worst_classes"]
    assert worst and all(c["rows"] < 20 and c["fails"] == ["k"] for c in worst)
    assert [c["rows"] for c in worst] == sorted(c["rows"] for c in worst)
    async with vault.db.read() as session:
        last = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.action == "extract.create")
                                      .order_by(AuditEntryRow.seq.desc()).limit(1))).one()
    assert last.outcome == "failed" and "target cannot be met" in (last.detail or "")
    assert last.subject_count == len(seeded.consenting)  # decrypted for the attempt: audited, though not released


async def test_l_blocked_by_a_determining_attribute_is_refused(vault: Vault, seeded: Seeded,
                                                                detector: PiiDetector, tmp_path: Path) -> None:
    # A district lies in one city: grouping by district can never give two cities per class.
    with pytest.raises(TargetUnmeetableError, match=r"l-diversity of 'city'.*blocked by district") as caught:
        await _extract(vault, detector, tmp_path / "l.csv", k=2, l=2, quasi_identifiers=["district"],
                       sensitive_attributes=["city"])
    blocking = caught.value.extra["blocking"]
    assert blocking[0]["attribute"] == "city" and blocking[0]["determined_by"][0]["field"] == "district"
    assert not list(tmp_path.iterdir())


async def test_filters(vault: Vault, seeded: Seeded, detector: PiiDetector, tmp_path: Path) -> None:
    result = await _extract(vault, detector, tmp_path / "f.csv", quasi_identifiers=["gender", "city"],
                            filters={"city": ["서울특별시", "부산광역시"]}, k=2)
    rows = _read(tmp_path / "f.csv")
    assert {r["city"] for r in rows} <= {"서울특별시", "부산광역시"}
    assert result.manifest["filtered_out"] > 0


async def test_pseudonyms_stable_within_project_and_unlinkable_across(vault: Vault, seeded: Seeded,
                                                                      detector: PiiDetector, tmp_path: Path) -> None:
    spec = {"quasi_identifiers": [{"field": "gender", "max": "*"}], "k": 2}
    await _extract(vault, detector, tmp_path / "a1.csv", project="alpha", **spec)
    await _extract(vault, detector, tmp_path / "a2.parquet", project="alpha", **spec)
    await _extract(vault, detector, tmp_path / "b.csv", project="beta", pseudonym_column="pid", **spec)
    a1 = [r["pseudonym"] for r in _read(tmp_path / "a1.csv")]
    a2 = [r["pseudonym"] for r in _read(tmp_path / "a2.parquet")]
    b = [r["pid"] for r in _read(tmp_path / "b.csv")]
    assert a1 == a2 and len(a1) == len(seeded.consenting)
    assert len(b) == len(a1) and not set(a1) & set(b)


async def test_direct_identifiers_refused(vault: Vault, seeded: Seeded, detector: PiiDetector,
                                          tmp_path: Path) -> None:
    with pytest.raises(DirectIdentifierError, match="'email' is a direct identifier"):
        await _extract(vault, detector, tmp_path / "d.csv", quasi_identifiers=["gender", "email"])
    assert not list(tmp_path.iterdir())


class _FlagsEverything:
    """A detector that sees an e-mail address in every value (to exercise the release gate)."""

    structured_types = frozenset({"EMAIL_ADDRESS"})

    def analyze(self, text: str, language: str | None = None, **_: object) -> list[DetectedEntity]:
        return [DetectedEntity("EMAIL_ADDRESS", 0, len(text), 0.99)]


async def test_release_gate_refuses_and_writes_nothing(vault: Vault, seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "g.parquet"
    with pytest.raises(ReleaseRefusedError, match=r"column 'birth_date'.*EMAIL_ADDRESS"):
        await _extract(vault, _FlagsEverything(), out)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())
    async with vault.db.read() as session:
        last = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.action == "extract.create")
                                      .order_by(AuditEntryRow.seq.desc()).limit(1))).one()
    assert last.outcome == "failed" and "release refused" in (last.detail or "")


async def test_missing_directory_leaves_nothing(vault: Vault, seeded: Seeded, detector: PiiDetector,
                                                tmp_path: Path) -> None:
    with pytest.raises(ExtractWriteError):
        await _extract(vault, detector, tmp_path / "nope" / "x.csv")
    assert not list(tmp_path.iterdir())


async def test_audited_with_subjects_and_no_pii(vault: Vault, seeded: Seeded, detector: PiiDetector,
                                                tmp_path: Path) -> None:
    result = await _extract(vault, detector, tmp_path / "a.csv", project="audit-check")
    seq = result.manifest["audit_seq"]
    async with vault.db.read() as session:
        entry = await session.get(AuditEntryRow, seq)
        subjects = set((await session.scalars(select(AuditSubjectRow.customer_id).where(
            AuditSubjectRow.seq == seq))).all())
    assert entry is not None and entry.action == "extract.create" and entry.outcome == "allowed"
    assert entry.purpose == "analytics" and entry.role == "operator"
    assert entry.subject_count == len(seeded.consenting) and subjects == seeded.consenting
    assert entry.subjects_digest and "project='audit-check'" in (entry.detail or "")
    assert entry.fields == "birth_date,gender,postal_code"


async def test_role_needs_the_extract_grant(vault: Vault, seeded: Seeded, principals: dict[str, Creds],
                                            detector: PiiDetector, tmp_path: Path) -> None:
    analyst = Caller(principals["analyst"].principal, purpose="analytics")
    result = await _extract(vault, detector, tmp_path / "ok.csv", caller=analyst)
    assert result.manifest["rows"] > 0
    marketing = Caller(principals["marketing"].principal, purpose="analytics")
    with pytest.raises(AccessDeniedError):
        await _extract(vault, detector, tmp_path / "no.csv", caller=marketing)
    assert not (tmp_path / "no.csv").exists()


# -- the command line contract ------------------------------------------------------------------------------


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VAULT_DATABASE_URL": settings.database_url,
           "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
           "VAULT_POLICY__DIRECTORY": str(settings.policy.directory)}
    return subprocess.run([sys.executable, "-m", "vault.cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=180, check=False)


SPEC = """\
project: churn-study
purpose: analytics
quasi_identifiers:
  - field: birth_date
    generalize: band5
  - field: postal_code
    max: "*"
  - gender
sensitive_attributes: [city]
k: 5
l: 2
"""
UNMEETABLE = """\
project: churn-study
quasi_identifiers: [birth_date, district]
sensitive_attributes: [city]
k: 5
l: 2
max_suppression: 0.05
"""


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
async def test_cli_writes_extract_and_manifest(settings: Settings, seeded: Seeded, tmp_path: Path,
                                               suffix: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / f"out{suffix}"
    res = _cli(settings, "extract", "create", "--spec", str(spec), "--out", str(out))
    assert res.returncode == 0, res.stderr
    manifest = json.loads((tmp_path / f"out{suffix}.manifest.json").read_text(encoding="utf-8"))
    assert set(manifest) >= MANIFEST_KEYS
    rows = _read(out)
    assert manifest["rows"] == len(rows) > 0 and manifest["format"] == suffix[1:]
    assert manifest["k"] == 5 and manifest["l"] == 2 and manifest["pseudonym_column"] == "pseudonym"
    _assert_k_anonymous(rows, ["birth_date", "postal_code", "gender"], 5)
    assert check_release(rows, manifest) == []
    assert f"rows {len(rows)}" in res.stdout


async def test_cli_unmeetable_spec_exits_non_zero_and_writes_nothing(settings: Settings, seeded: Seeded,
                                                                   tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(UNMEETABLE, encoding="utf-8")
    out = tmp_path / "out.parquet"
    res = _cli(settings, "extract", "create", "--spec", str(spec), "--out", str(out))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "target cannot be met" in res.stderr and "blocked by district" in res.stderr
    assert "worst classes" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


@pytest.mark.parametrize(("body", "needle"), [
    ("project: p\nquasi_identifiers: [gender]\nk: 1\n", "k: must be at least 2"),
    ("project: p\nquasi_identifiers: [gender, email]\n", "direct identifier"),
    ("project: p\nquasi_identifiers: [gender]\nbogus: 1\n", "unknown key 'bogus'"),
    ("project: [oops\n", "not valid YAML"),
    ("quasi_identifiers: [gender]\n", "project: required key is missing"),
])
async def test_cli_spec_errors_are_one_line(settings: Settings, tmp_path: Path, body: str, needle: str) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(body, encoding="utf-8")
    out = tmp_path / "out.csv"
    res = _cli(settings, "extract", "create", "--spec", str(spec), "--out", str(out))
    assert res.returncode != 0
    assert "Traceback" not in res.stderr + res.stdout
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert not out.exists() and not (tmp_path / "out.csv.manifest.json").exists()


async def test_cli_rejects_unknown_output_format(settings: Settings, tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("project: p\nquasi_identifiers: [gender]\n", encoding="utf-8")
    res = _cli(settings, "extract", "create", "--spec", str(spec), "--out", str(tmp_path / "x.xlsx"))
    assert res.returncode != 0 and ".csv or .parquet" in res.stderr and "Traceback" not in res.stderr


async def test_project_changes_audit_a_denial_durably_outside_the_write_transaction(
        vault: Vault, principals: dict[str, Creds], detector: PiiDetector, monkeypatch: pytest.MonkeyPatch) -> None:
    """A manager who may not see the project (here: sees_all switched off, not a member) is refused before any
    write transaction opens, and the denial entry is committed by the time the error arrives."""
    projects = vault.analysts(lambda: detector).projects
    officer = Caller(principals["compliance_officer"].principal, purpose="analytics", request_id=uuid.uuid4().hex)
    project = await projects.create(f"hidden-{uuid.uuid4().hex[:6]}", officer)
    monkeypatch.setattr(ProjectGuard, "sees_all", lambda self, caller: False)
    record_durable = vault.audit.record_durable

    async def outside_writes(event: AuditEvent) -> int:
        assert not vault.db.holds_write_lock(), "a denial audited inside a write transaction"
        return await record_durable(event)

    monkeypatch.setattr(vault.audit, "record_durable", outside_writes)
    changes = [lambda: projects.set_budget(project.id, 2.0, officer), lambda: projects.rotate_key(project.id, officer),
               lambda: projects.add_member(project.id, uuid.uuid4(), officer),
               lambda: projects.remove_member(project.id, uuid.uuid4(), officer)]
    for change in changes:
        with pytest.raises(ProjectNotFoundError):
            await change()
    async with vault.db.read() as session:
        denied = (await session.scalars(select(AuditEntryRow.action).where(
            AuditEntryRow.request_id == officer.request_id, AuditEntryRow.outcome == "denied"))).all()
    assert sorted(denied) == ["project.budget_set", "project.key_rotate", "project.member_add",
                              "project.member_remove"]
