"""Issue 12 §1: the structured statute registry (policies/statutes.yaml) is validated at start-up."""

from __future__ import annotations

import pytest

from tests.unit.test_policies import ROOT, _copy, _edit, _settings
from vault.bootstrap import load_policies
from vault.errors import ConfigurationError
from vault.policy.statutes import Cohort, StatuteAction


def test_shipped_registry_loads_and_binds_the_statute_purposes() -> None:
    p = load_policies(_settings(ROOT / "policies"))
    tax = p.statutes.get(p.purposes.get("tax_reporting").statute)  # type: ignore[union-attr]
    assert tax is not None and tax.covers is Cohort.PRIZE_WINNERS
    assert tax.permits(StatuteAction.COLLECT, "rrn") and tax.retention_days == 1825
    claims = p.statutes.get(p.purposes.get("legal_claims").statute)  # type: ignore[union-attr]
    assert claims is not None and not claims.permits(StatuteAction.COLLECT, "rrn")


def test_rrn_has_left_legal_claims() -> None:
    p = load_policies(_settings(ROOT / "policies"))
    assert "rrn" not in p.purposes.get("legal_claims").fields  # type: ignore[union-attr]
    assert [q.id for q in p.purposes if "rrn" in q.fields] == ["tax_reporting"]


def test_rrn_under_a_statute_that_does_not_permit_collecting_it_stops_start_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = _copy(tmp_path)
    _edit(d / "purposes.yaml", lambda doc: doc["purposes"]["legal_claims"]["fields"].append("rrn"))
    with pytest.raises(ConfigurationError, match=r"purpose 'legal_claims' uses 'rrn'.*data_subject_rights_and_claims"):
        load_policies(_settings(d))


def test_a_bare_statute_ref_string_is_not_enough(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = _copy(tmp_path)
    _edit(d / "purposes.yaml", lambda doc: doc["purposes"]["tax_reporting"].pop("statute"))
    with pytest.raises(ConfigurationError, match=r"purpose 'tax_reporting' rests on a legal obligation but names no"):
        load_policies(_settings(d))


@pytest.mark.parametrize(("edit", "message"), [
    (lambda doc: doc["statutes"]["income_tax_prize_withholding"].update(covers="everyone"), "covers"),
    (lambda doc: doc["statutes"]["income_tax_prize_withholding"].update(actions=["steal"]), "actions"),
    (lambda doc: doc["statutes"]["income_tax_prize_withholding"]["fields"].append("shoe_size"), "unknown fields"),
    (lambda doc: doc["statutes"]["income_tax_prize_withholding"].pop("citation"), "citation"),
    (lambda doc: doc["statutes"].pop("income_tax_prize_withholding"), "unknown statute"),
])
def test_bad_registry_entries_stop_start_up(tmp_path, edit, message) -> None:  # type: ignore[no-untyped-def]
    d = _copy(tmp_path)
    _edit(d / "statutes.yaml", edit)
    with pytest.raises(ConfigurationError, match=message):
        load_policies(_settings(d))
