"""Packed audit subject lists, and the consent parts of the purpose catalogue validation."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import yaml

from vault.audit.entry import subjects_digest
from vault.audit.subjects import SubjectList
from vault.errors import ConfigurationError
from vault.policy.purposes import load_purposes

ROOT = Path(__file__).resolve().parents[3]


def test_subject_list_digest_matches_audit_digest() -> None:
    ids = sorted(uuid.uuid4() for _ in range(1234))
    subjects = SubjectList()
    for cid in ids:
        subjects.append(cid)
    assert len(subjects) == 1234
    assert subjects.digest() == subjects_digest(ids)
    assert list(subjects) == ids
    assert [c for chunk in subjects.chunks(500) for c in chunk] == ids
    assert ids[700] in subjects and uuid.uuid4() not in subjects
    assert subjects.last == ids[-1]
    with pytest.raises(ValueError, match="ascending"):
        subjects.append(ids[0])


def _catalogue_with(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "purposes.yaml"
    shutil.copy(ROOT / "policies" / "purposes.yaml", path)
    doc = yaml.safe_load(path.read_text())
    edit(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def test_shipped_catalogue_has_notice_history_and_night_opt_in() -> None:
    cat = load_purposes(ROOT / "policies" / "purposes.yaml")
    email = cat.get("marketing_email")
    sms = cat.get("marketing_sms")
    assert email is not None and sms is not None
    assert [n.version for n in email.notices] == ["2025-03", "2026-01", "2026-11"]
    assert email.notice("2025-03") is not None and email.notice("2025-03").text_hash != email.current_notice.text_hash  # type: ignore[union-attr]
    assert sms.night_opt_in_purpose == "night_advertising" and email.reconfirm_days == 730
    assert cat.controller.name and "night_advertising" in cat.supplements


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["purposes"]["marketing_sms"].pop("night_opt_in_purpose"), "night_opt_in_required"),
    (lambda d: d["purposes"]["marketing_sms"].update(night_opt_in_purpose="service_delivery"), "not a consent"),
    (lambda d: d["purposes"]["marketing_email"].update(fields=["customer_ref", "name"]), "channel email needs"),
    (lambda d: d["purposes"]["service_delivery"].update(reconfirm_days=30), "consent-based purposes only"),
    (lambda d: d.update(surprise=1), "unknown top-level keys"),
    (lambda d: d["controller"].pop("name"), "controller, field name"),
    (lambda d: d["purposes"]["marketing_email"]["notices"].append(d["purposes"]["marketing_email"]["notices"][0]),
     "unique"),
])
def test_bad_consent_configuration_is_refused(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match=message):
        load_purposes(_catalogue_with(tmp_path, edit))
