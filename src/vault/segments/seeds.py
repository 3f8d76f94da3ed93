"""Seed segment definitions from ``policies/segments/*.yaml``.

Each file holds ``name``, ``description``, ``expression``, ``owner_department`` and ``targeting``.
Loading creates a new draft version only when the newest stored version's expression differs, so
loading twice changes nothing and an edited seed becomes the next version (old ones never change).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from vault.errors import ConfigurationError

if TYPE_CHECKING:
    from pathlib import Path

    from vault.access.caller import Caller
    from vault.segments.runner import SegmentRunner
    from vault.segments.views import VersionView


@dataclass(frozen=True)
class Seed:
    """One seed definition."""

    name: str
    description: str
    expression: str
    owner_department: str
    targeting: bool


def read_seeds(folder: Path) -> list[Seed]:
    """Parse every ``*.yaml`` in ``folder`` (sorted by file name).

    Raises:
        ConfigurationError: a file is not a mapping with name and expression.
    """
    out: list[Seed] = []
    for path in sorted(folder.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or \
                not isinstance(doc.get("expression"), str):
            raise ConfigurationError(f"{path}: a segment seed needs `name` and `expression`")
        out.append(Seed(doc["name"], str(doc.get("description", "")).strip(), " ".join(doc["expression"].split()),
                        str(doc.get("owner_department", "marketing")), bool(doc.get("targeting", True))))
    return out


async def load_seeds(segments: SegmentRunner, folder: Path, caller: Caller) -> list[VersionView]:
    """Create drafts for new or changed seeds; returns the versions created."""
    existing = {v.name: v for v in reversed(await segments.versions(caller))}  # newest wins
    created: list[VersionView] = []
    for seed in read_seeds(folder):
        current = existing.get(seed.name)
        if current is not None and current.expression == seed.expression:
            continue
        created.append(await segments.create(seed.name, seed.expression, caller, description=seed.description,
                                             targeting=seed.targeting, owner_department=seed.owner_department))
    return created
