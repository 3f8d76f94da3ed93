"""Due dates of data subject requests (GDPR one month, extendable by two; PIPA 10 days)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vault.rights.deadlines import Jurisdiction, add_months, due_date, is_overdue


@pytest.mark.parametrize(("received", "months", "want"), [
    (datetime(2026, 1, 15, 9, tzinfo=UTC), 1, datetime(2026, 2, 15, 9, tzinfo=UTC)),
    (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
    (datetime(2028, 1, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),
    (datetime(2026, 12, 10, tzinfo=UTC), 1, datetime(2027, 1, 10, tzinfo=UTC)),
    (datetime(2026, 11, 30, tzinfo=UTC), 3, datetime(2027, 2, 28, tzinfo=UTC)),
])
def test_add_months_clamps_to_month_end(received: datetime, months: int, want: datetime) -> None:
    assert add_months(received, months) == want


def test_gdpr_one_month_extendable_by_two() -> None:
    received = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert due_date(Jurisdiction.GDPR, received) == datetime(2026, 4, 30, 12, tzinfo=UTC)
    assert due_date(Jurisdiction.GDPR, received, extended=True) == datetime(2026, 6, 30, 12, tzinfo=UTC)


def test_pipa_ten_days() -> None:
    received = datetime(2026, 2, 25, tzinfo=UTC)
    assert due_date(Jurisdiction.PIPA, received) == datetime(2026, 3, 7, tzinfo=UTC)


def test_naive_dates_are_utc() -> None:
    assert due_date(Jurisdiction.PIPA, datetime(2026, 1, 1)).tzinfo is not None


def test_overdue_only_while_open() -> None:
    due, now = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    assert is_overdue("received", due, now)
    assert is_overdue("in_progress", due, now)
    assert not is_overdue("completed", due, now)
    assert not is_overdue("rejected", due, now)
    assert not is_overdue("received", now, due)
