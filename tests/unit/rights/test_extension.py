"""GDPR Art. 12(3): an extension only within the first month after receipt, once, with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vault.rights.deadlines import extension_refusal

RECEIVED = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("jurisdiction", "now", "extended", "reason", "refused"), [
    ("gdpr", RECEIVED + timedelta(days=10), False, "complexity", None),
    ("gdpr", RECEIVED + timedelta(days=27), False, "number_of_requests", None),  # 28 Feb is one month after 31 Jan
    ("gdpr", datetime(2026, 2, 28, 10, 0, tzinfo=UTC), False, "complexity", "within one month"),
    ("gdpr", RECEIVED + timedelta(days=60), False, "complexity", "within one month"),
    ("gdpr", RECEIVED + timedelta(days=1), False, None, "needs a reason"),
    ("gdpr", RECEIVED + timedelta(days=1), False, "too busy", "needs a reason"),
    ("gdpr", RECEIVED + timedelta(days=1), True, "complexity", "already extended"),
    ("pipa", RECEIVED + timedelta(days=1), False, "complexity", "PIPA allows no extension"),
])
def test_extension_rules(jurisdiction: str, now: datetime, extended: bool, reason: str | None,
                         refused: str | None) -> None:
    why = extension_refusal(jurisdiction, RECEIVED, now, extended=extended, reason=reason)
    if refused is None:
        assert why is None
    else:
        assert why is not None and refused in why
