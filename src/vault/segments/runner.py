"""The segment use cases as the entry points (API, console, CLI, bootstrap's wiring for vault.privacy) run
them: the one place in the package that opens transactions for them.

The services (:class:`~vault.segments.versions.SegmentVersions`, :class:`~vault.segments.evaluation.SegmentEvaluation`,
:class:`~vault.segments.compare.SegmentComparison`, :class:`~vault.segments.scopes.SegmentScopes`) work on the
session they are given and never commit. Reads run in a read transaction, their entries committed durably before
they return; lifecycle steps in a write transaction with their events and entries. A guard denial comes
before any statement, so it is durable at once (no write lock is held yet). An evaluation computes its features in
a read transaction, stores the snapshot in a write one, and then commits the entry naming the members.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.segments.base import may_see_customers
from vault.segments.compare import SegmentComparison
from vault.segments.evaluation import SegmentEvaluation, record_evaluation
from vault.segments.scopes import SegmentScopes
from vault.segments.versions import SegmentVersions

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence
    from datetime import date

    import polars as pl

    from vault.access.caller import Caller
    from vault.segments.base import SegmentDeps
    from vault.segments.features import FeatureEngine, FeatureTable
    from vault.segments.repository import ScopeClause
    from vault.segments.views import (
        ConflictReport,
        Preview,
        SnapshotDiff,
        SnapshotView,
        VersionComparison,
        VersionView,
    )


class SegmentRunner:
    """Runs each segment use case in its own transaction(s); built from the process's :class:`SegmentDeps`."""

    def __init__(self, deps: SegmentDeps) -> None:
        self._d = deps

    @property
    def engine(self) -> FeatureEngine:
        """The feature engine (its catalogue lists every feature an expression may use)."""
        return self._d.engine

    @property
    def feature_names(self) -> list[str]:
        """Every name an expression may use."""
        return self._d.engine.catalogue.names

    def may_see_customers(self, caller: Caller) -> bool:
        """Whether customer ids of members may be shown to the caller's role (an analyst's may not)."""
        return may_see_customers(self._d, caller)

    # -- preview and evaluation ---------------------------------------------------------------------

    async def features(self, as_of: date | None, names: Sequence[str] = (), *,
                       groups: Sequence[str] = ()) -> FeatureTable:
        """The feature table for ``as_of`` (default: today in Asia/Seoul) with what ``names`` need."""
        async with self._d.db.read() as session:
            return await SegmentEvaluation(session, self._d).features(as_of, names, groups=groups)

    async def preview(self, expression: str, caller: Caller, as_of: date | None = None) -> Preview:
        """Evaluate an expression, storing nothing (see :meth:`SegmentEvaluation.preview`)."""
        async with self._d.db.read() as session:
            return await SegmentEvaluation(session, self._d).preview(expression, caller, as_of)

    async def evaluate(self, ref: str, caller: Caller, as_of: date | None = None) -> SnapshotView:
        """Evaluate a version and store its membership snapshot; the entry naming the members is committed
        after the snapshot, before this returns (see :meth:`SegmentEvaluation.plan`).

        Raises:
            SegmentStateError: the version is not active (409).
        """
        async with self._d.db.read() as session:
            plan = await SegmentEvaluation(session, self._d).plan(ref, caller, as_of)
        async with self._d.db.write() as session:
            snap = await SegmentEvaluation(session, self._d).store(plan, caller)
        await record_evaluation(self._d, plan, caller)
        return snap

    async def snapshots(self, ref: str, caller: Caller) -> list[SnapshotView]:
        """A version's snapshots, newest first (audited)."""
        async with self._d.db.read() as session:
            return await SegmentEvaluation(session, self._d).snapshots(ref, caller)

    async def latest_snapshot(self, ref: str, as_of: date | None = None) -> SnapshotView | None:
        """The newest snapshot of ``ref`` (at ``as_of`` when given), or None."""
        async with self._d.db.read() as session:
            return await SegmentEvaluation(session, self._d).latest_snapshot(ref, as_of)

    async def snapshot(self, snapshot_id: uuid.UUID) -> SnapshotView:
        """One snapshot by id (SegmentNotFoundError if none)."""
        async with self._d.db.read() as session:
            return await SegmentEvaluation(session, self._d).snapshot(snapshot_id)

    # -- versions -----------------------------------------------------------------------------------

    async def create(self, name: str, expression: str, caller: Caller, *, description: str = "",
                     targeting: bool = True, owner_department: str | None = None) -> VersionView:
        """Create the next version of ``name`` as a draft (see :meth:`SegmentVersions.create`)."""
        async with self._d.db.write() as session:
            return await SegmentVersions(session, self._d).create(
                name, expression, caller, description=description, targeting=targeting,
                owner_department=owner_department)

    async def get(self, ref: str, caller: Caller) -> VersionView:
        """One version with its sign-off trail."""
        async with self._d.db.read() as session:
            return await SegmentVersions(session, self._d).get(ref, caller)

    async def versions(self, caller: Caller, name: str | None = None) -> list[VersionView]:
        """Every version (of ``name``), newest version first per name."""
        async with self._d.db.read() as session:
            return await SegmentVersions(session, self._d).versions(caller, name)

    async def approve(self, ref: str, caller: Caller) -> VersionView:
        """A department's sign-off (see :meth:`SegmentVersions.approve`)."""
        async with self._d.db.write() as session:
            return await SegmentVersions(session, self._d).approve(ref, caller)

    async def veto(self, ref: str, reason: str, caller: Caller) -> VersionView:
        """Compliance veto (see :meth:`SegmentVersions.veto`)."""
        async with self._d.db.write() as session:
            return await SegmentVersions(session, self._d).veto(ref, reason, caller)

    async def activate(self, ref: str, caller: Caller) -> VersionView:
        """Make an approved version usable (see :meth:`SegmentVersions.activate`)."""
        async with self._d.db.write() as session:
            return await SegmentVersions(session, self._d).activate(ref, caller)

    async def retire(self, ref: str, caller: Caller) -> VersionView:
        """Take an active version out of use (see :meth:`SegmentVersions.retire`)."""
        async with self._d.db.write() as session:
            return await SegmentVersions(session, self._d).retire(ref, caller)

    # -- comparisons --------------------------------------------------------------------------------

    async def diff(self, base_id: uuid.UUID, target_id: uuid.UUID, caller: Caller, *,
                   with_ids: bool = False) -> SnapshotDiff:
        """Who joined and who left between two snapshots (see :meth:`SegmentComparison.diff`)."""
        async with self._d.db.read() as session:
            return await SegmentComparison(session, self._d).diff(base_id, target_id, caller, with_ids=with_ids)

    async def compare(self, base_ref: str, target_ref: str, caller: Caller, *, as_of: date | None = None,
                      sample: int = 5) -> VersionComparison:
        """Two versions' memberships now (see :meth:`SegmentComparison.compare`)."""
        async with self._d.db.read() as session:
            return await SegmentComparison(session, self._d).compare(base_ref, target_ref, caller, as_of=as_of,
                                                                     sample=sample)

    async def conflicts(self, ref: str, caller: Caller) -> ConflictReport:
        """Members blocked by another department (see :meth:`SegmentComparison.conflicts`)."""
        async with self._d.db.read() as session:
            return await SegmentComparison(session, self._d).conflicts(ref, caller)

    # -- scopes -------------------------------------------------------------------------------------

    async def member_pseudonyms(self, ref: str, project: str, caller: Caller) -> tuple[SnapshotView, list[str]]:
        """Members as project pseudonyms (see :meth:`SegmentScopes.member_pseudonyms`)."""
        async with self._d.db.read() as session:
            return await SegmentScopes(session, self._d).member_pseudonyms(ref, project, caller)

    async def snapshot_table(self, snapshot_id: uuid.UUID, caller: Caller,
                             names: Sequence[str] = ()) -> pl.DataFrame:
        """A snapshot's members with their features (see :meth:`SegmentScopes.snapshot_table`)."""
        async with self._d.db.read() as session:
            return await SegmentScopes(session, self._d).snapshot_table(snapshot_id, caller, names)

    async def extract_snapshot(self, ref: str) -> SnapshotView:
        """The snapshot an extract of ``ref`` would use (see :meth:`SegmentScopes.extract_snapshot`)."""
        async with self._d.db.read() as session:
            return await SegmentScopes(session, self._d).extract_snapshot(ref)

    async def extract_scope(self, ref: str, caller: Caller) -> tuple[SnapshotView, pl.DataFrame]:
        """A segment-scoped extract's membership and aggregates (see :meth:`SegmentScopes.extract_scope`)."""
        async with self._d.db.read() as session:
            return await SegmentScopes(session, self._d).extract_scope(ref, caller)

    async def contact_scope(self, ref: str, caller: Caller) -> tuple[SnapshotView, ScopeClause]:
        """The snapshot and membership clause for contacts by segment (see :meth:`SegmentScopes.contact_scope`)."""
        async with self._d.db.read() as session:
            return await SegmentScopes(session, self._d).contact_scope(ref, caller)
