"""The generalization ladders live in :mod:`vault.policy.generalize` (segments use them too); re-exported here."""

from __future__ import annotations

from vault.policy.generalize import (
    POSTAL_REGIONS,
    STEPS,
    SUPPRESS,
    TOP_AGE,
    UNASSIGNED_REGION,
    age,
    birth_year,
    generalize,
    identity,
    postal_prefix3,
    postal_region,
)

__all__ = ["POSTAL_REGIONS", "STEPS", "SUPPRESS", "TOP_AGE", "UNASSIGNED_REGION", "age", "birth_year", "generalize",
           "identity", "postal_prefix3", "postal_region"]
