"""Issue 12 §1: purpose-bound collection (PIPA 16(1), 24-2(1); GDPR 5(1)(b)-(c), 25).

Create, update, import and rectify accept only the fields the request's purpose uses (422 naming
the field and the purpose); a statute-only field (the RRN) only under a purpose whose statute
permits collecting it, and only for a customer the statute covers (prize winners for withholding).
The rule lives in the domain, so it binds the CLI operator as well as HTTP callers.
"""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.conftest import Creds
from vault.access.caller import Caller
from vault.bootstrap import Vault
from vault.customers.errors import FieldNotForPurposeError, NotCoveredByStatuteError
from vault.customers.importer import CONSENT_COLUMNS, HEADER
from vault.customers.models import CustomerCohortRow

SD = "service_delivery"
RRN = "900101-1234568"
OPERATOR = Caller(None, purpose=SD, operator="tests")
TAX = Caller(None, purpose="tax_reporting", operator="tests")


async def _customer(client: AsyncTestClient, principals: dict[str, Creds]) -> str:  # type: ignore[type-arg]
    r = await client.post(f"/v1/customers?purpose={SD}", headers=principals["application"].headers,
                          json={"customer_ref": f"B-{uuid.uuid4().hex[:8]}", "name": "Choi", "phone": "010-7777-1234"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _problem(r: object, status: int, type_: str, field: str, purpose: str) -> None:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    assert body["type"] == f"urn:vault:{type_}"
    assert (body["field"], body["purpose"]) == (field, purpose)
    assert "900101" not in r.text  # type: ignore[attr-defined]


async def test_application_cannot_store_an_rrn_under_service_delivery(
        client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    app = principals["application"].headers
    r = await client.post(f"/v1/customers?purpose={SD}", headers=app,
                          json={"customer_ref": f"B-{uuid.uuid4().hex[:8]}", "rrn": RRN})
    _problem(r, 422, "customer.field_not_for_purpose", "rrn", SD)
    cid = await _customer(client, principals)
    r = await client.patch(f"/v1/customers/{cid}?purpose={SD}", json={"rrn": RRN}, headers=app)
    _problem(r, 422, "customer.field_not_for_purpose", "rrn", SD)


async def test_crm_agent_cannot_change_an_rrn_or_a_field_customer_support_does_not_use(
        client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    cid = await _customer(client, principals)
    crm = principals["crm_agent"].headers
    r = await client.patch(f"/v1/customers/{cid}?purpose=customer_support", json={"rrn": RRN}, headers=crm)
    _problem(r, 422, "customer.field_not_for_purpose", "rrn", "customer_support")
    r = await client.patch(f"/v1/customers/{cid}?purpose=customer_support", json={"gender": "F"}, headers=crm)
    _problem(r, 422, "customer.field_not_for_purpose", "gender", "customer_support")
    r = await client.patch(f"/v1/customers/{cid}?purpose=customer_support", json={"phone": "010-7777-9999"},
                           headers=crm)
    assert r.status_code == 200, r.text


async def test_statute_purpose_collects_an_rrn_only_for_customers_the_statute_covers(
        client: AsyncTestClient, principals: dict[str, Creds], vault: Vault) -> None:  # type: ignore[type-arg]
    cid = await _customer(client, principals)
    officer = principals["compliance_officer"].headers
    tax = "tax_reporting"
    # not (yet) a prize winner: the withholding statute does not cover them, on update and on rectification
    r = await client.patch(f"/v1/customers/{cid}?purpose={tax}", json={"rrn": RRN}, headers=officer)
    _problem(r, 422, "customer.not_covered_by_statute", "rrn", tax)
    r = await client.patch(f"/v1/subjects/{cid}?purpose={tax}", json={"fields": {"rrn": RRN}}, headers=officer)
    _problem(r, 422, "customer.not_covered_by_statute", "rrn", tax)
    # rectification under legal_claims: its statute permits collecting nothing, rrn is not one of its fields
    r = await client.patch(f"/v1/subjects/{cid}?purpose=legal_claims", json={"fields": {"rrn": RRN}},
                           headers=officer)
    _problem(r, 422, "customer.field_not_for_purpose", "rrn", "legal_claims")
    # a cohort the purpose's statute does not cover, or a purpose with no such statute, is refused
    r = await client.post(f"/v1/customers/{cid}/cohorts?purpose={tax}", headers=officer,
                          json={"cohort": "customers_with_orders", "reference": "X"})
    assert r.status_code == 422 and r.json()["field"] == "cohort", r.text
    r = await client.post(f"/v1/customers/{cid}/cohorts?purpose={SD}", headers=principals["application"].headers,
                          json={"cohort": "prize_winners", "reference": "DRAW-1"})
    assert r.status_code == 422, r.text
    # recorded as a prize winner (audited): now the RRN is collected, and only tax_reporting's fields are
    r = await client.post(f"/v1/customers/{cid}/cohorts?purpose={tax}", headers=officer,
                          json={"cohort": "prize_winners", "reference": "DRAW-2026-11"})
    assert r.status_code == 204, r.text
    r = await client.patch(f"/v1/customers/{cid}?purpose={tax}", json={"rrn": RRN}, headers=officer)
    assert r.status_code == 200, r.text
    assert r.json()["fields"]["rrn"] == RRN
    r = await client.patch(f"/v1/customers/{cid}?purpose={tax}", json={"phone": "010-1111-2222"}, headers=officer)
    _problem(r, 422, "customer.field_not_for_purpose", "phone", tax)
    async with vault.db.read() as session:
        (member,) = (await session.scalars(select(CustomerCohortRow).where(
            CustomerCohortRow.customer_id == uuid.UUID(cid)))).all()
    assert (member.cohort, member.reference) == ("prize_winners", "DRAW-2026-11")
    r = await client.get("/v1/audit", params={"action": "customer.cohort", "customer_id": cid}, headers=officer)
    assert r.status_code == 200 and [e["action"] for e in r.json()["items"]] == ["customer.cohort"], r.text


async def test_the_cli_operator_is_bound_too(vault: Vault) -> None:
    async with vault.db.write() as session:
        with pytest.raises(FieldNotForPurposeError, match="rrn: not collected for purpose 'service_delivery'"):
            await vault.customers(session).create({"customer_ref": f"B-{uuid.uuid4().hex[:8]}", "rrn": RRN},
                                                  OPERATOR)
        # a new customer is covered by no statute yet: tax_reporting cannot create one with an RRN
        with pytest.raises(NotCoveredByStatuteError):
            await vault.customers(session).create({"customer_ref": f"B-{uuid.uuid4().hex[:8]}", "rrn": RRN}, TAX)


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(HEADER))
        w.writeheader()
        w.writerows([{c: r.get(c, "") for c in HEADER} for r in rows])
    return path


async def test_import_rejects_values_the_purpose_does_not_collect_and_keeps_the_rest(
        vault: Vault, tmp_path: Path) -> None:
    p = uuid.uuid4().hex[:6]
    rows = [{"customer_ref": f"{p}-1", "name": "Kim"},
            {"customer_ref": f"{p}-2", "name": "Lee", "rrn": RRN},            # line 3: no RRN under SD
            {"customer_ref": f"{p}-3", "email": "c@example.org", **dict.fromkeys(CONSENT_COLUMNS, "n")}]
    report = await vault.importer().run(_csv(tmp_path / "sd.csv", rows), OPERATOR, keep_ids=True)
    assert report.created == 2
    assert [(e.line, e.field) for e in report.errors] == [(3, "rrn")]
    assert "not collected for purpose 'service_delivery'" in report.errors[0].reason

    # tax_reporting collects RRNs, but only for customers its statute covers: the file must say they are
    winners = [{"customer_ref": f"{p}-w1", "name": "Park", "rrn": RRN},
               {"customer_ref": f"{p}-w2", "name": "Jung", "email": "w2@example.org"}]  # line 3: email not collected
    path = _csv(tmp_path / "tax.csv", winners)
    report = await vault.importer().run(path, TAX)
    assert report.created == 0
    assert [(e.line, e.field) for e in report.errors] == [(2, "rrn"), (3, "email")]
    assert "covers only prize_winners" in report.errors[0].reason
    assert "not collected for purpose 'tax_reporting'" in report.errors[1].reason
    report = await vault.importer().run(path, TAX, covered_by="DRAW-2026-11", keep_ids=True)
    assert report.created == 1 and [(e.line, e.field) for e in report.errors] == [(3, "email")]
    async with vault.db.read() as session:
        members = (await session.scalars(select(CustomerCohortRow).where(
            CustomerCohortRow.customer_id.in_(report.created_ids)))).all()
        view = await vault.customers(session).get(report.created_ids[0], TAX)
    assert [(m.cohort, m.reference) for m in members] == [("prize_winners", "DRAW-2026-11")]
    assert view.fields["rrn"] == RRN


async def test_import_reports_every_row_refused_for_the_same_fields_by_its_own_line(
        vault: Vault, tmp_path: Path) -> None:
    """A purpose-bound collection verdict is judged once per set of filled fields, but reported per row."""
    p = uuid.uuid4().hex[:6]
    rows = [{"customer_ref": f"{p}-{i}", "name": "Kim", **({"rrn": RRN} if i % 2 else {})} for i in range(5)]
    report = await vault.importer().run(_csv(tmp_path / "same.csv", rows), OPERATOR, batch_size=2)
    assert report.created == 3
    assert [(e.line, e.field) for e in report.errors] == [(3, "rrn"), (5, "rrn")]
