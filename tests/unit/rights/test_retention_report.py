"""What a retention run reports and the dashboard's overdue figures, from the plans alone (no database; the
batches run against SQLite and PostgreSQL in tests/integration/test_retention_fields.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.fakes import policies
from vault.errors import InvalidInputError
from vault.rights.holds import Archival, FieldPlan, Hold
from vault.rights.retention import build_report, check_mode, overdue_of, summary

NOW = datetime(2026, 3, 2, tzinfo=UTC)
ENDED = NOW - timedelta(days=2000)


def plans() -> list[FieldPlan]:
    statute = policies().statutes.get("income_tax_prize_withholding")
    assert statute is not None
    whole = FieldPlan(uuid.uuid4(), ENDED, destroy=["email", "phone"], due_at=NOW - timedelta(days=5),
                      retention_days=1825)
    partial = FieldPlan(uuid.uuid4(), ENDED, destroy=["email"], keep=["name"], due_at=NOW - timedelta(days=9),
                        archive=[Archival(statute, ("customer_ref", "rrn"), NOW + timedelta(days=100))])
    held = FieldPlan(uuid.uuid4(), ENDED, destroy=["email"],
                     holds=[Hold(uuid.uuid4(), "restriction", "GDPR 18(1)(c)", ("email",))])
    kept = FieldPlan(uuid.uuid4(), ENDED, keep=["name"],
                     holds=[Hold(uuid.uuid4(), "statute", "kept by law", ("name",))])
    return [whole, partial, held, kept]


def test_the_report_splits_whole_customers_from_those_with_some_fields_due_and_lists_the_holds() -> None:
    whole, partial, held, kept = plans()
    report = build_report([whole, partial, held, kept], "erase", False, NOW)
    assert [(d.customer_id, d.due_at, d.retention_days) for d in report.due] == [
        (whole.customer_id, whole.due_at, 1825)]
    (f,) = report.fields_due
    assert (f.customer_id, f.destroyed, f.archived, f.kept) == (
        partial.customer_id, ("email",), ("customer_ref", "rrn"), ("name",))
    assert [h.kind for h in report.held] == ["restriction", "statute"]
    assert summary(report) == ("1 customers past retention (erase), 1 with some fields past retention, "
                               "1 held (restriction or open request)")
    assert report.to_dict()["due"] == 1 and report.applied == 0


def test_overdue_counts_fields_and_the_oldest_due_date_and_leaves_held_customers_out() -> None:
    overdue = overdue_of(plans(), archive_records=3)
    assert (overdue.customers, overdue.fields, overdue.held, overdue.archive_records) == (2, 5, 1, 3)
    assert overdue.oldest_due_at == NOW - timedelta(days=9)


def test_only_erase_and_pseudonymize_are_modes() -> None:
    check_mode("erase")
    check_mode("pseudonymize")
    with pytest.raises(InvalidInputError):
        check_mode("shred")
