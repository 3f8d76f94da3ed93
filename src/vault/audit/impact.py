"""Breach scoping: which customers did a principal, an API key or a KEK version touch, and when.

GDPR arts. 33/34 and PIPA art. 34 ask the controller to tell the authority (within 72 hours of
becoming aware) and the people affected which personal data was involved. Starting from the
audit log, :func:`scope_from_log` collects every *allowed* entry of a principal or a key in a
time window, single-customer entries and the subjects of bulk entries alike (the
``audit_subjects`` side table), and groups them per customer with the fields and data
categories involved. Denied entries released nothing; they are counted, not listed.

A leaked KEK version exposes every DEK wrapped under it, so its scope is the customers whose
DEK it wraps (supplied by the caller, which knows the customer table) with every catalogued
field. The report holds customer ids, field names and counts, never values.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from vault.audit.models import AuditEntryRow, AuditSubjectRow
from vault.errors import BadRequestError
from vault.lib.clock import as_utc, utcnow

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from sqlalchemy import ColumnElement
    from sqlalchemy.ext.asyncio import AsyncSession

#: Hours a controller has to notify the supervisory authority after becoming aware of a breach.
NOTIFY_WITHIN = timedelta(hours=72)
_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class ImpactQuery:
    """What to scope: exactly one of principal, key prefix or KEK version, in ``[since, until)``."""

    principal_id: uuid.UUID | None = None
    key_prefix: str | None = None
    kek_version: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    detected_at: datetime | None = None
    """When the controller became aware (starts the 72-hour clock); now when not given."""

    def validate(self) -> None:
        """Raises BadRequestError unless exactly one scope is given and the window is ordered."""
        given = [x for x in (self.principal_id, self.key_prefix, self.kek_version) if x is not None]
        if len(given) != 1:
            raise BadRequestError("give exactly one of principal, key (prefix) or kek_version")
        if self.since is not None and self.until is not None and as_utc(self.since) >= as_utc(self.until):
            raise BadRequestError("since must be before until")

    @property
    def scope(self) -> str:
        """``principal:<id>``, ``key:<prefix>`` or ``kek:<version>``."""
        if self.principal_id is not None:
            return f"principal:{self.principal_id}"
        if self.key_prefix is not None:
            return f"key:{self.key_prefix}"
        return f"kek:{self.kek_version}"


@dataclass(slots=True)
class AffectedCustomer:
    """One customer in the scope: how often and when touched, and which fields."""

    customer_id: uuid.UUID
    entries: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    fields: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class ImpactReport:
    """The scope of a suspected breach and the notification clock."""

    scope: str
    since: datetime | None
    until: datetime | None
    detected_at: datetime
    entries: int
    denied: int
    customers: list[AffectedCustomer]
    categories: dict[str, int]
    fields: dict[str, int]
    actions: dict[str, int]
    purposes: dict[str, int]

    @property
    def notify_authority_by(self) -> datetime:
        """``detected_at`` + 72 hours (GDPR art. 33(1); PIPA art. 34 and its decree)."""
        return self.detected_at + NOTIFY_WITHIN

    def hours_left(self, now: datetime | None = None) -> float:
        """Hours until :attr:`notify_authority_by` (negative when overdue)."""
        return round((self.notify_authority_by - (now or utcnow())).total_seconds() / 3600, 1)

    def as_dict(self, *, limit: int) -> dict[str, Any]:
        """The JSON-ready report with at most ``limit`` customers (ids, field names, counts, times; no PII)."""
        return {
            "scope": self.scope, "since": _iso(self.since) or None, "until": _iso(self.until) or None,
            "detected_at": _iso(self.detected_at), "notify_authority_by": _iso(self.notify_authority_by),
            "hours_left": self.hours_left(), "entries": self.entries, "denied": self.denied,
            "customer_count": len(self.customers), "categories": self.categories, "fields": self.fields,
            "actions": self.actions, "purposes": self.purposes, "truncated": len(self.customers) > limit,
            "customers": [
                {"customer_id": str(c.customer_id), "entries": c.entries, "first_access": _iso(c.first_at),
                 "last_access": _iso(c.last_at), "fields": sorted(c.fields), "categories": sorted(c.categories)}
                for c in self.customers[:limit]],
        }

    def notification_csv(self) -> str:
        """The notification list: one row per affected customer (ids, field names, times; no PII)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["customer_id", "entries", "first_access", "last_access", "fields", "categories",
                    "detected_at", "notify_authority_by"])
        for c in self.customers:
            w.writerow([str(c.customer_id), c.entries, _iso(c.first_at), _iso(c.last_at), " ".join(sorted(c.fields)),
                        " ".join(sorted(c.categories)), _iso(self.detected_at), _iso(self.notify_authority_by)])
        return buf.getvalue()


