"""k-anonymity and distinct l-diversity by full-domain generalization and suppression (Datafly).

The input is columnar: for each quasi-identifier the normalized values of every
row, and for each sensitive attribute its (already generalized) values. Each
quasi-identifier has a ladder of rungs, finest first. The loop:

1. generalize every quasi-identifier at its current rung and group the rows into
   equivalence classes (rows with equal generalized quasi-identifiers);
2. a class *fails* when it has fewer than ``k`` rows, or, with ``l > 1``, fewer than
   ``l`` distinct non-missing values of some sensitive attribute;
3. if the failing classes hold at most ``max_suppression`` of the rows, stop;
   otherwise climb one rung on the quasi-identifier with the most distinct values
   (among those below their maximum rung) and repeat; when none can climb, stop;
4. suppress (drop) every row of every failing class.

Whole classes are dropped, so every class left has at least ``k`` rows and is
l-diverse: the guarantee holds on the output whatever the data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vault.privacy.generalize import generalize

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import date

Value = str | None
Key = tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Climb:
    """One step of the loop: which quasi-identifier moved, between which rungs, and why."""

    field: str
    from_level: str
    to_level: str
    distinct_values: int
    failing_rows: int


@dataclass(frozen=True)
class Anonymized:
    """The result: final rungs, generalized columns, which rows survive, and what it achieved."""

    levels: dict[str, str]
    columns: dict[str, list[Value]]
    kept: list[int]
    suppressed: int
    classes: int
    min_class_size: int | None
    min_diversity: int | None
    climbs: list[Climb] = field(default_factory=list)


class _Column:
    """One quasi-identifier: raw values and the generalized column at each rung, computed once."""

    def __init__(self, name: str, values: Sequence[Value], ladder: Sequence[str], reference: date) -> None:
        self.name = name
        self.ladder = tuple(ladder)
        self.level = 0
        self._raw = values
        self._reference = reference
        self._cache: dict[int, list[Value]] = {}

    def at(self, level: int) -> list[Value]:
        if level not in self._cache:
            step = self.ladder[level]
            memo: dict[Value, Value] = {}
            out: list[Value] = []
            for raw in self._raw:
                if raw not in memo:
                    memo[raw] = generalize(step, raw, self._reference)
                out.append(memo[raw])
            self._cache[level] = out
        return self._cache[level]

    @property
    def current(self) -> list[Value]:
        return self.at(self.level)

    @property
    def can_climb(self) -> bool:
        return self.level < len(self.ladder) - 1


def _failing(keys: list[Key], sizes: Counter[Key], sensitive: Sequence[Sequence[Value]], k: int,
             l_div: int) -> tuple[set[Key], int | None]:
    """Keys of failing classes, and the smallest number of distinct sensitive values in any class."""
    bad = {key for key, n in sizes.items() if n < k}
    if not sensitive:
        return bad, None
    lowest: int | None = None
    for column in sensitive:
        distinct: dict[Key, set[str]] = {}
        for key, value in zip(keys, column, strict=True):
            bucket = distinct.setdefault(key, set())
            if value is not None:
                bucket.add(value)
        for key, values in distinct.items():
            if len(values) < l_div:
                bad.add(key)
            lowest = len(values) if lowest is None else min(lowest, len(values))
    return bad, lowest


def anonymize(
    quasi_identifiers: Sequence[tuple[str, Sequence[Value], Sequence[str]]],
    sensitive: Sequence[Sequence[Value]],
    *,
    k: int,
    l_div: int = 1,
    max_suppression: float = 0.0,
    reference: date,
) -> Anonymized:
    """Generalize and suppress until every equivalence class has >= ``k`` rows and is ``l_div``-diverse.

    Args:
        quasi_identifiers: (field, normalized values per row, ladder from the starting rung to the maximum).
        sensitive: Per sensitive attribute, its released value per row (``None`` = missing).
        k: Minimum class size (>= 1).
        l_div: Minimum distinct non-missing values of each sensitive attribute per class (1 = off).
        max_suppression: Share of rows the loop may suppress instead of climbing further.
        reference: Reference date for age bands.
    """
    if not quasi_identifiers:
        raise ValueError("at least one quasi-identifier is needed")
    columns = [_Column(name, values, ladder, reference) for name, values, ladder in quasi_identifiers]
    rows = len(columns[0]._raw)
    budget = int(max_suppression * rows)
    climbs: list[Climb] = []
    while True:
        current = [c.current for c in columns]
        keys: list[Key] = list(zip(*current, strict=True))
        sizes = Counter(keys)
        bad, lowest = _failing(keys, sizes, sensitive, k, l_div)
        failing_rows = sum(sizes[key] for key in bad)
        if failing_rows == 0 or failing_rows <= budget:
            break
        candidates = [c for c in columns if c.can_climb]
        if not candidates:
            break
        # Datafly: the attribute with the most distinct values splits the data most; ties go to spec order.
        distinct = {c.name: len(set(c.current)) for c in candidates}
        pick = max(candidates, key=lambda c: distinct[c.name])
        climbs.append(Climb(pick.name, pick.ladder[pick.level], pick.ladder[pick.level + 1], distinct[pick.name],
                            failing_rows))
        pick.level += 1
    kept = [i for i, key in enumerate(keys) if key not in bad]
    survivors = {key: n for key, n in sizes.items() if key not in bad}
    if sensitive and survivors:
        _, lowest = _failing([keys[i] for i in kept], Counter({key: survivors[key] for key in survivors}),
                             [[column[i] for i in kept] for column in sensitive], k, l_div)
    return Anonymized(
        levels={c.name: c.ladder[c.level] for c in columns},
        columns={c.name: c.current for c in columns},
        kept=kept,
        suppressed=rows - len(kept),
        classes=len(survivors),
        min_class_size=min(survivors.values()) if survivors else None,
        min_diversity=lowest if survivors else None,
        climbs=climbs,
    )
