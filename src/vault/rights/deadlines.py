"""When a data subject request is due: pure date rules, unit-tested without a database.

- GDPR Art. 12(3): "without undue delay and in any event within one month of receipt";
  extendable by two further months where necessary (the subject is told within the first month).
- PIPA (Korea) Enforcement Decree Art. 41(4), 44, 46, 47: within 10 days of receipt.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from enum import StrEnum

from vault.lib.clock import as_utc


class Jurisdiction(StrEnum):
    """Which law's deadline applies."""

    GDPR = "gdpr"
    PIPA = "pipa"


class RequestKind(StrEnum):
    """Data subject rights."""

    ACCESS = "access"
    PORTABILITY = "portability"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"


class RequestStatus(StrEnum):
    """Life of a request; ``completed`` and ``rejected`` are final."""

    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"


OPEN = (RequestStatus.RECEIVED.value, RequestStatus.IN_PROGRESS.value)
PIPA_DAYS = 10
GDPR_EXTENSION_MONTHS = 2


def add_months(at: datetime, months: int) -> datetime:
    """The same day ``months`` later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def due_date(jurisdiction: Jurisdiction, received_at: datetime, *, extended: bool = False) -> datetime:
    """The deadline of a request received at ``received_at``."""
    received = as_utc(received_at)
    if jurisdiction is Jurisdiction.PIPA:
        return received + timedelta(days=PIPA_DAYS)
    return add_months(received, 1 + (GDPR_EXTENSION_MONTHS if extended else 0))


class ExtensionReason(StrEnum):
    """Why a GDPR deadline is extended: Art. 12(3) allows it only for these."""

    COMPLEXITY = "complexity"
    NUMBER_OF_REQUESTS = "number_of_requests"


def extension_refusal(jurisdiction: str, received_at: datetime, now: datetime, *, extended: bool,
                      reason: str | None) -> str | None:
    """Why a deadline may not be extended now, or None when it may (GDPR Art. 12(3)).

    Only a GDPR deadline, only once, only with a reason (complexity or number of requests), and
    only within the first month after receipt (the subject must be told within that month).
    """
    if jurisdiction != Jurisdiction.GDPR:
        return "only a GDPR deadline can be extended (Art. 12(3)); PIPA allows no extension"
    if extended:
        return "the deadline was already extended; Art. 12(3) allows one extension"
    if reason not in list(ExtensionReason):
        return f"an extension needs a reason: {' or '.join(ExtensionReason)} (Art. 12(3))"
    if as_utc(now) >= add_months(as_utc(received_at), 1):
        return "an extension must be decided and told to the subject within one month of receipt (Art. 12(3))"
    return None


def is_overdue(status: str, due_at: datetime, now: datetime) -> bool:
    """An open request past its deadline."""
    return status in OPEN and as_utc(due_at) < as_utc(now)
