"""Retention per field and purpose, and the holds that stop destruction (GDPR 5(1)(e), 17(3), 18; PIPA 21).

Once the customer relationship ends (the soft delete), each stored field is kept while a basis
for it lasts, and no longer:

- **purpose retention**: the longest ``retention_days`` (purposes.yaml) of the purposes that apply
  to the customer and use the field — every required purpose, every consent purpose the customer
  ever granted, and a legal-obligation purpose whose statute covers the customer and requires no
  retention of its own (``legal_claims`` for customers who made a request) — capped by the
  field's own ``retention_days`` (pii.yaml);
- **statutory retention**: a statute entry with ``retention_days`` (statutes.yaml) that covers the
  customer (its cohort), permits ``retain`` and lists the field. A field past its purpose retention
  but inside a statutory one is kept *only because a law requires it*: it moves to the separately
  keyed archive (:mod:`vault.rights.archive`) until the statute's period ends.

A field whose every basis ended is destroyed for that customer while the others stay; when no
field is left the customer is erased (crypto-shredded). Two holds stop all destruction and are
reported: restriction of processing (GDPR 18, PIPA 37: kept for legal claims) and an open data
subject request (the record must stay while it is answered).

This module is pure: :class:`RetentionRules` turns the facts about one customer into a plan.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from vault.policy.statutes import Cohort, StatuteAction

if TYPE_CHECKING:
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.purposes import Purpose, PurposeCatalogue
    from vault.policy.statutes import Statute, StatuteRegistry

RESTRICTION = "restriction"
OPEN_REQUEST = "open_request"
STATUTE = "statute"


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What retention needs to know about one customer (ids, dates, names; no values)."""

    id: uuid.UUID
    ended_at: datetime  # when the relationship ended (soft delete; an erasure: now)
    fields: tuple[str, ...]  # the fields the record holds
    granted: frozenset[str] = frozenset()  # consent purposes ever granted
    cohorts: frozenset[Cohort] = frozenset()  # statute cohorts the customer belongs to
    restricted_at: datetime | None = None
    open_requests: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class Hold:
    """Why (some of) a customer's data is not destroyed although its purpose retention ended."""

    customer_id: uuid.UUID
    kind: str  # restriction | open_request | statute
    basis: str  # the law or the request, in words (no personal data)
    fields: tuple[str, ...]
    until: datetime | None = None  # None: until lifted / answered

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {"customer_id": str(self.customer_id), "kind": self.kind, "basis": self.basis,
                "fields": list(self.fields), "until": self.until.isoformat() if self.until else None}


@dataclass(frozen=True, slots=True)
class Archival:
    """Fields kept only because ``statute`` requires it, until ``until``."""

    statute: Statute
    fields: tuple[str, ...]
    until: datetime


@dataclass(slots=True)
class FieldPlan:
    """What retention does to one customer at a given time."""

    customer_id: uuid.UUID
    ended_at: datetime
    destroy: list[str] = field(default_factory=list)  # every basis ended
    archive: list[Archival] = field(default_factory=list)  # kept only by law: to the archive
    keep: list[str] = field(default_factory=list)  # a purpose retention still runs
    holds: list[Hold] = field(default_factory=list)
    due_at: datetime | None = None  # when the earliest destroyed or archived field became due
    retention_days: int = 0  # the longest purpose retention applied

    @property
    def held(self) -> bool:
        """A restriction or an open request stops destruction."""
        return any(h.kind in (RESTRICTION, OPEN_REQUEST) for h in self.holds)

    @property
    def whole(self) -> bool:
        """Nothing stays in the customer record: erase the customer."""
        return not self.held and not self.keep and bool(self.destroy or self.archive)

    @property
    def acts(self) -> bool:
        """Something is to be destroyed or archived now."""
        return not self.held and bool(self.destroy or self.archive)


class RetentionRules:
    """The retention rules over the validated policy files (see the module docstring)."""

    def __init__(self, purposes: PurposeCatalogue, catalogue: FieldCatalogue, statutes: StatuteRegistry) -> None:
        self._purposes = purposes
        self._catalogue = catalogue
        self._statutes = statutes

    def _covers(self, statute: Statute, facts: CustomerFacts) -> bool:
        return statute.covers is Cohort.ALL_CUSTOMERS or statute.covers in facts.cohorts

    def statutory(self, facts: CustomerFacts) -> list[Statute]:
        """Statutes with a retention period of their own that cover the customer and permit retaining."""
        return [s for s in self._statutes.all()
                if s.retention_days and StatuteAction.RETAIN in s.actions and self._covers(s, facts)]

    def purposes_for(self, facts: CustomerFacts) -> list[Purpose]:
        """The purposes whose retention keeps the customer's data in place."""
        out = []
        for p in self._purposes:
            st = self._statutes.get(p.statute)
            if p.is_legal_obligation:
                # a statute with its own retention period keeps data in the archive, not in place
                if st is not None and self._covers(st, facts) and not st.retention_days:
                    out.append(p)
            elif p.required or p.id in facts.granted:
                out.append(p)
        return out

    def plan(self, facts: CustomerFacts, now: datetime) -> FieldPlan:
        """What to destroy, archive and keep for one customer whose relationship ended at ``facts.ended_at``."""
        plan = FieldPlan(facts.id, facts.ended_at)
        purposes = self.purposes_for(facts)
        plan.retention_days = max((p.retention_days for p in purposes), default=0)
        statutes = self.statutory(facts)
        archive: dict[str, tuple[Statute, datetime]] = {}
        due: list[datetime] = []
        for name in facts.fields:
            using = [p.retention_days for p in purposes if name in p.fields]
            cap = self._catalogue[name].retention_days if name in self._catalogue else 0
            kept_until = facts.ended_at + timedelta(days=min(cap, max(using)) if using else 0)
            if now < kept_until:
                plan.keep.append(name)
                continue
            law = [(facts.ended_at + timedelta(days=s.retention_days or 0), s) for s in statutes if name in s.fields]
            until, statute = max(law, key=lambda t: t[0]) if law else (None, None)
            if until is not None and statute is not None and now < until:
                archive[name] = (statute, until)
            else:
                plan.destroy.append(name)
            due.append(kept_until)
        by_statute: dict[str, list[str]] = {}
        for name, (statute, _) in archive.items():
            by_statute.setdefault(statute.id, []).append(name)
        for sid, names in by_statute.items():
            statute, until = archive[names[0]]
            plan.archive.append(Archival(statute, tuple(sorted(names)), until))
            plan.holds.append(Hold(facts.id, STATUTE, f"statute {sid}: {statute.citation}", tuple(sorted(names)),
                                   until))
        plan.due_at = min(due) if due else None
        if plan.destroy or plan.archive:
            touched = tuple(sorted([*plan.destroy, *archive]))
            if facts.restricted_at is not None:
                plan.holds.insert(0, Hold(facts.id, RESTRICTION,
                                          f"processing restricted since {facts.restricted_at.date()} "
                                          "(GDPR Art. 18, PIPA Art. 37): kept for legal claims", touched))
            for rid in facts.open_requests:
                plan.holds.insert(0, Hold(facts.id, OPEN_REQUEST,
                                          f"data subject request {rid} is open: kept while it is answered", touched))
        return plan
