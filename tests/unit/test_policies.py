"""The policy files are validated at start-up; a bad file names itself and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from vault.bootstrap import load_policies
from vault.config import PolicySettings, Settings
from vault.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", d)
    return d


def _settings(d: Path) -> Settings:
    return Settings(policy=PolicySettings(directory=d))  # type: ignore[call-arg]


def test_shipped_policies_load() -> None:
    p = load_policies(_settings(ROOT / "policies"))
    assert "email" in p.catalogue.searchable
    assert p.purposes.get("marketing_email") is not None
    assert {"application", "admin", "compliance_officer"} <= p.access.roles


def _edit(path: Path, fn) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(path.read_text())
    fn(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))


def test_bad_field_names_file_and_field(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    _edit(d / "pii.yaml", lambda doc: doc["fields"]["phone"].update(mask="nonsense"))
    with pytest.raises(ConfigurationError, match=r"pii\.yaml: field 'phone'.*unknown mask"):
        load_policies(_settings(d))


def test_unused_field_is_rejected(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    _edit(d / "pii.yaml", lambda doc: doc["fields"].update(
        shoe_size={"type": "string", "class": "demographic", "category": "quasi_identifier", "retention_days": 1}))
    with pytest.raises(ConfigurationError, match=r"shoe_size.*used by no purpose"):
        load_policies(_settings(d))


def test_rrn_needs_statute(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    def widen(doc):  # type: ignore[no-untyped-def]
        doc["purposes"]["marketing_email"]["fields"].append("rrn")
        doc["purposes"]["marketing_email"]["notices"][-1]["items"].append("rrn")  # disclosed, still refused

    _edit(d / "purposes.yaml", widen)
    with pytest.raises(ConfigurationError, match=r"rrn.*statute_ref.*marketing_email"):
        load_policies(_settings(d))


def test_bad_purpose_basis(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    _edit(d / "purposes.yaml", lambda doc: doc["purposes"]["analytics"].update(lawful_basis="vibes"))
    with pytest.raises(ConfigurationError, match=r"purposes\.yaml: purpose 'analytics', field lawful_basis"):
        load_policies(_settings(d))


def test_policy_with_unknown_purpose(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    (d / "policy.csv").write_text((d / "policy.csv").read_text() + "p, sales, customers, *, read, astrology\n")
    with pytest.raises(ConfigurationError, match="astrology"):
        load_policies(_settings(d))
