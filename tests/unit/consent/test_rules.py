"""Pure consent rules: state transitions, the 2-year lapse, Korean night hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vault.consent.rules import (
    Action,
    Kind,
    Reason,
    State,
    apply,
    event_kind,
    expires_at,
    is_effective,
    is_night,
    why_not,
)
from vault.policy.purposes import load_purposes

ROOT = Path(__file__).resolve().parents[3]
PURPOSES = load_purposes(ROOT / "policies" / "purposes.yaml")
EMAIL = PURPOSES.get("marketing_email")
ANALYTICS = PURPOSES.get("analytics")
T0 = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
assert EMAIL is not None and ANALYTICS is not None


@pytest.mark.parametrize(("utc_hhmm", "night"), [
    ("11:59", False),  # 20:59 KST
    ("12:00", True),   # 21:00 KST: night starts
    ("15:00", True),   # 00:00 KST
    ("22:59", True),   # 07:59 KST
    ("23:00", False),  # 08:00 KST: day again
    ("03:00", False),  # 12:00 KST
])
def test_night_is_21_to_08_korea_time(utc_hhmm: str, night: bool) -> None:
    hh, mm = map(int, utc_hhmm.split(":"))
    assert is_night(datetime(2026, 6, 1, hh, mm, tzinfo=UTC)) is night


def test_marketing_grant_lapses_after_two_years() -> None:
    granted = apply(None, Kind.GRANTED, T0, "2026-01", "h")
    assert expires_at(EMAIL, granted.granted_at) == T0 + timedelta(days=730)
    assert is_effective(EMAIL, granted, T0 + timedelta(days=729, hours=23))
    assert not is_effective(EMAIL, granted, T0 + timedelta(days=730))
    assert why_not(EMAIL, granted, T0 + timedelta(days=731)) is Reason.EXPIRED
    # a purpose without a reconfirmation interval does not lapse
    assert is_effective(ANALYTICS, granted, T0 + timedelta(days=3650))


def test_grant_on_current_grant_is_a_reconfirmation_that_renews_it() -> None:
    granted = apply(None, Kind.GRANTED, T0, "2026-01", "h")
    later = T0 + timedelta(days=700)
    assert event_kind(EMAIL, Action.GRANT, granted, later) is Kind.RECONFIRMED
    renewed = apply(granted, Kind.RECONFIRMED, later, "2026-01", "h")
    assert is_effective(EMAIL, renewed, T0 + timedelta(days=800))


def test_reconfirm_needs_a_current_grant() -> None:
    assert event_kind(EMAIL, Action.RECONFIRM, None, T0) is None
    lapsed = apply(None, Kind.GRANTED, T0, "2026-01", "h")
    assert event_kind(EMAIL, Action.RECONFIRM, lapsed, T0 + timedelta(days=800)) is None
    assert event_kind(EMAIL, Action.GRANT, lapsed, T0 + timedelta(days=800)) is Kind.GRANTED


def test_withdrawing_what_was_never_granted_is_recorded_and_harmless() -> None:
    assert event_kind(EMAIL, Action.WITHDRAW, None, T0) is Kind.WITHDRAWN
    state = apply(None, Kind.WITHDRAWN, T0, "2026-01", "h")
    assert state.status == "withdrawn" and state.granted_at is None
    assert why_not(EMAIL, state, T0) is Reason.WITHDRAWN


@pytest.mark.parametrize(("state", "reason"), [
    (None, Reason.NEVER_GRANTED),
    (State("refused", None, T0), Reason.REFUSED),
    (State("withdrawn", T0, T0), Reason.WITHDRAWN),
    (State("expired", T0, T0), Reason.EXPIRED),
    (State("granted", T0, T0), None),
])
def test_reasons(state: State | None, reason: Reason | None) -> None:
    assert why_not(EMAIL, state, T0 + timedelta(days=1)) is reason


def test_expiry_keeps_the_notice_of_the_lapsed_grant() -> None:
    granted = apply(None, Kind.GRANTED, T0, "2025-03", "old-hash")
    expired = apply(granted, Kind.EXPIRED, T0 + timedelta(days=730), None, None)
    assert (expired.status, expired.notice_version, expired.notice_hash) == ("expired", "2025-03", "old-hash")
