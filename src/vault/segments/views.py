"""What the segment services return, the lifecycle's states and roles, and ``name@version`` references.

Lifecycle of a version (versions are immutable; only the status moves)::

    draft --(marketing, sales and crm_agent each approve)--> approved --activate--> active --retire--> retired
    draft / approved / active --(compliance_officer veto, with a reason)--> vetoed
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from vault.errors import InvalidInputError
from vault.segments.features import QUADRANTS, TIERS

if TYPE_CHECKING:
    from vault.segments.features import FeatureTable

APPROVERS = ("marketing", "sales", "crm_agent")
VETOER = "compliance_officer"
DRAFT, APPROVED, ACTIVE, RETIRED, VETOED = "draft", "approved", "active", "retired", "vetoed"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_-]{0,79})@(?P<version>\d{1,6})$")
SUMMARY_FEATURES = ("frequency", "monetary_krw", "recency_days", "churn_risk", "ltv_krw", "return_ratio",
                    "experience_score")
FEATURES_VERSION = 1


def parse_ref(ref: str) -> tuple[str, int]:
    """``core-customers@3`` -> ("core-customers", 3).

    Raises:
        InvalidInputError: not NAME@VERSION.
    """
    m = REF.match(ref.strip())
    if m is None:
        raise InvalidInputError(f"segment reference {ref[:100]!r} must be NAME@VERSION, e.g. core-customers@1",
                                field="segment")
    return m["name"], int(m["version"])


@dataclass(frozen=True, slots=True)
class EventView:
    """One lifecycle step."""

    action: str
    role: str
    actor: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class VersionView:
    """A version with its sign-off trail."""

    id: uuid.UUID
    name: str
    version: int
    description: str
    expression: str
    targeting: bool
    owner_department: str
    status: str
    created_by: str
    created_at: datetime
    events: tuple[EventView, ...]

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    @property
    def approvals(self) -> list[str]:
        """Roles that approved (once each)."""
        return sorted({e.role for e in self.events if e.action == "approve"})

    @property
    def missing_approvals(self) -> list[str]:
        """Approver roles still to sign off."""
        return [r for r in APPROVERS if r not in self.approvals]


@dataclass
class Preview:
    """The result of evaluating an expression without storing anything."""

    expression: str
    as_of: date
    size: int
    population: int
    names: list[str]
    summary: dict[str, Any]


@dataclass(frozen=True)
class SnapshotView:
    """A stored evaluation (ids live in ``segment_snapshot_members``)."""

    id: uuid.UUID
    ref: str
    as_of: date
    size: int
    population: int
    summary: dict[str, Any]
    created_by: str
    created_at: datetime


@dataclass
class DiffSide:
    """Customers who joined or left, with counts by tier and quadrant."""

    count: int = 0
    by_tier: dict[str, int] = field(default_factory=dict)
    by_quadrant: dict[str, int] = field(default_factory=dict)
    ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class SnapshotDiff:
    """Membership change from snapshot ``base`` to snapshot ``target``."""

    base: SnapshotView
    target: SnapshotView
    joined: DiffSide
    left: DiffSide
    stayed: int
    tier_changes: dict[str, int]


@dataclass
class VersionComparison:
    """Membership of two versions' expressions evaluated on the same feature table (nothing stored).

    ``joined`` are members of ``target`` only (by their tier/quadrant), ``left`` members of ``base`` only;
    their ``ids`` hold at most the requested sample (the counts are complete).
    """

    base: VersionView
    target: VersionView
    as_of: date
    population: int
    base_size: int
    target_size: int
    joined: DiffSide
    left: DiffSide
    stayed: int


@dataclass
class ConflictReport:
    """Members of a targeting segment that another department blocked."""

    snapshot: SnapshotView
    owner_department: str
    count: int
    by_label: dict[str, int]
    by_department: dict[str, int]
    customer_ids: list[uuid.UUID]


def summarize(members: pl.DataFrame, features: FeatureTable) -> dict[str, Any]:
    """Size, tier and quadrant counts and feature distributions (aggregates only, no ids)."""
    out: dict[str, Any] = {"size": members.height, "population": features.population,
                           "as_of": features.as_of.isoformat(), "features_version": FEATURES_VERSION}
    if "tier" in members.columns:
        counts = dict(members.group_by("tier").len().iter_rows())
        out["tiers"] = {t: int(counts.get(t, 0)) for t in TIERS}
    if "quadrant" in members.columns:
        counts = dict(members.group_by("quadrant").len().iter_rows())
        out["quadrants"] = {q: int(counts.get(q, 0)) for q in QUADRANTS}
    dist: dict[str, Any] = {}
    for name in SUMMARY_FEATURES:
        if name not in members.columns:
            continue
        col = members[name].drop_nulls().cast(pl.Float64)
        if col.is_empty():
            dist[name] = {"count": 0}
            continue
        dist[name] = {"count": col.len(), "min": col.min(), "p25": col.quantile(0.25, "lower"),
                      "median": col.quantile(0.5, "lower"), "p75": col.quantile(0.75, "lower"), "max": col.max(),
                      "mean": round(float(col.mean() or 0.0), 4)}  # type: ignore[arg-type]
    out["features"] = dist
    return out
