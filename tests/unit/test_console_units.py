"""Console pieces without a database: anomaly flags, month arithmetic, language choice, CSV safety, TOTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from vault.audit.stats import PrincipalMonth, month_bounds, off_hours, previous_months
from vault.consent.stats import last_months
from vault.crypto.totp import new_totp_secret, totp_code, totp_verify
from vault.errors import InvalidInputError
from vault.web.i18n import MESSAGES, pick_language
from vault.web.pages.audit import Filters, _csv_safe


def pm(**kw: object) -> PrincipalMonth:
    p = PrincipalMonth(uuid.uuid4(), "x", "crm_agent")
    for k, v in kw.items():
        setattr(p, k, v)
    return p


@pytest.mark.parametrize(("kw", "flags"), [
    ({"reads": 600, "usual_reads": 50.0}, ["volume_spike"]),
    ({"reads": 400, "usual_reads": 50.0}, []),                 # 8x: not yet
    ({"reads": 40, "usual_reads": 1.0}, []),                   # below the minimum volume
    ({"reads": 600, "usual_reads": None}, []),                 # no history: no baseline
    ({"reads": 5, "off_hours_reads": 1}, ["night_reads"]),
    ({"restricted_touches": 2}, ["restricted"]),
    ({"denials": 10}, ["denials"]),
])
def test_anomaly_flags(kw: dict[str, object], flags: list[str]) -> None:
    assert pm(**kw).flags == flags


def test_months_are_korean_calendar_months() -> None:
    start, end = month_bounds("2026-01")
    assert start == datetime(2025, 12, 31, 15, tzinfo=UTC) and end == datetime(2026, 1, 31, 15, tzinfo=UTC)
    assert previous_months("2026-02", 3) == ["2026-01", "2025-12", "2025-11"]
    assert last_months(datetime(2026, 1, 31, 16, tzinfo=UTC), 3) == ["2025-12", "2026-01", "2026-02"]  # 01:00 KST
    with pytest.raises(ValueError, match="does not match"):
        month_bounds("2026-13-01")


def test_off_hours_wrap_midnight() -> None:
    assert off_hours(21, 8) == frozenset({21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7})
    assert off_hours(0, 6) == frozenset(range(6))


def test_language_choice_and_complete_korean_texts() -> None:
    assert pick_language("ko", "en-US") == "ko"
    assert pick_language(None, "ko-KR,ko;q=0.9,en;q=0.8") == "ko"
    assert pick_language("fr", "fr-FR") == "en"
    assert set(MESSAGES["ko"]) == set(MESSAGES["en"]), "every English text has a Korean one"


def test_csv_cells_never_start_a_formula() -> None:
    assert _csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _csv_safe("-1") == "'-1" and _csv_safe(None) == ""
    assert _csv_safe("customer.read") == "customer.read"


def test_audit_filters_parse_and_reject() -> None:
    flt = Filters.parse({"action": " customer.read ", "since": "2026-11-01", "until": "2026-11-01"}).to_filter()
    assert flt.action == "customer.read" and flt.since is not None and flt.until is not None
    assert (flt.until - flt.since).days == 1  # ``until`` is inclusive of that Korean day
    for bad in ({"customer": "nope"}, {"since": "01/11/2026"}, {"outcome": "maybe"}):
        with pytest.raises(InvalidInputError):
            Filters.parse(bad).to_filter()


def test_totp_rfc6238_window() -> None:
    secret = new_totp_secret()
    now = datetime(2026, 11, 25, 12, 0, 10, tzinfo=UTC)
    step = int(now.timestamp()) // 30
    assert totp_verify(secret, totp_code(secret, now), now) == step
    assert totp_verify(secret, totp_code(secret, datetime.fromtimestamp((step + 1) * 30, UTC)), now) == step + 1
    assert totp_verify(secret, totp_code(secret, datetime.fromtimestamp((step + 3) * 30, UTC)), now) is None
    assert totp_verify(secret, "12ab56", now) is None
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits), so 287082 with 6.
    assert totp_code(b"12345678901234567890", datetime.fromtimestamp(59, UTC)) == "287082"
