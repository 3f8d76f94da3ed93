"""Statute registry (policies/statutes.yaml), validated at start-up.

A purpose resting on a legal obligation names a registry entry (``statute:``) instead of a
free-text reference. Each entry records its citation, the actions it permits (``collect``,
``use``, ``retain``, ``provide``), the fields it covers and which customers it covers (a cohort,
e.g. prize winners for prize withholding tax), and how long the law requires the data to be
kept. Start-up refuses:

- a ``legal_obligation`` purpose without a registry entry, or naming an unknown one;
- a field marked ``requires_statute`` (the RRN) in a purpose whose statute does not permit
  collecting that field (PIPA art. 24-2: an RRN only where a law requires or permits it);
- a statute listing an unknown field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vault.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


class StatuteAction(StrEnum):
    """What a statute permits doing with the fields it lists."""

    COLLECT = "collect"
    USE = "use"
    RETAIN = "retain"
    PROVIDE = "provide"


class Cohort(StrEnum):
    """Which customers a statute covers."""

    ALL_CUSTOMERS = "all_customers"
    PRIZE_WINNERS = "prize_winners"
    CUSTOMERS_WITH_ORDERS = "customers_with_orders"
    DATA_SUBJECTS_WITH_REQUESTS = "data_subjects_with_requests"


class Statute(BaseModel):
    """One statute entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    citation: str = Field(min_length=3)
    actions: tuple[StatuteAction, ...] = Field(min_length=1)
    fields: tuple[str, ...] = Field(min_length=1)
    covers: Cohort
    retention_days: int | None = Field(default=None, gt=0)
    note: str | None = None

    def permits(self, action: StatuteAction, field: str) -> bool:
        """Whether this statute permits ``action`` on ``field``."""
        return action in self.actions and field in self.fields


class StatuteRegistry:
    """All statute entries, by id."""

    def __init__(self, statutes: dict[str, Statute]) -> None:
        self._statutes = statutes

    def __contains__(self, statute_id: object) -> bool:
        return statute_id in self._statutes

    def get(self, statute_id: str | None) -> Statute | None:
        """The entry with ``statute_id``, or None."""
        return self._statutes.get(statute_id) if statute_id else None

    @property
    def ids(self) -> list[str]:
        """Sorted ids."""
        return sorted(self._statutes)

    def all(self) -> list[Statute]:
        """Every entry."""
        return list(self._statutes.values())


class PurposeLike(Protocol):
    """What the registry checks of a purpose."""

    @property
    def id(self) -> str: ...
    @property
    def fields(self) -> tuple[str, ...]: ...
    @property
    def statute(self) -> str | None: ...
    @property
    def is_legal_obligation(self) -> bool: ...


def load_statutes(path: Path) -> StatuteRegistry:
    """Load and validate statutes.yaml (structure only; :func:`check_statutes` cross-validates).

    Raises:
        ConfigurationError: naming the file and the entry at fault.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read statute registry: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("statutes"), dict) or not doc["statutes"]:
        raise ConfigurationError(f"{path}: expected a mapping 'statutes' with at least one entry")
    out: dict[str, Statute] = {}
    for sid, body in doc["statutes"].items():
        if not isinstance(body, dict):
            raise ConfigurationError(f"{path}: statute {sid!r}: expected a mapping")
        try:
            out[str(sid)] = Statute.model_validate({"id": str(sid), **body})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(entry)"
            raise ConfigurationError(f"{path}: statute {sid!r}, {where}: {err['msg']}") from exc
    return StatuteRegistry(out)


def check_statutes(path: Path, registry: StatuteRegistry, purposes: Iterable[PurposeLike],
                   catalogued: set[str], statute_only: set[str]) -> None:
    """Cross-validate the registry with the purposes and the field catalogue (see the module docstring).

    Args:
        path: the registry file (named in errors).
        registry: the loaded registry.
        purposes: every purpose.
        catalogued: every catalogued field name.
        statute_only: fields marked ``requires_statute``.

    Raises:
        ConfigurationError: naming the purpose, statute and field at fault.
    """
    for entry in registry.all():
        unknown = [f for f in entry.fields if f not in catalogued]
        if unknown:
            raise ConfigurationError(f"{path}: statute {entry.id!r} lists unknown fields {unknown}")
    for p in purposes:
        st = registry.get(p.statute)
        if p.statute is not None and st is None:
            raise ConfigurationError(f"{path}: purpose {p.id!r} names unknown statute {p.statute!r} "
                                     f"(known: {', '.join(registry.ids)})")
        if p.is_legal_obligation and st is None:
            raise ConfigurationError(f"{path}: purpose {p.id!r} rests on a legal obligation but names no statute")
        for fname in p.fields:
            if fname in statute_only and (st is None or not st.permits(StatuteAction.COLLECT, fname)):
                raise ConfigurationError(
                    f"{path}: purpose {p.id!r} uses {fname!r}, which only a statute permitting its collection "
                    f"allows; {'statute ' + repr(st.id) + ' does not' if st else 'the purpose names none'}")
