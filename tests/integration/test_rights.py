"""Data subject rights on the real database (SQLite and PostgreSQL): registry, export, rectification,
restriction, objection, erasure by crypto-shredding, bulk erasure and retention."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from tests.conftest import Creds
from vault.access.caller import Caller
from vault.audit.models import AuditEntryRow
from vault.bootstrap import Vault
from vault.consent.models import ConsentEventRow
from vault.consent.service import ConsentChoice, ConsentService, Evidence
from vault.crypto.envelope import dek_label
from vault.crypto.errors import DecryptionError, KeyUnavailableError
from vault.crypto.keys import WrappedKey
from vault.customers.errors import CustomerNotFoundError
from vault.customers.gate import contactable_clause
from vault.customers.models import CustomerIndexRow, CustomerRow
from vault.errors import AccessDeniedError
from vault.rights.deadlines import add_months
from vault.rights.errors import (
    CustomerObjectedError,
    CustomerRestrictedError,
    RequestStateError,
    SubjectErasedError,
)
from vault.rights.journal import ErasureJournal
from vault.rights.models import FieldHistoryRow, RightsRequestRow
from vault.rights.runner import RetentionJob, RightsRunner

OP = Caller(None, purpose="service_delivery", operator="tests")
LEGAL = Caller(None, purpose="legal_claims", operator="tests")
TAX = Caller(None, purpose="tax_reporting", operator="tests")
# No RRN: service_delivery does not collect it (only tax_reporting does, for prize winners: with_rrn).
VALUES = {"name": "Park Jisoo", "phone": "010-9876-5432", "birth_date": "1987-04-12", "gender": "F",
          "postal_code": "06236", "city": "Seoul", "district": "Gangnam-gu", "address_line": "Teheran-ro 152, 12F"}
RRN = "870412-2345677"


def officer(principals: dict[str, Creds]) -> Caller:
    return Caller(principals["compliance_officer"].principal, purpose="legal_claims", request_id=uuid.uuid4().hex)


def as_role(principals: dict[str, Creds], role: str, purpose: str) -> Caller:
    return Caller(principals[role].principal, purpose=purpose, request_id=uuid.uuid4().hex)


async def new_customer(vault: Vault, **extra: str) -> tuple[uuid.UUID, dict[str, str]]:
    ref = f"r-{uuid.uuid4().hex[:10]}"
    values = {"customer_ref": ref, "email": f"{ref}@example.org", **VALUES, **extra}
    async with vault.db.write() as session:
        view, _ = await vault.customers(session).create(values, OP)
    return view.id, values


async def with_rrn(vault: Vault, cid: uuid.UUID, rrn: str = RRN) -> None:
    """Record the customer as a prize winner, then collect their RRN under tax_reporting (PIPA Art. 24-2)."""
    async with vault.db.write() as session:
        await vault.customers(session).record_cohort(cid, "prize_winners", "DRAW-TEST", TAX)
        await vault.customers(session).update(cid, {"rrn": rrn}, TAX)


async def grant(vault: Vault, cid: uuid.UUID, purpose: str, evidence: Evidence | None = None) -> None:
    async with vault.db.write() as session:
        await ConsentService(session, vault.consent_deps).record(
            cid, [ConsentChoice(purpose, "grant", notice_version="2026-01")], OP, source="web_form",
            evidence=evidence)


async def test_registry_due_dates_overdue_first_and_compliance_only(vault: Vault,
                                                                    principals: dict[str, Creds]) -> None:
    rights = vault.rights()
    cid, _ = await new_customer(vault)
    now = datetime.now(UTC)
    late = await rights.open_request("access", cid, "pipa", officer(principals), received_at=now - timedelta(days=12))
    soon = await rights.open_request("erasure", cid, "gdpr", officer(principals), received_at=now - timedelta(days=1))
    assert late.overdue and late.due_at == late.received_at + timedelta(days=10)
    assert not soon.overdue and soon.due_at == add_months(soon.received_at, 1)
    listed = await rights.list_requests(officer(principals), customer_id=cid)
    assert [r.id for r in listed] == [late.id, soon.id]
    assert (await rights.list_requests(officer(principals), status="overdue", customer_id=cid))[0].id == late.id
    extended = await rights.update_request(soon.id, officer(principals), extend=True, status="in_progress",
                                           extension_reason="complexity")
    assert extended.extended and extended.due_at > soon.due_at and extended.status == "in_progress"
    with pytest.raises(RequestStateError, match="already extended"):
        await rights.update_request(soon.id, officer(principals), extend=True)
    with pytest.raises(RequestStateError, match="PIPA allows no extension"):
        await rights.update_request(late.id, officer(principals), extend=True)
    for role in ("application", "marketing", "crm_agent", "analyst", "admin", "sales"):
        with pytest.raises(AccessDeniedError):
            await rights.list_requests(as_role(principals, role, "legal_claims"))
        with pytest.raises(AccessDeniedError):
            await rights.open_request("access", cid, "gdpr", as_role(principals, role, "legal_claims"))


async def test_rectification_keeps_old_value_sealed_and_export_holds_everything(
        vault: Vault, principals: dict[str, Creds]) -> None:
    rights = vault.rights()
    cid, values = await new_customer(vault)
    await with_rrn(vault, cid)
    await grant(vault, cid, "marketing_email", Evidence(ip="203.0.113.7", user_agent="Mozilla/5.0 (test)"))
    app = as_role(principals, "application", "service_delivery")
    async with vault.db.read() as session:
        await vault.customers(session).get(cid, app)
    fix = await rights.open_request("rectification", cid, "gdpr", officer(principals))
    changed = await rights.rectify(cid, {"phone": "010-1111-2222", "city": "Busan"}, officer(principals),
                                   request_id=fix.id)
    assert changed == ["city", "phone"]
    async with vault.db.read() as session:
        hist = (await session.scalars(select(FieldHistoryRow).where(FieldHistoryRow.customer_id == cid))).all()
    assert {h.field for h in hist} == {"phone", "city"}
    assert all(h.sealed and b"Seoul" not in h.sealed and b"9876" not in h.sealed for h in hist)
    assert (await rights.get_request(fix.id, officer(principals))).status == "completed"

    access = await rights.open_request("access", cid, "pipa", officer(principals))
    doc = await rights.export(cid, officer(principals), request_id=access.id)
    json.dumps(doc)  # JSON-serializable as is
    assert doc["format"] == "customer-vault-export/1"
    assert doc["fields"]["email"]["value"] == values["email"]
    assert doc["fields"]["phone"]["value"] == "+821011112222"
    assert doc["fields"]["rrn"]["value"] == RRN
    previous = {r["field"]: r["previous_value"] for r in doc["rectifications"]}
    assert previous == {"phone": "+821098765432", "city": "Seoul"}
    history = doc["consents"]["history"]
    assert history[0]["purpose"] == "marketing_email" and history[0]["notice_version"] == "2026-01"
    assert history[0]["evidence"] == {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (test)"}
    current = {(c["purpose"], c["channel"]): c for c in doc["consents"]["current"]}
    assert current[("marketing_email", "email")]["current"] is True
    purposes = {p["id"]: p for p in doc["purposes"]}
    assert purposes["marketing_email"]["applies"] and purposes["marketing_email"]["lawful_basis"] == "consent"
    assert purposes["service_delivery"]["retention_days"] == 1825
    who = {w["role"]: w for w in doc["recipients"]["accessed_by"]}
    assert "service_delivery" in who["application"]["purposes"] and "customer.read" in who["application"]["actions"]
    assert any(e["action"] == "subject.rectify" for e in doc["access_log"])
    assert {r["kind"] for r in doc["requests"]} == {"rectification", "access"}
    assert (await rights.get_request(access.id, officer(principals))).status == "completed"
    with pytest.raises(RequestStateError):
        await rights.export(cid, officer(principals), request_id=access.id)  # already answered
    with pytest.raises(AccessDeniedError):
        await rights.export(cid, as_role(principals, "compliance_officer", "service_delivery"))


async def test_restriction_denies_reads_with_a_reason(vault: Vault, principals: dict[str, Creds]) -> None:
    rights = vault.rights()
    cid, values = await new_customer(vault)
    req = await rights.open_request("restriction", cid, "gdpr", officer(principals))
    await rights.restrict(cid, officer(principals), request_id=req.id)
    app = as_role(principals, "application", "service_delivery")
    async with vault.db.read() as session:
        with pytest.raises(CustomerRestrictedError, match=r"restricted since .* \(GDPR Art. 18") as info:
            await vault.customers(session).get(cid, app)
        assert str(req.id) in info.value.detail
        assert await vault.customers(session).lookup("email", values["email"], app) == []
        legal = await vault.customers(session).get(cid, as_role(principals, "compliance_officer", "legal_claims"))
        assert legal.fields["email"] == values["email"]
    async with vault.db.write() as session:
        with pytest.raises(CustomerRestrictedError):
            await vault.customers(session).update(cid, {"city": "Daegu"}, app)
    async with vault.db.read() as session:
        denied = (await session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.customer_id == cid, AuditEntryRow.outcome == "denied"))).all()
        assert any("rights.restricted" in (d.detail or "") for d in denied)
        assert cid not in set((await session.scalars(select(CustomerRow.id).where(
            CustomerRow.id == cid, contactable_clause()))).all())
    await rights.restrict(cid, officer(principals), lift=True)
    async with vault.db.read() as session:
        assert (await vault.customers(session).get(cid, app)).fields["email"] == values["email"]


async def test_objection_stops_direct_marketing_at_once(vault: Vault, principals: dict[str, Creds]) -> None:
    rights = vault.rights()
    cid, _ = await new_customer(vault)
    await grant(vault, cid, "marketing_email")
    marketing = as_role(principals, "marketing", "marketing_email")
    async with vault.db.read() as session:
        assert (await vault.customers(session).get(cid, marketing)).fields
    purpose = vault.policies.purposes.get("marketing_email")
    assert purpose is not None
    req = await rights.open_request("objection", cid, "pipa", officer(principals))
    await rights.object(cid, officer(principals), request_id=req.id)
    async with vault.db.read() as session:
        with pytest.raises(CustomerObjectedError, match="objected to direct marketing"):
            await vault.customers(session).get(cid, marketing)
        assert (await vault.customers(session).get(cid, as_role(principals, "application", "service_delivery"))).fields
        q = select(CustomerRow.id).where(CustomerRow.id == cid)
        assert (await session.scalars(q.where(contactable_clause(purpose)))).all() == []
        service = vault.policies.purposes.get("service_delivery")
        assert (await session.scalars(q.where(contactable_clause(service)))).all() == [cid]


async def _all_ciphertexts(vault: Vault, cid: uuid.UUID) -> list[tuple[str, bytes]]:
    """Every ciphertext stored for a customer, with the sealed name its AAD binds."""
    import msgspec

    out: list[tuple[str, bytes]] = []
    async with vault.db.read() as session:
        row = await session.get(CustomerRow, cid)
        assert row is not None
        out += list(msgspec.msgpack.decode(row.sealed, type=dict[str, bytes]).items())
        for h in (await session.scalars(select(FieldHistoryRow).where(FieldHistoryRow.customer_id == cid))).all():
            if h.sealed:
                out.append((f"history.{h.field}/{h.id.hex}", h.sealed))
        for e in (await session.scalars(select(ConsentEventRow).where(ConsentEventRow.customer_id == cid))).all():
            if e.evidence_ip:
                out.append((f"consent.evidence.ip/{e.id.hex}", e.evidence_ip))
            if e.evidence_user_agent:
                out.append((f"consent.evidence.user_agent/{e.id.hex}", e.evidence_user_agent))
    return out


async def assert_nothing_decrypts(vault: Vault, cid: uuid.UUID, ciphertexts: list[tuple[str, bytes]],
                                  old_wrapped: WrappedKey) -> None:
    """No wrapped DEK of the customer is left anywhere in the customers table, and every ciphertext of theirs
    fails under every wrapped key the table still holds (the old DEK's blob included, as if found elsewhere)."""
    async with vault.db.read() as session:
        row = await session.get(CustomerRow, cid)
        assert row is not None and row.wrapped_dek is None and row.kek_version is None
        assert row.status == "erased" and row.ref_digest is None
        blobs = (await session.execute(select(CustomerRow.kek_version, CustomerRow.wrapped_dek).where(
            CustomerRow.wrapped_dek.is_not(None)))).all()
        assert all(b != old_wrapped.blob for _, b in blobs)
        assert (await session.scalars(select(CustomerIndexRow).where(CustomerIndexRow.customer_id == cid))).all() == []
    cipher = vault.keyring.cipher
    for version, blob in blobs:
        with pytest.raises((DecryptionError, KeyUnavailableError)):
            cipher.customer_key(cid, WrappedKey(version, blob), 1)
    # What is still stored for the customer is either gone or noise under no available key.
    for name, ct in await _all_ciphertexts(vault, cid):
        for dek_version in (1, 2):
            for version, blob in blobs[:50]:
                try:
                    key = vault.keyring.cipher.customer_key(cid, WrappedKey(version, blob), dek_version)
                except (DecryptionError, KeyUnavailableError):
                    continue
                with pytest.raises(DecryptionError):  # pragma: no cover - unwrapping above already fails
                    key.open(name, ct)


async def test_erasure_shreds_and_leaves_a_tombstone(vault: Vault, principals: dict[str, Creds],
                                                     settings: object) -> None:
    rights = vault.rights()
    cid, values = await new_customer(vault)
    await grant(vault, cid, "marketing_email", Evidence(ip="198.51.100.23", user_agent="Erase-Me-Agent/1.0"))
    await rights.rectify(cid, {"city": "Incheon"}, officer(principals))
    ciphertexts = await _all_ciphertexts(vault, cid)
    assert len(ciphertexts) >= len(values) + 3
    async with vault.db.read() as session:
        row = await session.get(CustomerRow, cid)
        assert row is not None and row.wrapped_dek and row.kek_version
        old = WrappedKey(row.kek_version, row.wrapped_dek)
        ref_digest = row.ref_digest
    dek = vault.keyring.provider.unwrap(old, label=dek_label(cid))
    req = await rights.open_request("erasure", cid, "gdpr", officer(principals))
    result = await rights.erase(cid, officer(principals), request_id=req.id)
    assert result.erased == [cid]
    await assert_nothing_decrypts(vault, cid, ciphertexts, old)
    async with vault.db.read() as session:
        row = await session.get(CustomerRow, cid)
        assert row is not None and row.erasure_request_id == req.id and row.erased_at is not None
        assert (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.customer_id == cid))).all()
        app = as_role(principals, "application", "service_delivery")
        assert await vault.customers(session).lookup("email", values["email"], app) == []
        with pytest.raises(CustomerNotFoundError):
            await vault.customers(session).get(cid, app)
    assert (await rights.get_request(req.id, officer(principals))).status == "completed"
    with pytest.raises(SubjectErasedError):
        await rights.rectify(cid, {"city": "Ulsan"}, officer(principals))
    doc = await rights.export(cid, officer(principals))
    assert doc["subject"]["status"] == "erased" and doc["fields"] == {} and doc["rectifications"] == []
    assert all(h["evidence"] == {} for h in doc["consents"]["history"])
    # The journal names the customer and the digest, and holds no personal data.
    journal = vault.rights_deps.journal.path.read_text()
    entry = [json.loads(line) for line in journal.splitlines() if str(cid) in line]
    assert entry and entry[0]["ref_digest"] == ref_digest.hex() and entry[0]["request_id"] == str(req.id)
    for value in [*values.values(), "198.51.100.23", "Erase-Me-Agent"]:
        assert value not in journal
    if vault.db.is_postgres:
        return
    # SQLite: the raw file (and WAL) holds neither the values nor the old wrapped DEK nor the DEK.
    raw = b"".join(p.read_bytes() for p in Path(vault.db.url.split("///", 1)[1]).parent.glob("vault.db*"))
    assert old.blob not in raw and dek not in raw
    assert ref_digest is not None and ref_digest not in raw
    for value in values.values():
        # "F" and the like occur in any binary file; a short all-digit value (a 5-digit postal code) occurs
        # by chance in the hex digests the log and indexes store, so only values that cannot collide are grepped.
        if len(value) >= 5 and not (value.isdigit() and len(value) < 10):
            assert value.encode() not in raw


