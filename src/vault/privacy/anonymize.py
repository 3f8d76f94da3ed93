"""k-anonymity and distinct l-diversity by full-domain generalization and suppression (Datafly, on counts).

The input is columnar: for each quasi-identifier the normalized values of every
row, and for each sensitive attribute its (already generalized) values. Each
quasi-identifier has a ladder of rungs, finest first.

Rows are never looked at inside the search. Each quasi-identifier's distinct raw
values are generalized once per rung (a few ten thousand calls, not a million), the
rows are folded into *cells* (rows equal on every rung of every quasi-identifier and
on every sensitive attribute) with a count each, and every lattice node is judged on
the cells alone with NumPy group-bys. The loop:

1. group the cells into equivalence classes at the current rungs;
2. a class *fails* when it has fewer than ``k`` rows, or, with ``l > 1``, fewer than
   ``l`` distinct non-missing values of some sensitive attribute;
3. if the failing classes hold at most ``max_suppression`` of the rows (rounded down),
   stop; otherwise climb one rung on the quasi-identifier with the most distinct values
   (among those below their maximum rung) and repeat;
4. when every quasi-identifier is at its maximum rung and the failing rows are still
   above the budget, refuse: :class:`~vault.privacy.errors.TargetUnmeetableError`
   names the worst classes and the attribute that blocks l-diversity. Generalization is
   monotone (a coarser node merges classes, so they only grow and gain values), so no
   other node of the lattice could have met the target either;
5. otherwise suppress (drop) every row of every failing class.

Whole classes are dropped, so every class left has at least ``k`` rows and is
l-diverse, and the suppressed share never exceeds ``max_suppression``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from vault.privacy.errors import TargetUnmeetableError
from vault.privacy.generalize import generalize

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import date

    from numpy.typing import NDArray

Value = str | None
#: Failing classes reported when the target cannot be met.
WORST_CLASSES = 10
_LIMIT = np.int64(1) << 62
_POLARS_FROM = 10_000


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
    """The result: final rungs, generalized columns (as codes and labels), surviving rows, what it achieved."""

    levels: dict[str, str]
    labels: dict[str, list[Value]]
    codes: dict[str, NDArray[np.int64]]
    kept: NDArray[np.int64]
    rows: int
    suppressed: int
    classes: int
    min_class_size: int | None
    min_diversity: int | None
    climbs: list[Climb] = field(default_factory=list)

    def column(self, name: str, rows: NDArray[np.int64] | None = None) -> list[Value]:
        """The generalized values of quasi-identifier ``name`` for ``rows`` (all rows when None)."""
        labels = np.array(self.labels[name], dtype=object)
        codes = self.codes[name] if rows is None else self.codes[name][rows]
        return list(labels[codes]) if len(labels) else [None] * len(codes)

    @cached_property
    def columns(self) -> dict[str, list[Value]]:
        """Every quasi-identifier's generalized value per row (handy in tests; large for big inputs)."""
        return {name: self.column(name) for name in self.labels}

    @property
    def suppressed_share(self) -> float:
        """Suppressed rows over all rows (0 when there were none)."""
        return self.suppressed / self.rows if self.rows else 0.0


def factorize(values: Iterable[Value], count: int) -> tuple[NDArray[np.int64], list[Value]]:
    """Codes per value and the distinct values (``None`` first when present, then sorted).

    Large columns go through Polars: the sorted distinct values become an Enum, whose physical codes are the
    ranks (a hash lookup per value, 7x faster than a dense rank, which sorts every value). Small ones go
    through a dict.
    """
    if count >= _POLARS_FROM and isinstance(values, list | pl.Series):
        column = pl.Series(values, dtype=pl.String)
        present: list[str] = column.drop_nulls().unique().sort().to_list()
        ranks = column.cast(pl.Enum(present)).to_physical().cast(pl.Int64)
        if column.null_count():
            return (ranks + 1).fill_null(0).to_numpy(), [None, *present]
        return ranks.to_numpy(), list(present)
    memo: dict[Value, int] = {}
    codes = np.fromiter((memo.setdefault(v, len(memo)) for v in values), dtype=np.int64, count=count)
    return codes, list(memo)


def _combine(parts: Sequence[tuple[NDArray[np.int64], int]]) -> NDArray[np.int64]:
    """One int64 key per position from several code arrays (mixed radix, compacted before it could overflow)."""
    key = np.zeros(len(parts[0][0]) if parts else 0, dtype=np.int64)
    span = 1
    for codes, size in parts:
        size = max(size, 1)
        if span * size >= _LIMIT:
            _, key = np.unique(key, return_inverse=True)
            key = key.astype(np.int64)
            span = int(key.max()) + 1 if len(key) else 1
        key = key * size + codes
        span *= size
    return key


