"""Restriction and objection rules (pure) and the SQL predicate contact resolution uses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.dialects import sqlite

from vault.customers.gate import contactable_clause, is_direct_marketing, processing_block
from vault.customers.models import CustomerRow
from vault.policy.purposes import PurposeCatalogue, load_purposes

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def purposes() -> PurposeCatalogue:
    return load_purposes(ROOT / "policies" / "purposes.yaml")


def _row(**kw: object) -> CustomerRow:
    return CustomerRow(id=uuid.uuid4(), status="active", **kw)


def test_direct_marketing_purposes(purposes: PurposeCatalogue) -> None:
    marketing = {p.id for p in purposes if is_direct_marketing(p)}
    assert {"marketing_email", "marketing_sms", "night_advertising"} <= marketing
    assert not marketing & {"service_delivery", "analytics", "legal_claims", "fraud_prevention", "tax_reporting"}


def test_restriction_blocks_everyone_but_legal_claims_handlers(purposes: PurposeCatalogue) -> None:
    row = _row(restricted_at=datetime(2026, 11, 1, tzinfo=UTC), restriction_request_id=uuid.uuid4())
    service, legal = purposes.get("service_delivery"), purposes.get("legal_claims")
    assert service is not None and legal is not None
    block = processing_block(row, service, "application")
    assert block is not None and block[0] == "restricted"
    assert "restricted since 2026-11-01" in block[1] and "legal_claims" in block[1]
    assert processing_block(row, legal, "compliance_officer") is None
    assert processing_block(row, legal, "application") is not None
    assert processing_block(row, service, "compliance_officer") is not None


def test_objection_blocks_direct_marketing_only(purposes: PurposeCatalogue) -> None:
    row = _row(objected_marketing_at=datetime(2026, 11, 2, tzinfo=UTC))
    email, service = purposes.get("marketing_email"), purposes.get("service_delivery")
    assert email is not None and service is not None
    block = processing_block(row, email, "marketing")
    assert block is not None and block[0] == "objected" and "Art. 21" in block[1]
    assert processing_block(row, service, "application") is None
    assert processing_block(_row(), email, "marketing") is None


def test_contactable_clause_sql(purposes: PurposeCatalogue) -> None:
    email, service = purposes.get("marketing_email"), purposes.get("service_delivery")
    assert email is not None and service is not None
    marketing_sql = str(contactable_clause(email).compile(dialect=sqlite.dialect()))
    service_sql = str(contactable_clause(service).compile(dialect=sqlite.dialect()))
    assert "restricted_at IS NULL" in marketing_sql and "objected_marketing_at IS NULL" in marketing_sql
    assert "restricted_at IS NULL" in service_sql and "objected_marketing_at" not in service_sql