async def test_bulk_erasure(vault: Vault, principals: dict[str, Creds]) -> None:
    rights = vault.rights()
    ids = [(await new_customer(vault))[0] for _ in range(30)]
    await rights.erase(ids[0], officer(principals))
    unknown = uuid.uuid4()
    result = await rights.erase_many([*ids, unknown], officer(principals), reason="closed accounts batch 7")
    assert set(result.erased) == set(ids[1:]) and result.already_erased == [ids[0]] and result.not_found == [unknown]
    async with vault.db.read() as session:
        left = (await session.scalars(select(CustomerRow.id).where(
            CustomerRow.id.in_(ids), CustomerRow.wrapped_dek.is_not(None)))).all()
        entry = (await session.scalars(select(AuditEntryRow).where(AuditEntryRow.action == "subject.erase",
                                                                   AuditEntryRow.subject_count == 29))).all()
    assert left == [] and len(entry) == 1
    with pytest.raises(AccessDeniedError):
        await rights.erase_many(ids, as_role(principals, "application", "legal_claims"), reason="x")


async def test_retention_erases_or_pseudonymizes_customers_past_retention(vault: Vault) -> None:
    old_id, _ = await new_customer(vault)
    pseudo_id, _ = await new_customer(vault)
    recent_id, _ = await new_customer(vault)
    active_id, _ = await new_customer(vault)
    for cid in (old_id, pseudo_id, recent_id):
        async with vault.db.write() as session:
            await vault.customers(session).soft_delete(cid, OP)
    long_ago = datetime.now(UTC) - timedelta(days=1826)
    async with vault.db.write() as session:
        await session.execute(update(CustomerRow).where(CustomerRow.id.in_([old_id, pseudo_id]))
                              .values(deleted_at=long_ago))
    journal = ErasureJournal(vault.settings.rights.erasure_journal)
    retention = RetentionJob(replace(vault.rights_deps, collection=None, journal=journal))
    before = len(list(journal.entries()))
    dry = await retention.run(OP, dry_run=True)
    due = {d.customer_id for d in dry.due}
    assert {old_id, pseudo_id} <= due and recent_id not in due and active_id not in due
    assert dry.applied == 0 and len(list(journal.entries())) == before
    # Pseudonymize one first (mode is per run), then erase the rest.
    retention_one = RetentionJob(replace(vault.rights_deps, collection=None, journal=journal))
    async with vault.db.write() as session:
        await session.execute(update(CustomerRow).where(CustomerRow.id == old_id).values(status="active"))
    report = await retention_one.run(OP, mode="pseudonymize")
    assert pseudo_id in {d.customer_id for d in report.due}
    async with vault.db.write() as session:
        await session.execute(update(CustomerRow).where(CustomerRow.id == old_id).values(status="deleted"))
    report = await retention.run(OP)
    assert old_id in {d.customer_id for d in report.due} and report.applied >= 1
    async with vault.db.read() as session:
        rows = {r.id: r for r in (await session.scalars(select(CustomerRow).where(
            CustomerRow.id.in_([old_id, pseudo_id, recent_id, active_id])))).all()}
    assert rows[old_id].status == "erased" and rows[old_id].wrapped_dek is None
    assert rows[pseudo_id].status == "pseudonymized" and rows[pseudo_id].ref_digest is None
    assert rows[recent_id].status == "deleted" and rows[recent_id].wrapped_dek is not None
    assert rows[active_id].status == "active"
    from vault.customers.records import customer_key, open_fields

    kept = open_fields(customer_key(vault.keyring, rows[pseudo_id]), rows[pseudo_id].sealed)
    assert kept == {"birth_date.year": "1987", "gender.value": "F", "postal_code.prefix3": "062",
                    "city.value": "Seoul", "district.value": "Gangnam-gu"}
    actions = {(e.customer_id, e.action) for e in journal.entries()}
    assert (old_id, "erase") in actions and (pseudo_id, "pseudonymize") in actions


