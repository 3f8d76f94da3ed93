"""Comparing memberships: two snapshots (diff), two versions' expressions now (compare), and a targeting
segment's members that another department blocked (conflicts). Each is audited durably before it returns."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import polars as pl

from vault.access import permissions as perms
from vault.audit.subjects import SubjectList
from vault.segments.base import SegmentBase
from vault.segments.errors import SegmentStateError
from vault.segments.expression import compile_expression
from vault.segments.features import SNAPSHOT_GROUPS
from vault.segments.views import ConflictReport, DiffSide, SnapshotDiff, VersionComparison, parse_ref

if TYPE_CHECKING:
    from datetime import date

    from vault.access.caller import Caller


class SegmentComparison(SegmentBase):
    """Diffs, comparisons and conflicts on one session (a read transaction)."""

    async def diff(self, base_id: uuid.UUID, target_id: uuid.UUID, caller: Caller, *,
                   with_ids: bool = False) -> SnapshotDiff:
        """Who joined and who left between two snapshots, by tier and quadrant.

        Joined members are classified by their tier/quadrant in ``target``, members who left by the
        one they had in ``base``; ``tier_changes`` counts stayers whose tier moved (``core->identified``).
        """
        base = await self.snapshot(base_id)
        target = await self.snapshot(target_id)
        await self._require(caller, perms.SEGMENTS_READ, "segment.diff", f"{base.ref},{target.ref}")
        a = await self._repo.members(base_id)
        b = await self._repo.members(target_id)
        joined, left = DiffSide(), DiffSide()
        for side, ids, source in ((joined, sorted(set(b) - set(a)), b), (left, sorted(set(a) - set(b)), a)):
            side.count = len(ids)
            for cid in ids:
                tier, quadrant = source[cid]
                side.by_tier[tier] = side.by_tier.get(tier, 0) + 1
                side.by_quadrant[quadrant] = side.by_quadrant.get(quadrant, 0) + 1
            if with_ids:
                side.ids = ids
        changes: dict[str, int] = {}
        stayed = set(a) & set(b)
        for cid in stayed:
            if a[cid][0] != b[cid][0]:
                key = f"{a[cid][0]}->{b[cid][0]}"
                changes[key] = changes.get(key, 0) + 1
        await self._audit("segment.diff", caller, f"{base.ref},{target.ref}",
                          f"base={base_id} target={target_id} joined={joined.count} left={left.count}")
        return SnapshotDiff(base, target, joined, left, len(stayed), dict(sorted(changes.items())))

    async def compare(self, base_ref: str, target_ref: str, caller: Caller, *, as_of: date | None = None,
                      sample: int = 5) -> VersionComparison:
        """Who the ``target`` version's expression adds and drops against ``base``'s, evaluated now (or at
        ``as_of``) over every customer not erased, storing nothing: drafts have no snapshot to compare yet.

        Audited as ``segment.compare`` with the counts; the sampled ids (only for roles that may see some
        customer field: never analysts) are recorded as the entry's subjects.

        Raises:
            SegmentNotFoundError: either version does not exist.
        """
        await self._require(caller, perms.SEGMENTS_READ, "segment.compare", f"{base_ref},{target_ref}")
        if not self.may_see_customers(caller):
            sample = 0  # analysts see members only as project pseudonyms, never customer ids
        base, target = await self.get(base_ref, caller), await self.get(target_ref, caller)
        a = compile_expression(base.expression, self.engine.catalogue)
        b = compile_expression(target.expression, self.engine.catalogue)
        table = await self.features(as_of, sorted(a.names | b.names), groups=sorted(SNAPSHOT_GROUPS))
        frame = table.frame.select("customer_id", "tier", "quadrant",
                                   a.predicate.fill_null(False).alias("_a"), b.predicate.fill_null(False).alias("_b"))
        joined, left = DiffSide(), DiffSide()
        for side, rows in ((joined, frame.filter(pl.col("_b") & ~pl.col("_a"))),
                           (left, frame.filter(pl.col("_a") & ~pl.col("_b")))):
            side.count = rows.height
            side.by_tier = {k: int(v) for k, v in rows.group_by("tier").len().iter_rows() if k is not None}
            side.by_quadrant = {k: int(v) for k, v in rows.group_by("quadrant").len().iter_rows() if k is not None}
            side.ids = [uuid.UUID(hex=h) for h in rows["customer_id"].sort().head(max(0, sample)).to_list()]
        sampled = SubjectList()
        for cid in sorted(joined.ids + left.ids, key=lambda u: u.bytes):
            sampled.append(cid)
        stayed = frame.filter(pl.col("_a") & pl.col("_b")).height
        base_size, target_size = int(frame["_a"].sum()), int(frame["_b"].sum())
        await self._audit("segment.compare", caller, f"{base.ref},{target.ref}",
                          f"as_of={table.as_of} joined={joined.count} left={left.count} stayed={stayed} "
                          f"sample={len(joined.ids) + len(left.ids)}",
                          subjects=sampled if joined.ids or left.ids else None)
        return VersionComparison(base, target, table.as_of, table.population, base_size, target_size, joined,
                                 left, stayed)

    async def conflicts(self, ref: str, caller: Caller) -> ConflictReport:
        """Members of the latest snapshot of a targeting version blocked (blacklist / do_not_contact) by
        a department other than the segment's owner.

        Raises:
            SegmentStateError: no snapshot yet (evaluate first).
        """
        await self._require(caller, perms.SEGMENTS_READ, "segment.conflicts", ref)
        snap = await self.latest_snapshot(ref)
        if snap is None:
            raise SegmentStateError(f"{ref} has no snapshot yet; evaluate it first")
        name, version = parse_ref(ref)
        owner = (await self._row(name, version)).owner_department
        found = await self._repo.blocked_members(snap.id, owner)
        by_label: dict[str, int] = {}
        by_dept: dict[str, int] = {}
        for _, label, dept in found:
            by_label[label] = by_label.get(label, 0) + 1
            by_dept[dept] = by_dept.get(dept, 0) + 1
        ids = sorted({c for c, _, _ in found})
        await self._audit("segment.conflicts", caller, ref, f"snapshot={snap.id} conflicts={len(ids)}")
        return ConflictReport(snap, owner, len(ids), by_label, by_dept, ids)
