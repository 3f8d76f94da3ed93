"""Issue 12 §3: retention per field and purpose, holds that retention and erasure respect and report, and the
separately keyed statutory archive (GDPR 5(1)(e), 17(3), 18; PIPA 21(1), 21(3), 37)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.conftest import Creds
from tests.integration.test_rights import OP, RRN, grant, new_customer, officer, with_rrn
from vault.access.caller import Caller
from vault.audit.models import AuditEntryRow, AuditSubjectRow
from vault.bootstrap import Vault
from vault.config import Settings
from vault.crypto.errors import DecryptionError
from vault.customers.models import CustomerRow
from vault.customers.records import customer_key, open_fields, sealed_field_names
from vault.errors import AccessDeniedError
from vault.policy.purposes import PurposeCatalogue
from vault.rights.archive import ArchivedRecord
from vault.rights.errors import ErasureHeldError
from vault.rights.journal import ErasureJournal
from vault.rights.models import StatutoryArchiveRow
from vault.rights.runner import RetentionJob

TAX_OFFICER = "tax_reporting"


def retention(vault: Vault, **days: int) -> RetentionJob:
    """A retention job whose purposes keep data ``days[purpose]`` days (the shipped policy otherwise)."""
    p = vault.policies
    purposes = PurposeCatalogue({q.id: q.model_copy(update={"retention_days": days[q.id]}) if q.id in days else q
                                 for q in p.purposes}, p.purposes.controller)
    return RetentionJob(replace(vault.rights_deps, purposes=purposes,
                                journal=ErasureJournal(vault.settings.rights.erasure_journal)))


async def deleted_days_ago(vault: Vault, cid: uuid.UUID, days: int) -> None:
    async with vault.db.write() as session:
        await vault.customers(session).soft_delete(cid, OP)
        await session.execute(update(CustomerRow).where(CustomerRow.id == cid)
                              .values(deleted_at=datetime.now(UTC) - timedelta(days=days)))


async def read_archive(vault: Vault, cid: uuid.UUID, caller: Caller) -> list[ArchivedRecord]:
    async with vault.db.read() as session:
        return await vault.archive(session).read(cid, caller)


async def stored(vault: Vault, cid: uuid.UUID) -> tuple[CustomerRow, dict[str, str]]:
    async with vault.db.read() as session:
        row = await session.get(CustomerRow, cid)
    assert row is not None
    return row, (open_fields(customer_key(vault.keyring, row), row.sealed) if row.wrapped_dek else {})


async def test_a_field_whose_every_purpose_ended_is_destroyed_while_the_others_stay(vault: Vault) -> None:
    # service_delivery (birth_date, gender, ...) keeps 365 days, customer_support (contact, address) 1095:
    # 400 days after the relationship ended birth_date and gender have no purpose left; the rest stays.
    plain, _ = await new_customer(vault)
    consenting, _ = await new_customer(vault)
    await grant(vault, consenting, "analytics")  # analytics (1095 days) still uses birth_date and gender
    for cid in (plain, consenting):
        await deleted_days_ago(vault, cid, 400)
    svc = retention(vault, service_delivery=365, customer_support=1095)
    dry = await svc.run(OP, dry_run=True)
    assert plain in {f.customer_id for f in dry.fields_due}
    report = await svc.run(OP)
    mine = {f.customer_id: f for f in report.fields_due}
    assert mine[plain].destroyed == ("birth_date", "gender") and "phone" in mine[plain].kept
    assert consenting not in mine and consenting not in {d.customer_id for d in report.due}
    row, values = await stored(vault, plain)
    assert row.status == "deleted" and row.wrapped_dek is not None
    assert "birth_date" not in values and "gender" not in values and values["phone"] == "+821098765432"
    assert set(sealed_field_names(row.sealed)) == set(values)
    _, values = await stored(vault, consenting)
    assert values["birth_date"] == "1987-04-12"
    async with vault.db.read() as session:
        audited = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.action == "retention.fields")
                                         .order_by(AuditEntryRow.seq.desc()).limit(1))).one()
    assert "birth_date" in (audited.fields or "") and "1987" not in str(audited.detail)
    # a second run finds nothing more to do for this customer
    again = await svc.run(OP)
    assert plain not in {f.customer_id for f in again.fields_due}


async def test_each_batch_entry_names_the_fields_its_own_customers_lost(vault: Vault) -> None:
    with_gender, _ = await new_customer(vault)
    ref = f"r-{uuid.uuid4().hex[:10]}"
    async with vault.db.write() as session:  # no gender given: only birth_date goes at 400 days
        view, _ = await vault.customers(session).create(
            {"customer_ref": ref, "name": "Lee Hana", "email": f"{ref}@example.org", "phone": "010-2222-3333",
             "birth_date": "1990-01-02", "postal_code": "06236", "city": "Seoul"}, OP)
    without_gender = view.id
    for cid in (with_gender, without_gender):
        await deleted_days_ago(vault, cid, 400)
    async with vault.db.read() as session:
        before = (await session.scalar(select(func.max(AuditEntryRow.seq)))) or 0
    await retention(vault, service_delivery=365, customer_support=1095).run(OP, batch_size=1)
    async with vault.db.read() as session:
        named = dict((await session.execute(
            select(AuditSubjectRow.customer_id, AuditEntryRow.fields).join(
                AuditEntryRow, AuditEntryRow.seq == AuditSubjectRow.seq).where(
                AuditEntryRow.action == "retention.fields", AuditEntryRow.seq > before,
                AuditSubjectRow.customer_id.in_([with_gender, without_gender])))).all())
    assert set((named[with_gender] or "").split(",")) == {"birth_date", "gender"}
    assert set((named[without_gender] or "").split(",")) == {"birth_date"}


async def test_restriction_and_an_open_request_hold_and_are_reported(vault: Vault,
                                                                    principals: dict[str, Creds]) -> None:
    restricted, _ = await new_customer(vault)
    requested, _ = await new_customer(vault)
    for cid in (restricted, requested):
        await deleted_days_ago(vault, cid, 4000)
    rights = vault.rights()
    await rights.restrict(restricted, officer(principals))
    req = await rights.open_request("access", requested, "gdpr", officer(principals))
    report = await retention(vault).run(OP)
    held = {(h.customer_id, h.kind): h for h in report.held}
    assert (restricted, "restriction") in held and (requested, "open_request") in held
    assert "GDPR Art. 18" in held[(restricted, "restriction")].basis
    assert str(req.id) in held[(requested, "open_request")].basis
    assert "name" in held[(restricted, "restriction")].fields
    doc = report.to_dict()
    assert {(h["customer_id"], h["kind"]) for h in doc["held"]} >= {(str(restricted), "restriction"),  # type: ignore[union-attr]
                                                                     (str(requested), "open_request")}
    for cid in (restricted, requested):
        row, values = await stored(vault, cid)
        assert row.status == "deleted" and values["name"] == "Park Jisoo"
    overdue = await vault.retention().overdue()
    assert overdue.held >= 2


async def test_data_kept_only_because_a_law_requires_it_moves_to_the_separately_keyed_archive(
        vault: Vault, principals: dict[str, Creds]) -> None:
    # Shipped policy: a prize winner's RRN is used by tax_reporting alone, whose statute keeps it 5 years. Once the
    # relationship ends nothing but the law keeps it: it leaves the customer record for the archive at once.
    cid, _ = await new_customer(vault)
    await with_rrn(vault, cid)
    await deleted_days_ago(vault, cid, 10)
    report = await vault.retention().run(OP)
    (mine,) = [f for f in report.fields_due if f.customer_id == cid]
    assert mine.archived == ("rrn",) and mine.destroyed == () and "name" in mine.kept
    assert any(h.customer_id == cid and h.kind == "statute" and "income_tax_prize_withholding" in h.basis
               for h in report.held)
    row, values = await stored(vault, cid)
    assert "rrn" not in values and values["name"] == "Park Jisoo"
    async with vault.db.read() as session:
        (arch,) = (await session.scalars(select(StatutoryArchiveRow).where(
            StatutoryArchiveRow.customer_id == cid))).all()
    assert arch.fields == "rrn" and arch.statute == "income_tax_prize_withholding"
    assert RRN.encode() not in arch.sealed and RRN.replace("-", "").encode() not in arch.sealed
    assert abs((arch.destroy_after.replace(tzinfo=UTC) - (datetime.now(UTC) - timedelta(days=10)))
               - timedelta(days=1825)) < timedelta(minutes=5)
    # its own key: the customer's DEK does not open it
    with pytest.raises(DecryptionError):
        customer_key(vault.keyring, row).open("rrn", __import__("msgspec").msgpack.decode(arch.sealed)["rrn"])
    # only archive:read (compliance officers for tax_reporting / legal_claims) reads it, audited
    tax = Caller(principals["compliance_officer"].principal, purpose=TAX_OFFICER, request_id=uuid.uuid4().hex)
    (rec,) = await read_archive(vault, cid, tax)
    assert rec.fields == {"rrn": RRN}
    for role, purpose in (("crm_agent", "customer_support"), ("application", "service_delivery"),
                          ("admin", "legal_claims")):
        with pytest.raises(AccessDeniedError):
            await read_archive(vault, cid, Caller(principals[role].principal, purpose=purpose,
                                                  request_id=uuid.uuid4().hex))
    async with vault.db.read() as session:
        reads = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.action == "archive.read", AuditEntryRow.customer_id == cid))).all()
    assert sorted(r.outcome for r in reads) == ["allowed", "denied", "denied", "denied"]
    # the subject's own access/portability export (GDPR 15, PIPA 35) shows what the archive still holds
    doc = await vault.rights().export(cid, officer(principals))
    assert [(a["statute"], a["fields"]) for a in doc["statutory_archive"]] == [
        ("income_tax_prize_withholding", {"rrn": RRN})]
    assert "rrn" not in doc["fields"]
    # when the statutory period ends, the archive record is destroyed by the next run
    async with vault.db.write() as session:
        await session.execute(update(StatutoryArchiveRow).where(StatutoryArchiveRow.id == arch.id)
                              .values(destroy_after=datetime.now(UTC) - timedelta(seconds=1)))
    assert (await vault.retention().overdue()).archive_records >= 1
    later = await vault.retention().run(OP)
    assert later.archive_destroyed >= 1
    async with vault.db.read() as session:
        assert await session.get(StatutoryArchiveRow, arch.id) is None


async def test_when_every_purpose_ended_the_customer_is_erased_and_the_statute_fields_archived(vault: Vault) -> None:
    cid, _ = await new_customer(vault)
    await with_rrn(vault, cid)
    await deleted_days_ago(vault, cid, 400)
    report = await retention(vault, service_delivery=365, customer_support=365).run(OP)
    assert cid in {d.customer_id for d in report.due} and report.archived >= 1
    row, _ = await stored(vault, cid)
    assert row.status == "erased" and row.wrapped_dek is None
    async with vault.db.read() as session:
        archived = (await session.scalars(select(StatutoryArchiveRow).where(
            StatutoryArchiveRow.customer_id == cid))).all()
    # the withholding statute keeps name, address and RRN; phone, email, birth date and gender are gone
    assert [a.fields for a in archived] == ["address_line,city,customer_ref,district,name,postal_code,rrn"]


async def test_erasure_respects_holds_and_says_why(vault: Vault, principals: dict[str, Creds]) -> None:
    rights = vault.rights()
    restricted, _ = await new_customer(vault)
    await rights.restrict(restricted, officer(principals))
    with pytest.raises(ErasureHeldError, match=r"restricted since .* lift the restriction first"):
        await rights.erase(restricted, officer(principals))
    row, values = await stored(vault, restricted)
    assert row.status == "active" and values["name"] == "Park Jisoo"
    async with vault.db.read() as session:
        denied = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.action == "subject.erase", AuditEntryRow.customer_id == restricted))).all()
    assert [d.outcome for d in denied] == ["denied"]
    # a bulk erasure skips the restricted customer and reports it
    other, _ = await new_customer(vault)
    bulk = await rights.erase_many([restricted, other], officer(principals), reason="tests")
    assert not isinstance(bulk, int) and getattr(bulk, "held", None) == [restricted]
    # a prize winner: erased, except what the withholding statute requires keeping (GDPR 17(3)(b))
    winner, _ = await new_customer(vault)
    await with_rrn(vault, winner)
    result = await rights.erase(winner, officer(principals))
    (kept,) = result.retained
    assert kept.statute == "income_tax_prize_withholding" and "rrn" in kept.fields and "phone" not in kept.fields
    row, _ = await stored(vault, winner)
    assert row.status == "erased" and row.wrapped_dek is None
    tax = Caller(principals["compliance_officer"].principal, purpose=TAX_OFFICER, request_id=uuid.uuid4().hex)
    (rec,) = await read_archive(vault, winner, tax)
    assert rec.fields["rrn"] == RRN and "phone" not in rec.fields


async def test_cli_run_names_the_customers_held_and_why(vault: Vault, settings: Settings, tmp_path: Path,
                                                         principals: dict[str, Creds]) -> None:
    cid, _ = await new_customer(vault)
    await deleted_days_ago(vault, cid, 4000)
    await vault.rights().restrict(cid, officer(principals))
    env = {**os.environ, "VAULT_DATABASE_URL": settings.database_url,
           "VAULT_CRYPTO__KEK_FILE": str(settings.crypto.kek_file),
           "VAULT_POLICY__DIRECTORY": str(settings.policy.directory),
           "VAULT_RIGHTS__ERASURE_JOURNAL": str(settings.rights.erasure_journal)}
    out = tmp_path / "r.json"
    res = subprocess.run([sys.executable, "-m", "vault.cli.main", "retention", "run", "--dry-run", "--report",
                          str(out)], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"held: customer {cid} (restriction): processing restricted since" in res.stdout
    held = json.loads(out.read_text())["held"]
    assert {"customer_id": str(cid), "kind": "restriction"}.items() <= next(
        h for h in held if h["customer_id"] == str(cid)).items()
    row, _ = await stored(vault, cid)
    assert row.status == "deleted"  # a dry run changes nothing
