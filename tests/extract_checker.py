"""An independent checker of released extracts: k-anonymity, distinct l-diversity and the suppression bound.

It reads only the released rows and the manifest (never the vault's own code), as an outside auditor would.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

Row = Mapping[str, Any]


def check_release(rows: Sequence[Row], manifest: Mapping[str, Any]) -> list[str]:
    """Every way ``rows`` break the manifest's promise (empty when the release is sound)."""
    problems: list[str] = []
    qis = list(manifest["quasi_identifiers"])
    sensitive = list(manifest["sensitive_attributes"])
    k, l_div = int(manifest["k"]), int(manifest["l"])
    if manifest["rows"] != len(rows):
        problems.append(f"manifest rows {manifest['rows']} != file rows {len(rows)}")
    eligible = manifest.get("eligible_customers")
    if eligible is not None:
        if manifest["rows"] + manifest["suppressed_rows"] != eligible:
            problems.append("rows + suppressed_rows != eligible_customers")
        bound = int(float(manifest["max_suppression"]) * eligible)
        if manifest["suppressed_rows"] > bound:
            problems.append(f"suppressed {manifest['suppressed_rows']} > max_suppression bound {bound}")
        share = manifest.get("suppressed_share")
        if share is not None and eligible and abs(share - manifest["suppressed_rows"] / eligible) > 1e-6:
            problems.append("suppressed_share does not match suppressed_rows / eligible_customers")
    sizes: Counter[tuple[Any, ...]] = Counter()
    values: dict[tuple[Any, ...], list[set[Any]]] = defaultdict(lambda: [set() for _ in sensitive])
    for row in rows:
        key = tuple(row[q] for q in qis)
        sizes[key] += 1
        for j, s in enumerate(sensitive):
            if row[s] not in (None, ""):
                values[key][j].add(row[s])
    for key, n in sizes.items():
        if n < k:
            problems.append(f"class {key} has {n} < k={k} rows")
        if l_div > 1:
            for j, s in enumerate(sensitive):
                if len(values[key][j]) < l_div:
                    problems.append(f"class {key} has {len(values[key][j])} < l={l_div} values of {s}")
    pseudonyms = [row[manifest["pseudonym_column"]] for row in rows]
    if len(set(pseudonyms)) != len(pseudonyms):
        problems.append("a pseudonym repeats")
    return problems
