"""Per-customer lawful-basis check: the place where consent plugs into access.

Access to a customer's data for a purpose needs (1) the role allowed that
purpose (:class:`AccessPolicy`) and (2) a lawful basis for *this* customer now.
Purposes founded on contract, legal obligation or legitimate interest carry
their basis in the catalogue. Purposes founded on consent need a current
consent, which a :class:`ConsentLedger` answers; the consent package provides
the real ledger. Without one, :class:`NoConsentLedger` records no consents, so
consent-based reads are denied (no purpose, no data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from vault.access.errors import NoLawfulBasisError
from vault.policy.purposes import LawfulBasis

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.policy.purposes import Purpose


_REASONS = {
    "never_granted": "consent was never granted",
    "unverified": "the imported consent has no date and notice version and was not reconfirmed",
    "refused": "consent was refused",
    "withdrawn": "consent was withdrawn",
    "expired": "consent expired (not reconfirmed within the reconfirmation interval)",
}


class ConsentLedger(Protocol):
    """Answers which customers currently consent to a purpose."""

    async def consenting(self, session: AsyncSession, customer_ids: Sequence[UUID], purpose: Purpose) -> set[UUID]:
        """The subset of ``customer_ids`` with a current consent for ``purpose``."""
        ...

    async def explain(self, session: AsyncSession, customer_id: UUID, purpose: Purpose) -> str:
        """Why ``customer_id`` has no current consent: never_granted, refused, withdrawn or expired."""
        ...


class NoConsentLedger:
    """A ledger with no consents recorded (before the consent module is wired)."""

    async def consenting(self, session: AsyncSession, customer_ids: Sequence[UUID], purpose: Purpose) -> set[UUID]:
        """Nobody has consented."""
        del session, customer_ids, purpose
        return set()

    async def explain(self, session: AsyncSession, customer_id: UUID, purpose: Purpose) -> str:
        """Nobody has ever granted anything."""
        del session, customer_id, purpose
        return "never_granted"


class LawfulBasisCheck:
    """Checks that customers have a lawful basis for a purpose right now."""

    def __init__(self, ledger: ConsentLedger) -> None:
        self._ledger = ledger

    async def with_basis(self, session: AsyncSession, customer_ids: Sequence[UUID], purpose: Purpose) -> set[UUID]:
        """The subset of ``customer_ids`` that may be processed for ``purpose``."""
        if purpose.lawful_basis is not LawfulBasis.CONSENT:
            return set(customer_ids)
        return await self._ledger.consenting(session, customer_ids, purpose)

    async def require(self, session: AsyncSession, customer_id: UUID, purpose: Purpose) -> None:
        """Raise unless ``customer_id`` has a lawful basis for ``purpose``.

        Raises:
            NoLawfulBasisError: saying which basis is missing.
        """
        if customer_id not in await self.with_basis(session, [customer_id], purpose):
            reason = await self._ledger.explain(session, customer_id, purpose)
            raise NoLawfulBasisError(
                f"customer {customer_id} has no current consent for purpose {purpose.id!r}: "
                f"{_REASONS.get(reason, reason)}",
                purpose=purpose.id, customer_id=str(customer_id), reason=reason,
            )
