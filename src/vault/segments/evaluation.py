"""Evaluating segments: preview an expression, evaluate a version into a membership snapshot, list snapshots.

An evaluation takes three steps so that the features are computed outside the write lock and the audit entry
is committed after the snapshot (:meth:`vault.segments.runner.SegmentRunner.evaluate` runs them):
:meth:`SegmentEvaluation.plan` in a read transaction, :meth:`SegmentEvaluation.store` in a write one, then
:func:`record_evaluation`, the durable entry naming every member.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vault.access import permissions as perms
from vault.audit.subjects import SubjectList
from vault.segments.base import SegmentBase, audit_event
from vault.segments.errors import SegmentStateError
from vault.segments.expression import compile_expression
from vault.segments.features import SNAPSHOT_GROUPS
from vault.segments.models import SnapshotRow
from vault.segments.views import (
    ACTIVE,
    RETIRED,
    SUMMARY_FEATURES,
    VETOED,
    Preview,
    SnapshotView,
    parse_ref,
    summarize,
)

if TYPE_CHECKING:
    from datetime import date

    import polars as pl

    from vault.access.caller import Caller
    from vault.segments.base import SegmentDeps


@dataclass(frozen=True)
class EvaluationPlan:
    """An evaluated version, not stored yet: its members (id, tier, quadrant, summary features) and summary."""

    ref: str
    version_id: uuid.UUID
    snapshot_id: uuid.UUID
    as_of: date
    population: int
    members: pl.DataFrame
    summary: dict[str, Any]
    trial: bool

    @property
    def member_ids(self) -> list[uuid.UUID]:
        """The members' customer ids, in the feature table's order."""
        return [uuid.UUID(hex=h) for h in self.members["customer_id"].to_list()]


class SegmentEvaluation(SegmentBase):
    """Preview, evaluation and snapshot reads on one session."""

    async def preview(self, expression: str, caller: Caller, as_of: date | None = None) -> Preview:
        """Evaluate ``expression`` over every customer not erased, storing nothing (audited durably: counts only).

        Raises:
            ExpressionError: syntax, unknown name or type error, with the column (422).
        """
        await self._require(caller, perms.SEGMENTS_READ, "segment.preview", None)
        compiled = compile_expression(expression, self.engine.catalogue)
        table = await self.features(as_of, sorted(compiled.names), groups=sorted(SNAPSHOT_GROUPS))
        members = table.frame.filter(compiled.predicate)
        summary = summarize(members, table)
        digest = hashlib.sha256(expression.encode()).hexdigest()[:16]
        await self._audit("segment.preview", caller, None,
                          f"expression_sha256={digest} as_of={table.as_of} size={members.height}")
        return Preview(expression, table.as_of, members.height, table.population, sorted(compiled.names), summary)

    async def plan(self, ref: str, caller: Caller, as_of: date | None = None) -> EvaluationPlan:
        """Evaluate an active version's expression (the first step of an evaluation; stores nothing).

        The local operator (no principal) may also evaluate a draft or approved version as a trial
        (``summary["trial"]``); nobody may evaluate a vetoed or retired one.

        Raises:
            SegmentStateError: the version is not active (409).
        """
        await self._require(caller, perms.SEGMENTS_EVALUATE, "segment.evaluate", ref)
        name, version = parse_ref(ref)
        row = await self._row(name, version)
        status, expression, version_id = row.status, row.expression, row.id
        trial = status != ACTIVE
        if status in (VETOED, RETIRED) or (trial and caller.principal is not None):
            raise SegmentStateError(f"{ref} is {status}; only an active version can be evaluated", state=status)
        compiled = compile_expression(expression, self.engine.catalogue)
        table = await self.features(as_of, sorted(compiled.names), groups=sorted(SNAPSHOT_GROUPS))
        members = table.frame.filter(compiled.predicate).select("customer_id", "tier", "quadrant",
                                                                *[c for c in table.frame.columns
                                                                  if c in SUMMARY_FEATURES])
        summary = summarize(members, table)
        summary["trial"] = trial
        summary["expression"] = expression
        return EvaluationPlan(ref, version_id, uuid.uuid4(), table.as_of, table.population, members, summary, trial)

    async def store(self, plan: EvaluationPlan, caller: Caller) -> SnapshotView:
        """Store the planned snapshot and its members (the second step, in a write transaction)."""
        now = self._d.clock()
        members = plan.members
        await self._repo.add_snapshot(
            SnapshotRow(id=plan.snapshot_id, version_id=plan.version_id, as_of=plan.as_of, size=members.height,
                        population=plan.population, summary=plan.summary, created_by=caller.actor.name[:100],
                        created_at=now),
            [{"snapshot_id": plan.snapshot_id, "customer_id": cid, "tier": t, "quadrant": q}
             for cid, t, q in zip(plan.member_ids, members["tier"].to_list(), members["quadrant"].to_list(),
                                  strict=True)])
        return SnapshotView(plan.snapshot_id, plan.ref, plan.as_of, members.height, plan.population, plan.summary,
                            caller.actor.name[:100], now)

    async def snapshots(self, ref: str, caller: Caller) -> list[SnapshotView]:
        """A version's snapshots, newest first (summaries only; audited)."""
        await self._require(caller, perms.SEGMENTS_READ, "segment.summary", ref)
        name, version = parse_ref(ref)
        row = await self._row(name, version)
        out = [await self._snapshot_view(s) for s in await self._repo.snapshots(row.id)]
        await self._audit("segment.summary", caller, ref, f"snapshots={len(out)}")
        return out


async def record_evaluation(deps: SegmentDeps, plan: EvaluationPlan, caller: Caller) -> int:
    """The evaluation's audit entry, naming every member, committed once the snapshot is (the last step)."""
    subjects = SubjectList()
    for cid in plan.member_ids:
        subjects.append(cid)
    event = audit_event("segment.evaluate", caller, plan.ref,
                        f"snapshot={plan.snapshot_id} as_of={plan.as_of} size={plan.members.height}"
                        + (" trial=true" if plan.trial else ""))
    return await deps.audit.record_bulk_durable(event, subjects)
