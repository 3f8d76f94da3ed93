"""The generalization ladders live in :mod:`vault.policy.generalize` (segments use them too); re-exported here.

Extracts add one family of rungs for behaviour aggregates (numbers the vault computes, see
:mod:`vault.privacy.behaviour`): ``bucket<W>`` maps a whole number to the band of width ``W`` it
falls in (``120000`` -> ``100000-149999`` at ``bucket50000``). Top- and bottom-coded values
(``5000000+``, ``<0``) are labels already and stay as they are on every bucket rung.
"""

from __future__ import annotations

from datetime import date

from vault.policy.generalize import (
    POSTAL_REGIONS,
    STEPS,
    SUPPRESS,
    TOP_AGE,
    UNASSIGNED_REGION,
    age,
    birth_year,
    identity,
    postal_prefix3,
    postal_region,
)
from vault.policy.generalize import generalize as _catalogue_generalize

__all__ = ["BUCKET", "POSTAL_REGIONS", "STEPS", "SUPPRESS", "TOP_AGE", "UNASSIGNED_REGION", "age", "birth_year",
           "bucket", "generalize", "identity", "postal_prefix3", "postal_region"]

BUCKET = "bucket"


def bucket(width: int, value: str) -> str:
    """The band of ``width`` holding the whole number ``value`` (a top/bottom-coded label stays as it is)."""
    digits = value[1:] if value.startswith("-") else value
    if not digits.isdigit():
        return value
    lo = int(value) // width * width
    return f"{lo}-{lo + width - 1}"


def generalize(step: str, value: str | None, reference: date) -> str | None:
    """Apply one step (or ``*``) to a normalized value; ``None`` means missing.

    Raises:
        KeyError: an unknown step (specs are validated before this is reached).
    """
    if step.startswith(BUCKET) and step[len(BUCKET):].isdigit():
        if value is None or value == "":
            return None
        return bucket(int(step[len(BUCKET):]), value)
    return _catalogue_generalize(step, value, reference)