class _Quasi:
    """One quasi-identifier: its distinct raw values folded to *joint* codes (one per combination of rungs)."""

    def __init__(self, name: str, values: Sequence[Value], ladder: Sequence[str], reference: date) -> None:
        self.name = name
        self.ladder = tuple(ladder)
        self.level = 0
        raw, uniques = factorize(values, len(values))
        per_rung: list[NDArray[np.int64]] = []
        self.labels: list[list[Value]] = []
        for step in self.ladder:
            codes, labels = factorize((generalize(step, u, reference) for u in uniques), len(uniques))
            per_rung.append(codes)
            self.labels.append(labels)
        if uniques:
            joint, index = np.unique(np.stack(per_rung, axis=1), axis=0, return_inverse=True)
        else:
            joint, index = np.zeros((0, len(self.ladder)), dtype=np.int64), np.zeros(0, dtype=np.int64)
        #: joint id -> code at each rung
        self.rungs: NDArray[np.int64] = joint.astype(np.int64)
        self.joints = len(joint)
        self.row_joint: NDArray[np.int64] = index.reshape(-1).astype(np.int64)[raw] if len(raw) else raw

    def codes_at(self, joint: NDArray[np.int64], level: int | None = None) -> NDArray[np.int64]:
        codes: NDArray[np.int64] = self.rungs[joint, self.level if level is None else level]
        return codes

    def size_at(self, level: int | None = None) -> int:
        return len(self.labels[self.level if level is None else level])

    @property
    def can_climb(self) -> bool:
        return self.level < len(self.ladder) - 1


@dataclass
class _Node:
    """One lattice node judged on the cells: classes, their sizes and diversity, which fail."""

    cell_class: NDArray[np.int64]
    sizes: NDArray[np.int64]
    diversity: list[NDArray[np.int64]]
    failing: NDArray[np.bool_]

    @property
    def failing_rows(self) -> int:
        return int(self.sizes[self.failing].sum())


