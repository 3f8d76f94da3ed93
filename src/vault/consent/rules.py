"""Pure consent rules: how a decision changes the state, when a grant lapses, what counts as night.

No I/O here, so the rules are unit-tested without a database (tests/unit/consent/).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import TYPE_CHECKING

from vault.lib.clock import as_utc

if TYPE_CHECKING:
    from vault.policy.purposes import Purpose

# Korea Standard Time has had no daylight saving since 1988: a fixed offset needs no tz database.
KST = timezone(timedelta(hours=9), "KST")
NIGHT_START = time(21, 0)
NIGHT_END = time(8, 0)


class Kind(StrEnum):
    """Consent event kinds (append-only log)."""

    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    RECONFIRMED = "reconfirmed"


class Action(StrEnum):
    """What a caller may ask for."""

    GRANT = "grant"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"
    RECONFIRM = "reconfirm"


class Source(StrEnum):
    """How a decision was collected."""

    WEB_FORM = "web_form"
    APP = "app"
    CALL_CENTRE = "call_centre"
    PAPER = "paper"
    IMPORT = "import"
    SYSTEM = "system"


COLLECTION_SOURCES = tuple(s.value for s in Source if s is not Source.SYSTEM and s is not Source.IMPORT)


#: State of an imported grant without its date and notice version: not a current consent until the
#: customer grants or reconfirms it (GDPR 7(1), PIPA 22: the controller must be able to prove consent).
UNVERIFIED = "unverified"


class Reason(StrEnum):
    """Why a customer has no current consent."""

    NEVER_GRANTED = "never_granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    UNVERIFIED = "unverified"


REASON_TEXT = {
    Reason.NEVER_GRANTED: "consent was never granted",
    Reason.REFUSED: "consent was refused",
    Reason.WITHDRAWN: "consent was withdrawn",
    Reason.EXPIRED: "consent expired (not reconfirmed within the reconfirmation interval)",
    Reason.UNVERIFIED: "imported consent without date and notice version, not yet reconfirmed",
}


@dataclass(frozen=True, slots=True)
class State:
    """The current decision for one customer x purpose x channel."""

    status: str  # granted | refused | withdrawn | expired
    granted_at: datetime | None
    updated_at: datetime
    notice_version: str | None = None
    notice_hash: str | None = None


def expires_at(purpose: Purpose, granted_at: datetime | None) -> datetime | None:
    """When a grant made at ``granted_at`` lapses (None: it does not lapse)."""
    if granted_at is None or purpose.reconfirm_days is None:
        return None
    return as_utc(granted_at) + timedelta(days=purpose.reconfirm_days)


def grant_cutoff(purpose: Purpose, at: datetime) -> datetime | None:
    """Grants at or before this instant have lapsed at ``at`` (None: grants never lapse)."""
    if purpose.reconfirm_days is None:
        return None
    return as_utc(at) - timedelta(days=purpose.reconfirm_days)


def is_effective(purpose: Purpose, state: State | None, at: datetime) -> bool:
    """Whether ``state`` is a current consent at ``at``."""
    if state is None or state.status != Kind.GRANTED:
        return False
    until = expires_at(purpose, state.granted_at)
    return until is None or until > as_utc(at)


def why_not(purpose: Purpose, state: State | None, at: datetime) -> Reason | None:
    """Why ``state`` is not a current consent at ``at`` (None when it is)."""
    if state is None:
        return Reason.NEVER_GRANTED
    if state.status == Kind.GRANTED:
        return None if is_effective(purpose, state, at) else Reason.EXPIRED
    return {"refused": Reason.REFUSED, "withdrawn": Reason.WITHDRAWN, "expired": Reason.EXPIRED,
            UNVERIFIED: Reason.UNVERIFIED}.get(state.status, Reason.NEVER_GRANTED)


def event_kind(purpose: Purpose, action: Action, current: State | None, at: datetime) -> Kind | None:
    """The event an action records, given the current state; None when a reconfirmation has nothing to renew.

    A grant while a grant is current renews it (``reconfirmed``). Withdrawing what was never
    granted is recorded as a withdrawal (harmless: the state simply says withdrawn).
    """
    if action is Action.GRANT:
        return Kind.RECONFIRMED if is_effective(purpose, current, at) else Kind.GRANTED
    if action is Action.RECONFIRM:
        unverified = current is not None and current.status == UNVERIFIED
        return Kind.RECONFIRMED if unverified or is_effective(purpose, current, at) else None
    if action is Action.REFUSE:
        return Kind.REFUSED
    return Kind.WITHDRAWN


def apply(current: State | None, kind: Kind, at: datetime, notice_version: str | None,
          notice_hash: str | None) -> State:
    """The state after recording ``kind`` at ``at``."""
    at = as_utc(at)
    if kind in (Kind.GRANTED, Kind.RECONFIRMED):
        return State(Kind.GRANTED.value, at, at, notice_version, notice_hash)
    keep_notice = current is not None and kind is Kind.EXPIRED
    return State(kind.value, current.granted_at if current else None, at,
                 current.notice_version if keep_notice and current else notice_version,
                 current.notice_hash if keep_notice and current else notice_hash)


def is_night(at: datetime) -> bool:
    """Whether ``at`` falls in 21:00-08:00 Korea time (ICN Act Art. 50(3) night-time advertising)."""
    local = as_utc(at).astimezone(KST).time()
    return local >= NIGHT_START or local < NIGHT_END


def utc(value: datetime) -> datetime:
    """An aware UTC datetime (naive values are taken as UTC)."""
    return as_utc(value).astimezone(UTC)
