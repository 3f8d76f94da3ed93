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
        assert err.value.extra["field"] == "notice_version" and err.value.extra["valid"] == ["2025-03", "2026-01"]
    # withdrawal and refusal stay as easy as before: no notice needed
    await decide(vault, cid, DAY, ConsentChoice("marketing_email", "withdraw"))


async def test_minimum_notice_version_forces_re_consent(vault: Vault) -> None:
    old, new = await new_customer(vault), await new_customer(vault)
    await decide(vault, old, DAY, ConsentChoice("marketing_email", "grant", notice_version="2025-03"))
    await decide(vault, new, DAY, ConsentChoice("marketing_email", "grant", notice_version="2026-01"))
    shipped = vault.policies.purposes.get("marketing_email")
    assert shipped is not None
    raised = shipped.model_copy(update={"min_notice_version": "2026-01"})
    assert raised.accepted_versions == ("2026-01",) and shipped.accepted_versions == ("2025-03", "2026-01")
    ledger = SqlConsentLedger(clock=lambda: datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC))
    async with vault.db.read() as session:
        assert await ledger.consenting(session, [old, new], shipped) == {old, new}
        assert await ledger.consenting(session, [old, new], raised) == {new}


def test_min_notice_version_must_be_a_published_notice() -> None:
    from pydantic import ValidationError

    from vault.consent.purposes import Purpose

    doc = {"id": "x", "title": {"ko": "가", "en": "x"}, "lawful_basis": "consent", "fields": ["email"],
           "retention_days": 1, "notices": [{"version": "1", "text": {"ko": "가", "en": "x"}}]}
    assert Purpose.model_validate({**doc, "min_notice_version": "1"}).accepted_versions == ("1",)
    with pytest.raises(ValidationError, match="min_notice_version"):
        Purpose.model_validate({**doc, "min_notice_version": "0"})
