"""Behaviour aggregates a segment-scoped extract may release, and the port that supplies them.

A spec naming ``segment: name@version`` draws its population from that version's frozen
membership snapshot and may use these columns beside the catalogue's fields, as
quasi-identifiers or sensitive attributes (docs/extracts.md). They are numbers and codes the
vault computes from transactions and interactions at the snapshot's as-of date - never PII:

- numeric (``spend``, ``orders``, ``returns``, ``categories``): top- and bottom-coded
  (``5000000+``, ``<0``), then released exactly (``value``) or in bands (``bucket<W>``): the
  ladder is ``value``, then each bucket width of the spec (or the default) from fine to coarse,
  then ``*`` when asked for;
- codes (``r_score``, ``f_score``, ``m_score``, ``rfm``, ``tier``, ``quadrant``): released as
  they are (``value``), or ``*``.

The segments package computes them; :mod:`vault.bootstrap` wires :class:`SegmentScopes` to it
(privacy and segments are siblings and do not import each other).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import uuid
    from datetime import date

    import polars as pl

    from vault.access.caller import Caller


@dataclass(frozen=True, slots=True)
class Aggregate:
    """A behaviour column: numeric (bucketed, top/bottom-coded) or a code, with its defaults."""

    name: str
    doc: str
    numeric: bool
    buckets: tuple[int, ...] = ()
    top: int | None = None
    bottom: int | None = None


AGGREGATES: dict[str, Aggregate] = {a.name: a for a in (
    Aggregate("spend", "KRW of purchases not returned in the 365 days to the snapshot's as-of date", True,
              (10_000, 50_000, 100_000, 500_000, 1_000_000), top=5_000_000, bottom=0),
    Aggregate("orders", "purchases not returned in the 365-day window", True, (2, 10), top=50, bottom=0),
    Aggregate("returns", "returned transactions in the 365-day window", True, (2, 10), top=20, bottom=0),
    Aggregate("categories", "distinct categories of those purchases", True, (2, 4), top=8, bottom=0),
    Aggregate("r_score", "recency quintile 1-5 (5 = most recent; missing without purchases)", False),
    Aggregate("f_score", "frequency quintile 1-5", False),
    Aggregate("m_score", "monetary quintile 1-5", False),
    Aggregate("rfm", "r_score f_score m_score concatenated, e.g. '545'", False),
    Aggregate("tier", "general, identified or core, as stored with the snapshot", False),
    Aggregate("quadrant", "profitability x experience, as stored with the snapshot", False),
)}


@dataclass(frozen=True)
class SegmentScope:
    """A segment version's frozen membership and its members' aggregates (``customer_id`` = 32 hex digits)."""

    ref: str
    snapshot_id: uuid.UUID
    as_of: date
    frame: pl.DataFrame


class SegmentScopes(Protocol):
    """Resolves ``name@version`` to its approved snapshot (the segments package answers)."""

    async def __call__(self, ref: str, caller: Caller) -> SegmentScope:
        """The scope; raises the segments' errors (unknown version, not activated, no snapshot)."""
        ...


def code(agg: Aggregate, value: object, top: int | None, bottom: int | None) -> str | None:
    """A customer's aggregate as released text: numbers top/bottom-coded, codes as they are."""
    if value is None:
        return None
    if not agg.numeric:
        return str(value)
    number = int(value)  # type: ignore[call-overload]
    if top is not None and number >= top:
        return f"{top}+"
    if bottom is not None and number < bottom:
        return f"<{bottom}"
    return str(number)