async def test_replay_is_idempotent(vault: Vault) -> None:
    rights = RightsRunner(replace(vault.rights_deps))
    first = await rights.replay_erasures(LEGAL)
    assert first.entries > 0 and first.erased == 0 and first.pseudonymized == 0
    async with vault.db.read() as session:
        assert (await session.execute(text("SELECT 1"))).scalar() == 1


async def test_contact_resolution_drops_restricted_and_objecting_customers_at_once(
        vault: Vault, principals: dict[str, Creds]) -> None:
    from vault.consent.contacts import ContactDeps, ContactQuery, ContactResolver

    p = vault.policies
    resolver = ContactResolver(ContactDeps(vault.db, vault.keyring, p.purposes, vault.guard, vault.audit))

    async def resolve(purpose: str, ids: tuple[uuid.UUID, ...]) -> set[str]:
        plan = await resolver.plan(ContactQuery("email", None, ids), OP.for_purpose(purpose))
        return {line.decode() for c in [c async for c in resolver.stream(plan)] for line in c.splitlines()}

    objector, _ = await new_customer(vault)
    restricted, _ = await new_customer(vault)
    plain, _ = await new_customer(vault)
    for cid in (objector, restricted, plain):
        await grant(vault, cid, "marketing_email")
    ids = (objector, restricted, plain)
    assert len(await resolve("marketing_email", ids)) == 3
    await vault.rights().object(objector, officer(principals))
    await vault.rights().restrict(restricted, officer(principals))
    lines = await resolve("marketing_email", ids)
    assert len(lines) == 1 and str(plain) in next(iter(lines))
    service = await resolve("service_delivery", ids)  # objection is to marketing only; restriction is total
    assert len(service) == 2 and not any(str(restricted) in line for line in service)


async def test_gdpr_extension_only_in_the_first_month_and_with_a_reason(vault: Vault,
                                                                        principals: dict[str, Creds]) -> None:
    rights = vault.rights()
    cid, _ = await new_customer(vault)
    old = await rights.open_request("access", cid, "gdpr", officer(principals),
                                    received_at=datetime.now(UTC) - timedelta(days=60))
    with pytest.raises(RequestStateError, match="within one month"):
        await rights.update_request(old.id, officer(principals), extend=True, extension_reason="complexity")
    fresh = await rights.open_request("access", cid, "gdpr", officer(principals),
                                      received_at=datetime.now(UTC) - timedelta(days=3))
    with pytest.raises(RequestStateError, match="needs a reason"):
        await rights.update_request(fresh.id, officer(principals), extend=True)
    done = await rights.update_request(fresh.id, officer(principals), extend=True, extension_reason="complexity")
    assert done.extended and done.due_at == add_months(fresh.received_at, 3)
    async with vault.db.read() as session:
        row = await session.get(RightsRequestRow, fresh.id)
    assert row is not None and row.extension_reason == "complexity"
