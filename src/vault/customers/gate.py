"""Restriction and objection: who may still process a customer, as a pure rule and as SQL.

The guard (:class:`vault.access.guard.Guard`) applies :func:`restriction_error` to every
read or change of one customer; contact resolution and extracts AND :func:`contactable_clause`
into their SQL.

- **Restriction** (GDPR Art. 18, PIPA Art. 37): the data is kept, but every read is denied
  except by a compliance officer handling legal claims (purpose ``legal_claims``); the
  customer drops out of every contact resolution.
- **Objection to direct marketing** (GDPR Art. 21(2)-(3), PIPA Art. 37): absolute; the
  customer drops out of every direct-marketing purpose at once, whatever consents say.

A purpose is *direct marketing* when it rests on consent and reaches the customer on a
contact channel (``marketing_email``, ``marketing_sms``, ``marketing_push``,
``night_advertising`` in the shipped catalogue).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_

from vault.customers.errors import CustomerObjectedError, CustomerRestrictedError
from vault.customers.models import CustomerRow
from vault.lib.clock import as_utc

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from vault.access.guard import CustomerState
    from vault.errors import AccessDeniedError
    from vault.policy.purposes import Purpose

LEGAL_CLAIMS = "legal_claims"
# Roles that handle legal claims; the CLI operator (shell access to the key file) is one of them.
LEGAL_HANDLERS = frozenset({"compliance_officer", "operator"})


def is_direct_marketing(purpose: Purpose) -> bool:
    """Whether ``purpose`` is direct marketing (consent-based, sent on a contact channel)."""
    return purpose.is_consent and bool(purpose.channels)


def processing_block(row: CustomerState, purpose: Purpose, role: str) -> tuple[str, str] | None:
    """Why ``role`` may not process this customer for ``purpose``: (code, explanation), or None.

    The code is ``restricted`` or ``objected``; the explanation names the legal ground and the
    date, never personal data.
    """
    if row.restricted_at is not None and not (purpose.id == LEGAL_CLAIMS and role in LEGAL_HANDLERS):
        since = as_utc(row.restricted_at).date().isoformat()
        request = f" under request {row.restriction_request_id}" if row.restriction_request_id else ""
        return "restricted", (
            f"processing of customer {row.id} is restricted since {since}{request} (GDPR Art. 18, PIPA Art. 37): "
            "the data is only stored; only a compliance officer handling legal claims (purpose 'legal_claims') "
            "may read it")
    if row.objected_marketing_at is not None and is_direct_marketing(purpose):
        since = as_utc(row.objected_marketing_at).date().isoformat()
        return "objected", (
            f"customer {row.id} objected to direct marketing on {since} (GDPR Art. 21(3), PIPA Art. 37): "
            f"no processing for purpose {purpose.id!r}, whatever consent was given")
    return None


def restriction_error(row: CustomerState, purpose: Purpose, role: str) -> AccessDeniedError | None:
    """The error to deny with when ``role`` may not process this customer for ``purpose`` (the guard's port).

    :class:`vault.access.guard.Guard` calls it (wired by the composition root) and audits the denial.
    """
    block = processing_block(row, purpose, role)
    if block is None:
        return None
    code, why = block
    error = CustomerRestrictedError if code == "restricted" else CustomerObjectedError
    return error(why, customer_id=str(row.id), purpose=purpose.id)


def contactable_clause(purpose: Purpose | None = None) -> ColumnElement[bool]:
    """SQL over ``customers``: not restricted and, for a direct-marketing purpose, not objected.

    ``vault.consent.contacts.contactable_clause`` ANDs this into contact resolution.
    """
    clause: ColumnElement[bool] = CustomerRow.restricted_at.is_(None)
    if purpose is not None and is_direct_marketing(purpose):
        clause = and_(clause, CustomerRow.objected_marketing_at.is_(None))
    return clause