class _Cells:
    """Rows folded into cells: equal joint codes on every quasi-identifier and equal sensitive values."""

    def __init__(self, quasi: list[_Quasi], sensitive: Sequence[Sequence[Value]], rows: int) -> None:
        self.sensitive: list[tuple[NDArray[np.int64], int]] = []
        for column in sensitive:
            codes, uniques = factorize(column, rows)
            missing = uniques.index(None) if None in uniques else -1
            if missing >= 0:  # None -> -1; the codes above it shift down to stay dense
                codes = np.where(codes == missing, -1, codes - (codes > missing))
            self.sensitive.append((codes, len(uniques) - (missing >= 0)))
        parts = [(q.row_joint, q.joints) for q in quasi] + [(c + 1, n + 1) for c, n in self.sensitive]
        keys, first, self.row_cell, counts = np.unique(_combine(parts), return_index=True, return_inverse=True,
                                                       return_counts=True)
        del keys
        self.row_cell = self.row_cell.reshape(-1)
        self.count: NDArray[np.int64] = counts.astype(np.int64)
        self.joint = {q.name: q.row_joint[first] for q in quasi}
        self.values = [(codes[first], n) for codes, n in self.sensitive]

    def judge(self, quasi: list[_Quasi], k: int, l_div: int, levels: dict[str, int] | None = None) -> _Node:
        parts = [(q.codes_at(self.joint[q.name], None if levels is None else levels[q.name]),
                  q.size_at(None if levels is None else levels[q.name])) for q in quasi]
        _, cell_class = np.unique(_combine(parts), return_inverse=True)
        cell_class = cell_class.reshape(-1).astype(np.int64)
        classes = int(cell_class.max()) + 1 if len(cell_class) else 0
        sizes = np.bincount(cell_class, weights=self.count, minlength=classes).astype(np.int64)
        failing = sizes < k
        diversity = []
        for values, n in self.values:
            present = values >= 0
            pairs = np.unique(cell_class[present] * max(n, 1) + values[present])
            div = np.bincount(pairs // max(n, 1), minlength=classes).astype(np.int64)
            diversity.append(div)
            if l_div > 1:
                failing |= div < l_div
        return _Node(cell_class, sizes, diversity, failing)


def anonymize(
    quasi_identifiers: Sequence[tuple[str, Sequence[Value], Sequence[str]]],
    sensitive: Sequence[Sequence[Value]],
    *,
    k: int,
    l_div: int = 1,
    max_suppression: float = 0.0,
    reference: date,
    sensitive_names: Sequence[str] | None = None,
) -> Anonymized:
    """Generalize and suppress until every equivalence class has >= ``k`` rows and is ``l_div``-diverse.

    Args:
        quasi_identifiers: (field, normalized values per row, ladder from the starting rung to the maximum).
        sensitive: Per sensitive attribute, its released value per row (``None`` = missing).
        k: Minimum class size (>= 1).
        l_div: Minimum distinct non-missing values of each sensitive attribute per class (1 = off).
        max_suppression: Share of rows that may be suppressed; never exceeded.
        reference: Reference date for age bands.
        sensitive_names: Names of the sensitive attributes (for the refusal report).

    Raises:
        TargetUnmeetableError: even at the top of every ladder more than ``max_suppression`` of the rows
            would have to be suppressed (the report names the worst classes and what blocks l-diversity).
    """
    if not quasi_identifiers:
        raise ValueError("at least one quasi-identifier is needed")
    rows = len(quasi_identifiers[0][1])
    names = list(sensitive_names or [f"sensitive[{i}]" for i in range(len(sensitive))])
    quasi = [_Quasi(name, values, ladder, reference) for name, values, ladder in quasi_identifiers]
    cells = _Cells(quasi, sensitive, rows)
    budget = int(max_suppression * rows)
    climbs: list[Climb] = []
    while True:
        node = cells.judge(quasi, k, l_div)
        failing_rows = node.failing_rows
        if failing_rows <= budget:
            break
        candidates = [q for q in quasi if q.can_climb]
        if not candidates:
            raise _unmeetable(quasi, cells, node, names, k, l_div, max_suppression, rows, budget)
        # Datafly: the attribute with the most distinct values splits the data most; ties go to spec order.
        distinct = {q.name: int(np.unique(q.codes_at(cells.joint[q.name])).size) for q in candidates}
        pick = max(candidates, key=lambda q: distinct[q.name])
        climbs.append(Climb(pick.name, pick.ladder[pick.level], pick.ladder[pick.level + 1], distinct[pick.name],
                            failing_rows))
        pick.level += 1
    row_class = node.cell_class[cells.row_cell] if rows else np.zeros(0, dtype=np.int64)
    kept = np.flatnonzero(~node.failing[row_class]).astype(np.int64)
    alive = ~node.failing
    survivors = int(alive.sum())
    lowest = min((int(div[alive].min()) for div in node.diversity), default=None) if survivors else None
    return Anonymized(
        levels={q.name: q.ladder[q.level] for q in quasi},
        labels={q.name: q.labels[q.level] for q in quasi},
        codes={q.name: q.codes_at(q.row_joint) for q in quasi},
        kept=kept,
        rows=rows,
        suppressed=rows - len(kept),
        classes=survivors,
        min_class_size=int(node.sizes[alive].min()) if survivors else None,
        min_diversity=lowest,
        climbs=climbs,
    )


def _unmeetable(quasi: list[_Quasi], cells: _Cells, node: _Node, names: list[str], k: int, l_div: int,
                max_suppression: float, rows: int, budget: int) -> TargetUnmeetableError:
    """The refusal: worst failing classes at the top of every ladder and the attributes that block l."""
    failing = np.flatnonzero(node.failing)
    lowest = np.min(np.stack(node.diversity), axis=0) if node.diversity else np.zeros(len(node.sizes), np.int64)
    order = failing[np.lexsort((lowest[failing], node.sizes[failing]))][:WORST_CLASSES]
    first_cell = np.full(len(node.sizes), -1, dtype=np.int64)
    first_cell[node.cell_class[::-1]] = np.arange(len(node.cell_class) - 1, -1, -1)
    worst = []
    for c in order:
        cell = first_cell[c]
        worst.append({
            "class": {q.name: q.labels[q.level][int(q.codes_at(cells.joint[q.name][cell:cell + 1])[0])]
                      for q in quasi},
            "rows": int(node.sizes[c]),
            "distinct": {names[j]: int(div[c]) for j, div in enumerate(node.diversity)},
            "fails": (["k"] if node.sizes[c] < k else []) + [
                f"l:{names[j]}" for j, div in enumerate(node.diversity) if l_div > 1 and div[c] < l_div],
        })
    blocking: list[dict[str, Any]] = []
    if l_div > 1:
        for j, div in enumerate(node.diversity):
            short = int(node.sizes[div < l_div].sum())
            if not short:
                continue
            # A quasi-identifier that, even alone at its top rung, leaves fewer than l values for most rows
            # determines the sensitive attribute (e.g. a postal region fixes the city): no climb can help.
            determined_by = []
            for q in quasi:
                alone = cells.judge([q], 1, l_div, {q.name: q.level})
                lone = int(alone.sizes[alone.diversity[j] < l_div].sum())
                if lone > budget:
                    determined_by.append({"field": q.name, "level": q.ladder[q.level], "rows": lone})
            blocking.append({"attribute": names[j], "rows": short, "determined_by": determined_by})
    small = int(node.sizes[node.sizes < k].sum())
    levels = ", ".join(f"{q.name}={q.ladder[q.level]}" for q in quasi)
    failing_rows = node.failing_rows
    detail = (f"target cannot be met: at the top of every ladder ({levels}) {failing_rows:,} of {rows:,} rows "
              f"({failing_rows / rows:.1%}) are in classes failing k={k}" + (f" or l={l_div}" if l_div > 1 else "")
              + f", above max_suppression {max_suppression:g} ({budget:,} rows); {small:,} rows are in classes "
              f"smaller than k")
    for b in blocking:
        detail += f"; l-diversity of {b['attribute']!r} fails for {b['rows']:,} rows"
        if b["determined_by"]:
            detail += " and is blocked by " + ", ".join(
                f"{d['field']} (at {d['level']} alone it leaves fewer than {l_div} values for {d['rows']:,} rows)"
                for d in b["determined_by"])
    detail += "; nothing was written"
    return TargetUnmeetableError(detail, worst_classes=worst, blocking=blocking, failing_rows=failing_rows,
                                 eligible_rows=rows, max_suppressed_rows=budget,
                                 levels={q.name: q.ladder[q.level] for q in quasi})
