"""Purpose-bound collection (PIPA 16(1), 24-2(1); GDPR 5(1)(b)-(c), 25): what a write may carry.

Every write of personal data (create, update, an import row, a rectification) names a purpose, and
may carry only the fields that purpose uses (purposes.yaml). A field marked ``requires_statute``
(the RRN) needs more: the purpose's statute entry (statutes.yaml) must permit collecting it, and
the customer must be one the statute covers (``covers``: e.g. prize winners for prize withholding).
Membership of a cohort is a recorded fact (:class:`CohortMembers`, kept by ``vault.customers``);
``all_customers`` covers everyone.

The writers call :meth:`CollectionPolicy.check` before anything is sealed; it raises
:class:`FieldNotForPurposeError` (422) naming the field and the purpose, and returns the coverage
the writer must then confirm for the customer written (:class:`NotCoveredByStatuteError` if not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from vault.policy.errors import FieldNotForPurposeError, NotCoveredByStatuteError
from vault.policy.statutes import Cohort, StatuteAction, StatuteRegistry

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.purposes import Purpose, PurposeCatalogue
    from vault.policy.statutes import Statute


class CohortMembers(Protocol):
    """Which customers belong to a statute's cohort (recorded membership; ``vault.customers.cohorts``)."""

    async def members(self, session: AsyncSession, cohort: Cohort,
                      customer_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """The customers among ``customer_ids`` in ``cohort``."""
        ...

    async def record(self, session: AsyncSession, customer_ids: Sequence[uuid.UUID], cohort: Cohort,
                     reference: str, recorded_by: str, now: datetime) -> None:
        """Record ``customer_ids`` as members of ``cohort`` (idempotent), citing ``reference``."""
        ...


@dataclass(frozen=True, slots=True)
class Coverage:
    """A statute-only field written under ``statute``: the customer must be in ``statute.covers``."""

    field: str
    purpose: str
    statute: Statute

    @property
    def cohort(self) -> Cohort:
        """The cohort the customer must belong to."""
        return self.statute.covers

    def refusal(self) -> NotCoveredByStatuteError:
        """The 422 for a customer outside the cohort."""
        return NotCoveredByStatuteError(self.field, self.purpose, self.statute.id, self.statute.covers.value)


@dataclass(frozen=True)
class CollectionPolicy:
    """The collection rule over the validated policy files."""

    purposes: PurposeCatalogue
    catalogue: FieldCatalogue
    statutes: StatuteRegistry

    def statute(self, purpose: Purpose) -> Statute | None:
        """The statute entry ``purpose`` rests on, if any."""
        return self.statutes.get(purpose.statute)

    def refusal(self, purpose: Purpose, name: str) -> FieldNotForPurposeError | None:
        """Why ``name`` may not be written under ``purpose`` (None when it may, coverage aside)."""
        if name not in purpose.fields:
            return FieldNotForPurposeError(name, purpose.id, purpose.fields)
        if name in self.catalogue and self.catalogue[name].requires_statute:
            st = self.statute(purpose)
            if st is None or not st.permits(StatuteAction.COLLECT, name):
                return FieldNotForPurposeError(
                    name, purpose.id, purpose.fields,
                    reason="only collected under a statute permitting it, and "
                           + (f"statute {st.id!r} does not" if st else "the purpose names none"))
        return None

    def check(self, purpose: Purpose, names: Iterable[str]) -> Coverage | None:
        """Refuse the first field ``purpose`` does not collect; return the coverage a statute-only field needs.

        Raises:
            FieldNotForPurposeError: naming the field and the purpose (422).
        """
        coverage: Coverage | None = None
        for name in sorted(names):
            bad = self.refusal(purpose, name)
            if bad is not None:
                raise bad
            if self.catalogue[name].requires_statute:
                st = self.statute(purpose)
                if st is not None and st.covers is not Cohort.ALL_CUSTOMERS and coverage is None:
                    coverage = Coverage(name, purpose.id, st)
        return coverage


def empty_statutes() -> StatuteRegistry:
    """No statute entries: no statute-only field is collectable (a safe default for tests and tools)."""
    return StatuteRegistry({})