def _iso(ts: datetime | None) -> str:
    return as_utc(ts).isoformat() if ts is not None else ""


def _touch(c: AffectedCustomer, ts: datetime, fields: Iterable[str], categories: Mapping[str, str]) -> None:
    ts = as_utc(ts)
    c.entries += 1
    c.first_at = ts if c.first_at is None or ts < c.first_at else c.first_at
    c.last_at = ts if c.last_at is None or ts > c.last_at else c.last_at
    for f in fields:
        c.fields.add(f)
        c.categories.add(categories.get(f, "unclassified"))


def _window(q: ImpactQuery) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if q.since is not None:
        clauses.append(AuditEntryRow.ts >= q.since)
    if q.until is not None:
        clauses.append(AuditEntryRow.ts < q.until)
    return clauses


async def scope_from_log(session: AsyncSession, q: ImpactQuery, categories: Mapping[str, str]) -> ImpactReport:
    """Scope a principal or a key from the audit log (see the module docstring).

    Args:
        session: a read session.
        q: the query (principal or key prefix; validated).
        categories: field name -> data category (the field catalogue's classes).
    """
    q.validate()
    if q.kek_version is not None:
        raise BadRequestError("a KEK version is scoped from the customer table, not the log")
    who = (AuditEntryRow.principal_id == q.principal_id if q.principal_id is not None
           else AuditEntryRow.key_prefix == q.key_prefix)
    affected: dict[uuid.UUID, AffectedCustomer] = {}
    actions: Counter[str] = Counter()
    purposes: Counter[str] = Counter()
    entries = denied = 0
    after = 0
    while True:
        rows = (await session.execute(select(
            AuditEntryRow.seq, AuditEntryRow.ts, AuditEntryRow.action, AuditEntryRow.purpose, AuditEntryRow.outcome,
            AuditEntryRow.customer_id, AuditEntryRow.subjects_digest, AuditEntryRow.fields,
        ).where(who, AuditEntryRow.seq > after, *_window(q)).order_by(AuditEntryRow.seq).limit(_CHUNK))).all()
        if not rows:
            break
        after = rows[-1].seq
        bulk = [r.seq for r in rows if r.outcome == "allowed" and r.subjects_digest is not None]
        subjects: dict[int, list[uuid.UUID]] = {}
        if bulk:
            for seq, cid in (await session.execute(select(AuditSubjectRow.seq, AuditSubjectRow.customer_id)
                                                   .where(AuditSubjectRow.seq.in_(bulk)))).all():
                subjects.setdefault(seq, []).append(cid)
        for r in rows:
            if r.outcome != "allowed":
                denied += 1
                continue
            ids = list(subjects.get(r.seq, ()))
            if r.customer_id is not None:
                ids.append(r.customer_id)
            if not ids:
                continue
            entries += 1
            actions[r.action] += 1
            if r.purpose:
                purposes[r.purpose] += 1
            fields = [f for f in (r.fields or "").split(",") if f]
            for cid in ids:
                c = affected.get(cid)
                if c is None:
                    c = affected[cid] = AffectedCustomer(cid)
                _touch(c, r.ts, fields, categories)
    return _report(q, entries, denied, affected, actions, purposes)


def scope_of_key_version(q: ImpactQuery, customers: Iterable[tuple[uuid.UUID, datetime]],
                         categories: Mapping[str, str]) -> ImpactReport:
    """Scope a KEK version: every customer whose DEK it wraps (``customers``: id, created_at), every field."""
    q.validate()
    affected: dict[uuid.UUID, AffectedCustomer] = {}
    for cid, created in customers:
        c = affected[cid] = AffectedCustomer(cid)
        _touch(c, created, categories, categories)
        c.entries = 0
    return _report(q, 0, 0, affected, Counter(), Counter())


def _report(q: ImpactQuery, entries: int, denied: int, affected: dict[uuid.UUID, AffectedCustomer],
            actions: Counter[str], purposes: Counter[str]) -> ImpactReport:
    cats: Counter[str] = Counter()
    flds: Counter[str] = Counter()
    for c in affected.values():
        cats.update(c.categories)
        flds.update(c.fields)
    customers = sorted(affected.values(), key=lambda c: c.customer_id.hex)
    return ImpactReport(
        scope=q.scope, since=q.since, until=q.until, detected_at=as_utc(q.detected_at or utcnow()),
        entries=entries, denied=denied, customers=customers, categories=dict(sorted(cats.items())),
        fields=dict(sorted(flds.items())), actions=dict(sorted(actions.items())),
        purposes=dict(sorted(purposes.items())))
