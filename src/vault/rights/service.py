"""Names importers of the rights use cases used before the split (kept so their imports keep working).

The use cases live in :mod:`vault.rights.requests` (the registry), :mod:`vault.rights.subject` (export,
rectification, restriction, objection) and :mod:`vault.rights.erasure`; :mod:`vault.rights.runner` runs
them in transactions for the entry points; their collaborators are :class:`vault.rights.deps.RightsDeps`.
"""

from __future__ import annotations

from vault.rights.deps import RightsDeps
from vault.rights.erasure import MAX_BULK_ERASURE, ErasureProposal, ErasureResult, ReplayResult, Retained
from vault.rights.runner import RightsRunner

__all__ = ["MAX_BULK_ERASURE", "ErasureProposal", "ErasureResult", "ReplayResult", "Retained", "RightsDeps",
           "RightsRunner"]
