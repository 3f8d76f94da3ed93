"""Issue 12 §2: consent the controller can prove: the notice version is required, and a minimum
accepted notice version per purpose makes older grants stop counting (re-consent)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.test_consent import DAY, decide, new_customer
from vault.bootstrap import Vault
from vault.consent.errors import NoticeVersionRequiredError
from vault.consent.ledger import SqlConsentLedger
from vault.consent.service import ConsentChoice


async def test_grant_and_reconfirm_must_name_the_notice_version(vault: Vault) -> None:
    cid = await new_customer(vault)
    for action in ("grant", "reconfirm"):
        with pytest.raises(NoticeVersionRequiredError) as err:
            await decide(vault, cid, DAY, ConsentChoice("marketing_email", action))
        assert err.value.extra["field"] == "notice_version"
        assert err.value.extra["valid"] == ["2025-03", "2026-01", "2026-11"]
    # withdrawal and refusal stay as easy as before: no notice needed
    await decide(vault, cid, DAY, ConsentChoice("marketing_email", "withdraw"))


async def test_minimum_notice_version_forces_re_consent(vault: Vault) -> None:
    old, new = await new_customer(vault), await new_customer(vault)
    await decide(vault, old, DAY, ConsentChoice("marketing_email", "grant", notice_version="2025-03"))
    await decide(vault, new, DAY, ConsentChoice("marketing_email", "grant", notice_version="2026-01"))
    shipped = vault.policies.purposes.get("marketing_email")
    assert shipped is not None
    raised = shipped.model_copy(update={"min_notice_version": "2026-01"})
    assert raised.accepted_versions == ("2026-01", "2026-11")
    assert shipped.accepted_versions == ("2025-03", "2026-01", "2026-11")
    ledger = SqlConsentLedger(clock=lambda: datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC))
    async with vault.db.read() as session:
        assert await ledger.consenting(session, [old, new], shipped) == {old, new}
        assert await ledger.consenting(session, [old, new], raised) == {new}


def test_min_notice_version_must_be_a_published_notice() -> None:
    from pydantic import ValidationError

    from vault.policy.purposes import Purpose

    doc = {"id": "x", "title": {"ko": "가", "en": "x"}, "lawful_basis": "contract", "fields": ["email"],
           "retention_days": 1, "notices": [{"version": "1", "text": {"ko": "가", "en": "x"}}]}
    assert Purpose.model_validate({**doc, "min_notice_version": "1"}).accepted_versions == ("1",)
    with pytest.raises(ValidationError, match="min_notice_version"):
        Purpose.model_validate({**doc, "min_notice_version": "0"})


def test_disclosure_hash_covers_items_retention_recipient_and_refusal() -> None:
    from vault.policy.purposes import Notice

    base = {"version": "v", "text": {"ko": "가", "en": "x"}, "items": ["email"], "retention_days": 30,
            "refusal": {"ko": "거부", "en": "refuse"}}
    h = Notice.model_validate(base).disclosure_hash("p")
    wider = Notice.model_validate({**base, "items": ["email", "phone"]})
    assert Notice.model_validate(base).text_hash == wider.text_hash  # the old hash missed a widening
    for change in ({"items": ["email", "phone"]}, {"retention_days": 31}, {"recipient": "X Co."},
                   {"country": "SG"}, {"transfer_method": "TLS"}, {"refusal": {"ko": "거부", "en": "no"}}):
        assert Notice.model_validate({**base, **change}).disclosure_hash("p") != h, change
    assert Notice.model_validate(base).disclosure_hash("other") != h


@pytest.mark.parametrize(("edit", "message"), [
    (lambda p: p["fields"].append("phone"), "must list the purpose's fields"),
    (lambda p: p.update(retention_days=1000), "retention period"),
    (lambda p: p["notices"][-1].pop("refusal"), "right to refuse"),
])
def test_current_notice_must_disclose_everything(tmp_path, edit, message) -> None:  # type: ignore[no-untyped-def]
    from tests.unit.test_policies import _copy, _edit, _settings
    from vault.bootstrap import load_policies
    from vault.errors import ConfigurationError

    d = _copy(tmp_path)
    _edit(d / "purposes.yaml", lambda doc: edit(doc["purposes"]["marketing_email"]))
    with pytest.raises(ConfigurationError, match=message):
        load_policies(_settings(d))


async def test_start_up_refuses_when_a_published_notice_changed(settings, vault: Vault, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.unit.test_policies import _copy, _edit
    from vault.bootstrap import open_vault
    from vault.config import PolicySettings
    from vault.consent.notices import NoticeChangedError

    del vault  # opened once with the shipped policies: every version is recorded
    d = _copy(tmp_path)
    local = settings.model_copy(update={"policy": PolicySettings(directory=d)})
    _edit(d / "purposes.yaml", lambda doc: doc["purposes"]["marketing_email"]["notices"][1]["text"].update(
        en="We email you offers, events and partner deals. You can withdraw at any time."))
    with pytest.raises(NoticeChangedError, match="marketing_email@2026-01"):
        await open_vault(local)
    # publishing the change as a new version is fine
    d2 = _copy(tmp_path / "second")
    def add_version(doc):  # type: ignore[no-untyped-def]
        notices = doc["purposes"]["marketing_email"]["notices"]
        notices.append({**notices[-1], "version": "2027-01"})
    _edit(d2 / "purposes.yaml", add_version)
    v = await open_vault(settings.model_copy(update={"policy": PolicySettings(directory=d2)}))
    await v.close()


async def test_imported_consent_is_proved_by_date_and_notice_or_stays_unverified(vault: Vault, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import csv
    import uuid

    from sqlalchemy import select

    from tests.integration.test_consent import OP
    from vault.consent.models import ConsentStateRow
    from vault.customers.importer import CONSENT_PROOF_COLUMNS, HEADER

    refs = [f"pc-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    path = tmp_path / "c.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*HEADER, *CONSENT_PROOF_COLUMNS])
        blank = [""] * 10
        w.writerow([refs[0], *blank, "y", "", "", "", "2025-06-01", "2026-01"])   # proved
        w.writerow([refs[1], *blank, "y", "", "", "", "", ""])                     # flag only
        w.writerow([refs[2], *blank, "y", "", "", "", "2025-06-01", "1999-01"])   # unknown notice
    report = await vault.importer().run(path, OP, keep_ids=True)
    assert report.created == 3, report.errors
    proved, bare, unknown = report.created_ids
    email = vault.policies.purposes.get("marketing_email")
    assert email is not None
    async with vault.db.read() as session:
        states = {s.customer_id: s for s in (await session.scalars(select(ConsentStateRow).where(
            ConsentStateRow.purpose == "marketing_email",
            ConsentStateRow.customer_id.in_([proved, bare, unknown])))).all()}
        ledger = SqlConsentLedger()
        current = await ledger.consenting(session, [proved, bare, unknown], email)
        why = await ledger.explain(session, bare, email)
    p = states[proved]
    assert p.status == "granted" and p.notice_version == "2026-01"
    assert p.granted_at is not None and p.granted_at.date().isoformat() == "2025-06-01"  # the 2-year clock
    assert p.notice_hash == email.notice("2026-01").disclosure_hash("marketing_email")  # type: ignore[union-attr]
    assert states[bare].status == "unverified" and states[unknown].status == "unverified"
    assert current == {proved} and why == "unverified"
    # the customer reconfirms through the application: now usable
    await decide(vault, bare, datetime.now(UTC),
                 ConsentChoice("marketing_email", "reconfirm", notice_version="2026-11"))
    async with vault.db.read() as session:
        assert await SqlConsentLedger().consenting(session, [bare], email) == {bare}


async def test_import_rejects_a_bad_consent_date(vault: Vault, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import csv
    import uuid

    from tests.integration.test_consent import OP
    from vault.customers.importer import CONSENT_PROOF_COLUMNS, HEADER

    path = tmp_path / "bad.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*HEADER, *CONSENT_PROOF_COLUMNS])
        w.writerow([f"pc-{uuid.uuid4().hex[:8]}", *[""] * 10, "y", "", "", "", "last spring", "2026-01"])
    report = await vault.importer().run(path, OP)
    assert report.created == 0 and [(e.line, e.field) for e in report.errors] == [(2, "consent_date")]
