"""What the rights services share: their collaborators, built once per process (:mod:`vault.bootstrap`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from vault.customers.cohorts import SqlCohortMembers
from vault.lib.clock import utcnow

if TYPE_CHECKING:
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.collection import CohortMembers, CollectionPolicy
    from vault.policy.purposes import PurposeCatalogue
    from vault.rights.journal import ErasureJournal

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RightsDeps:
    """Collaborators of the rights services, built once per process.

    ``db`` is used only by :class:`vault.rights.runner.RightsRunner` (which opens the transactions) and by
    :func:`vault.rights.shredder.scrub` after an erasure commits; the services work on the session they are given.
    """

    db: Database
    keyring: Keyring
    catalogue: FieldCatalogue
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog
    journal: ErasureJournal
    clock: Clock = utcnow
    bulk_approval_over: int = 100  # larger bulk erasures wait for a second compliance officer
    #: Purpose-bound collection; None: purposes only, no statute registry (no statute-only field is collectable).
    collection: CollectionPolicy | None = None
    cohorts: CohortMembers = field(default_factory=SqlCohortMembers)
