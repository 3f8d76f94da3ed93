"""Retention rules per field and purpose (vault.rights.holds), on the shipped policies: no database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.unit.fakes import policies
from vault.policy.catalogue import FieldCatalogue
from vault.policy.statutes import Cohort
from vault.rights.holds import OPEN_REQUEST, RESTRICTION, STATUTE, CustomerFacts, RetentionRules

NOW = datetime(2031, 1, 1, tzinfo=UTC)
FIELDS = ("customer_ref", "name", "phone", "birth_date", "gender", "address_line")


def rules(**caps: int) -> RetentionRules:
    p = policies()
    cat = FieldCatalogue({f.name: f.model_copy(update={"retention_days": caps.get(f.name, f.retention_days)})
                          for f in p.catalogue.fields()})
    return RetentionRules(p.purposes, cat, p.statutes)


def facts(days_ago: int, **kw: object) -> CustomerFacts:
    return CustomerFacts(uuid.uuid4(), NOW - timedelta(days=days_ago), FIELDS, **kw)  # type: ignore[arg-type]


def test_the_field_catalogue_caps_a_purpose_retention() -> None:
    # service_delivery keeps every field 1825 days; pii.yaml may keep one for less: phone only 200 days here
    plan = rules(phone=200).plan(facts(300), NOW)
    assert plan.destroy == ["phone"] and "name" in plan.keep and not plan.whole
    assert rules().plan(facts(300), NOW).destroy == []


def test_everything_past_every_purpose_is_erased_whole_unless_held() -> None:
    plan = rules().plan(facts(1900), NOW)
    assert plan.whole and sorted(plan.destroy) == sorted(FIELDS)
    held = rules().plan(facts(1900, restricted_at=NOW - timedelta(days=3), open_requests=(uuid.uuid4(),)), NOW)
    assert held.held and not held.acts and not held.whole
    assert {h.kind for h in held.holds} == {RESTRICTION, OPEN_REQUEST}


def test_a_statute_keeps_its_fields_in_the_archive_for_covered_customers_only() -> None:
    winner = CustomerFacts(uuid.uuid4(), NOW - timedelta(days=10), (*FIELDS, "rrn"),
                           cohorts=frozenset({Cohort.PRIZE_WINNERS}))
    plan = rules().plan(winner, NOW)
    (arch,) = plan.archive
    assert arch.fields == ("rrn",) and arch.statute.id == "income_tax_prize_withholding"
    assert arch.until == winner.ended_at + timedelta(days=1825)
    assert [h.kind for h in plan.holds] == [STATUTE]
    stranger = CustomerFacts(uuid.uuid4(), NOW - timedelta(days=10), (*FIELDS, "rrn"))
    assert rules().plan(stranger, NOW).destroy == ["rrn"]  # no statute covers them: nothing keeps it
