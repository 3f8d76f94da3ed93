"""A segment's members as other packages use them: analysts' pseudonyms, the scope of a segment-scoped
extract (vault.privacy) and of contact resolution by segment (vault.consent, through the API)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import polars as pl

from vault.access import permissions as perms
from vault.audit.subjects import SubjectList
from vault.errors import InvalidInputError
from vault.segments.base import SegmentBase
from vault.segments.errors import SegmentStateError
from vault.segments.features import day_number
from vault.segments.repository import ScopeClause, member_clause
from vault.segments.views import ACTIVE, RETIRED, SnapshotView, parse_ref

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence

    from vault.access.caller import Caller

PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class SegmentScopes(SegmentBase):
    """Members for analysts, extracts and contact resolution, on one session (a read transaction)."""

    @property
    def feature_names(self) -> list[str]:
        """Every name an expression may use."""
        return self.engine.catalogue.names

    async def member_pseudonyms(self, ref: str, project: str, caller: Caller) -> tuple[SnapshotView, list[str]]:
        """The latest snapshot's members as ``project`` pseudonyms, only those with a current analytics
        basis and not restricted (audited durably with the subjects).
        """
        await self._require(caller, perms.SEGMENTS_MEMBERS, "segment.members", ref, purpose="analytics")
        if not PROJECT.match(project or ""):
            raise InvalidInputError("project must be 1-64 characters a-z 0-9 _ -", field="project")
        snap = await self.latest_snapshot(ref)
        if snap is None:
            raise SegmentStateError(f"{ref} has no snapshot yet; evaluate it first")
        analytics = self._d.purposes.get("analytics")
        if analytics is None:
            raise SegmentStateError("purpose 'analytics' is not defined")
        ids = sorted(await self._repo.analytics_members(snap.id, analytics, self._d.clock()), key=lambda u: u.bytes)
        subjects = SubjectList()
        for cid in ids:
            subjects.append(cid)
        pseudonym = self._d.keyring.pseudonyms.pseudonym
        out = sorted(pseudonym(project, cid) for cid in ids)
        await self._audit("segment.members", caller.for_purpose("analytics"), ref,
                          f"snapshot={snap.id} project={project} members={len(out)}", subjects=subjects)
        return snap, out

    async def snapshot_table(self, snapshot_id: uuid.UUID, caller: Caller,
                             names: Sequence[str] = ()) -> pl.DataFrame:
        """A snapshot's members joined with their features at the snapshot's as-of date.

        For segment-scoped analytics (vault.privacy): one row per member, ``customer_id`` as
        ``uuid.UUID`` hex strings, ``tier``/``quadrant`` as stored, plus the feature columns
        ``names`` need (all behaviour features always). Holds no decrypted PII unless a
        demographic name (``age_band``, ``region``, ``gender``) is asked for, and then only the
        generalized values. The caller pseudonymizes before anything leaves the vault.
        """
        snap = await self.snapshot(snapshot_id)
        await self._require(caller, perms.SEGMENTS_MEMBERS, "segment.members", snap.ref, purpose="analytics")
        unknown = [n for n in names if n not in self.engine.catalogue]
        if unknown:
            raise InvalidInputError(f"unknown features {unknown}; valid: {', '.join(self.feature_names)}")
        members = await self._repo.members(snapshot_id)
        table = await self.features(snap.as_of, names)
        ids = pl.DataFrame({"customer_id": [c.hex for c in members],
                            "tier": [v[0] for v in members.values()],
                            "quadrant": [v[1] for v in members.values()]})
        frame = ids.join(table.frame.drop([c for c in ("tier", "quadrant") if c in table.frame.columns]),
                         on="customer_id", how="left")
        return frame.sort("customer_id")

    async def extract_snapshot(self, ref: str) -> SnapshotView:
        """The snapshot a segment-scoped extract of ``ref`` would use (checked when the job is submitted, so a
        spec naming a version that cannot be used is refused at once instead of failing later).

        Raises:
            InvalidInputError: not NAME@VERSION.
            SegmentNotFoundError: no such version.
            SegmentStateError: the version was never activated (draft, approved, vetoed), or it has no
                snapshot other than an operator's trial (409).
        """
        name, version = parse_ref(ref)
        status = (await self._row(name, version)).status
        if status not in (ACTIVE, RETIRED):
            raise SegmentStateError(f"{ref} is {status}; extracts use only versions signed off by marketing, sales "
                                    "and CRM and activated", state=status)
        snap = await self.latest_snapshot(ref)
        if snap is None or snap.summary.get("trial"):
            raise SegmentStateError(f"{ref} has no snapshot yet; evaluate it first", state=status)
        return snap

    async def extract_scope(self, ref: str, caller: Caller) -> tuple[SnapshotView, pl.DataFrame]:
        """For a segment-scoped analytics extract: the frozen membership of a signed-off version and each
        member's behaviour aggregates at the snapshot's as-of date (no PII; ids as 32 hex digits).

        Columns: ``customer_id``, ``spend`` (KRW of purchases not returned in the 365-day window),
        ``orders`` (those purchases), ``returns`` (returned transactions in the window), ``categories``
        (distinct categories of those purchases), ``r_score``/``f_score``/``m_score`` (1-5, null without
        purchases), ``rfm``, and the ``tier``/``quadrant`` stored with the snapshot.

        Raises:
            InvalidInputError: not NAME@VERSION.
            SegmentNotFoundError: no such version.
            SegmentStateError: the version was never activated (draft, approved, vetoed), or it has no
                snapshot other than an operator's trial (409).
        """
        snap = await self.extract_snapshot(ref)
        table = await self.snapshot_table(snap.id, caller, ["frequency", "monetary_krw", "rfm"])
        rows = await self._repo.category_counts(day_number(snap.as_of))
        categories = pl.DataFrame({"customer_id": [c.hex for c, _ in rows], "categories": [n for _, n in rows]},
                                  schema={"customer_id": pl.String, "categories": pl.Int64})
        frame = table.join(categories, on="customer_id", how="left").select(
            "customer_id",
            spend=pl.col("monetary_krw").fill_null(0).cast(pl.Int64),
            orders=pl.col("frequency").fill_null(0).cast(pl.Int64),
            returns=pl.col("window_returned").fill_null(0).cast(pl.Int64),
            categories=pl.col("categories").fill_null(0),
            r_score=pl.col("r_score"), f_score=pl.col("f_score"), m_score=pl.col("m_score"),
            rfm=pl.col("rfm"), tier=pl.col("tier"), quadrant=pl.col("quadrant"))
        return snap, frame

    async def contact_scope(self, ref: str, caller: Caller) -> tuple[SnapshotView, ScopeClause]:
        """For contact resolution by segment: the latest snapshot of an active version and a SQL clause
        factory "the customer is a member of it".

        Raises:
            SegmentStateError: the version is not active or has no snapshot (409).
        """
        await self._require(caller, perms.SEGMENTS_READ, "segment.contacts", ref)
        name, version = parse_ref(ref)
        status = (await self._row(name, version)).status
        if status != ACTIVE:
            raise SegmentStateError(f"{ref} is {status}; contacts can be resolved only for an active version",
                                    state=status)
        snap = await self.latest_snapshot(ref)
        if snap is None:
            raise SegmentStateError(f"{ref} has no snapshot yet; evaluate it first")
        return snap, member_clause(snap.id)
