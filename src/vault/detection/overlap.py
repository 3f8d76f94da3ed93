"""One answer per stretch of text when recognizers disagree."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from vault.detection.entities import priority


class Span(Protocol):
    """Anything with a type, a character span and a score."""

    @property
    def type(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def score(self) -> float: ...


S = TypeVar("S", bound=Span)


def resolve_overlaps(candidates: Iterable[S]) -> list[S]:
    """Keep, from every group of overlapping spans, the best one; return them sorted by start.

    "Best" is the highest score; on a tie, the higher-priority type (see
    :data:`vault.detection.entities.PRIORITY`: checksummed national ids over
    cards, accounts, phones, then addresses, then names); then the longer span.
    An RRN that also parses as an account number, or a business number that
    looks like a landline, thus comes out as the single right type.
    """
    ranked = sorted(candidates, key=lambda c: (-round(c.score, 6), -priority(c.type), -(c.end - c.start), c.start))
    kept: list[S] = []
    for cand in ranked:
        if all(cand.end <= k.start or cand.start >= k.end for k in kept):
            kept.append(cand)
    return sorted(kept, key=lambda c: (c.start, c.end))
