"""What a consent use case acts on: a catalogue purpose, and a customer whose record is active."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Protocol

from vault.consent.errors import UnknownConsentPurposeError
from vault.customers.errors import CustomerNotFoundError

if TYPE_CHECKING:
    from vault.customers.models import CustomerRow
    from vault.policy.purposes import Purpose, PurposeCatalogue


class CustomerSource(Protocol):
    """Reads one customer record (:meth:`vault.consent.repository.ConsentRepository.customer`)."""

    async def customer(self, customer_id: uuid.UUID, *, lock: bool = False) -> CustomerRow | None:
        """The record, locked for this transaction's decisions when ``lock``."""
        ...


def consent_purposes(purposes: PurposeCatalogue) -> list[str]:
    """Ids of the purposes that rest on consent."""
    return [p.id for p in purposes if p.is_consent]


def lookup_purpose(purposes: PurposeCatalogue, purpose_id: str) -> Purpose:
    """A catalogue purpose.

    Raises:
        UnknownConsentPurposeError: listing the consent purposes.
    """
    p = purposes.get(purpose_id)
    if p is None:
        valid = consent_purposes(purposes)
        raise UnknownConsentPurposeError(
            f"unknown purpose {purpose_id!r}; purposes that rest on consent: {', '.join(valid)}",
            purpose=purpose_id, valid=valid)
    return p


async def active_customer(repo: CustomerSource, customer_id: uuid.UUID, *, lock: bool = False) -> CustomerRow:
    """The customer's record, if active (not erased, not closed).

    Raises:
        CustomerNotFoundError.
    """
    row = await repo.customer(customer_id, lock=lock)
    if row is None or row.status != "active" or row.erased_at is not None:
        raise CustomerNotFoundError(f"customer {customer_id} not found")
    return row
