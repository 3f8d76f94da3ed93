"""The monthly access-log inspection (personal-information safety-measures standard, art. 8(2)).

A processor must inspect its access logs at least monthly, looking in particular for bulk
downloads and their reasons, access outside working hours, unusual denials and changes of
who may access what. :func:`build_inspection` derives those sections from the audit log for
one calendar month in Korean time (KST, UTC+9). The report is canonical JSON with a SHA-256
digest; a compliance officer signs the digest off (:func:`signoff_event`), which is itself
an audit entry, so the sign-off and the report it covers are tamper-evident together.

Entries about the log itself (``audit.*``: reads, impact queries, inspections, sign-offs) are
left out, so reading or signing a report does not change it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from vault.audit.entry import Actor, AuditEvent, Outcome
from vault.audit.models import AuditEntryRow
from vault.errors import BadRequestError, ConflictError
from vault.lib.clock import as_utc

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

KST = timezone(timedelta(hours=9), "KST")
SIGNOFF = "audit.inspection_signoff"
CONCLUSIONS = ("no_findings", "findings_followed_up")
#: Actions that hand out many customers' data at once (besides any entry with more than one subject).
BULK_ACTIONS = frozenset({"contacts.resolve", "extract.create", "customer.import", "subject.export"})
#: Changes of who may access what: principals, keys, and the policy files (grants live in policy.csv).
GRANT_ACTIONS = frozenset({"principal.create", "principal.approve", "principal.enable", "principal.disable",
                           "key.issue", "key.revoke", "alert.pii_key_issued", "policy.loaded"})
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_CHUNK = 5000


class InspectionMismatchError(ConflictError):
    """The report changed since the digest being signed was read."""

    code = "audit.inspection_changed"
    title = "Inspection report changed"


@dataclass(frozen=True, slots=True)
class InspectionSettings:
    """Thresholds: off-hours (KST hours, start inclusive, end exclusive) and the hourly denial spike."""

    off_hours_start: int = 21
    off_hours_end: int = 8
    denial_spike: int = 20


def month_window(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` -> [first instant, first instant of the next month), in KST, as UTC datetimes.

    Raises:
        BadRequestError: not ``YYYY-MM``.
    """
    m = _MONTH.match(month)
    if m is None:
        raise BadRequestError("month must be YYYY-MM")
    year, mon = int(m[1]), int(m[2])
    start = datetime(year, mon, 1, tzinfo=KST)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=KST)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass
class _Principal:
    principal_id: str | None
    name: str | None
    role: str | None
    entries: int = 0
    customers: set[str] = field(default_factory=set)
    seqs: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class InspectionReport:
    """One month's inspection; ``body`` is what the digest covers."""

    month: str
    body: dict[str, Any]
    sha256: str
    signoffs: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """The report with its digest and sign-offs (JSON-ready)."""
        return {"month": self.month, "sha256": self.sha256, "signed_off": bool(self.signoffs),
                "signoffs": self.signoffs, **self.body}


def _off_hours(ts: datetime, cfg: InspectionSettings) -> bool:
    hour = as_utc(ts).astimezone(KST).hour
    if cfg.off_hours_start > cfg.off_hours_end:
        return hour >= cfg.off_hours_start or hour < cfg.off_hours_end
    return cfg.off_hours_start <= hour < cfg.off_hours_end


def _iso(ts: datetime) -> str:
    return as_utc(ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pid(value: uuid.UUID | None) -> str | None:
    return value.hex if value is not None else None


async def build_inspection(session: AsyncSession, month: str, cfg: InspectionSettings,
                           *, retention_days: int | None = None) -> InspectionReport:
    """Build the report for ``month`` (``YYYY-MM``, KST) from the audit log."""
    start, end = month_window(month)
    bulk: list[dict[str, Any]] = []
    grants: list[dict[str, Any]] = []
    operations: list[dict[str, Any]] = []
    off: dict[tuple[str | None, str | None], _Principal] = {}
    denials: Counter[tuple[str | None, str | None, str | None, str]] = Counter()
    denied_total = entries = 0
    after = 0
    while True:
        rows = (await session.execute(
            select(AuditEntryRow).where(AuditEntryRow.ts >= start, AuditEntryRow.ts < end, AuditEntryRow.seq > after)
            .order_by(AuditEntryRow.seq).limit(_CHUNK))).scalars().all()
        if not rows:
            break
        after = rows[-1].seq
        for r in rows:
            if r.action.startswith("audit."):
                continue
            entries += 1
            who = {"principal_id": _pid(r.principal_id), "principal": r.principal_name, "role": r.role,
                   "key_prefix": r.key_prefix}
            if r.outcome == Outcome.DENIED:
                denied_total += 1
                hour = as_utc(r.ts).replace(minute=0, second=0, microsecond=0)
                denials[(_pid(r.principal_id), r.principal_name, r.role, _iso(hour))] += 1
                continue
            if r.action in GRANT_ACTIONS:
                grants.append({"seq": r.seq, "at": _iso(r.ts), "action": r.action, **who, "detail": r.detail})
                continue
            if r.action.startswith(("key.", "backup.")):
                operations.append({"seq": r.seq, "at": _iso(r.ts), "action": r.action, **who, "detail": r.detail})
                continue
            if r.outcome != Outcome.ALLOWED:
                continue
            touches = r.customer_id is not None or r.subject_count > 0
            if r.action in BULK_ACTIONS or r.subject_count > 1:
                bulk.append({"seq": r.seq, "at": _iso(r.ts), "action": r.action, **who, "purpose": r.purpose,
                             "subjects": r.subject_count, "fields": r.fields, "reason": r.detail})
            if touches and _off_hours(r.ts, cfg):
                key = (_pid(r.principal_id), r.principal_name)
                p = off.get(key)
                if p is None:
                    p = off[key] = _Principal(key[0], key[1], r.role)
                p.entries += 1
                if r.customer_id is not None:
                    p.customers.add(r.customer_id.hex)
                if len(p.seqs) < 50:
                    p.seqs.append(r.seq)
    spikes = [{"principal_id": pid, "principal": name, "role": role, "hour": hour, "denials": n}
              for (pid, name, role, hour), n in sorted(denials.items(), key=lambda kv: (kv[0][3], str(kv[0][0])))
              if n >= cfg.denial_spike]
    body: dict[str, Any] = {
        "window": {"from": _iso(start), "until": _iso(end), "timezone": "KST"},
        "settings": {**asdict(cfg), "access_log_retention_days": retention_days},
        "entries": entries,
        "denied": denied_total,
        "bulk_downloads": bulk,
        "off_hours_access": [
            {"principal_id": p.principal_id, "principal": p.name, "role": p.role, "entries": p.entries,
             "single_customers": len(p.customers), "seqs": p.seqs}
            for p in sorted(off.values(), key=lambda p: (-p.entries, str(p.name)))],
        "denial_spikes": spikes,
        "grant_changes": grants,
        "key_and_backup_operations": operations,
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return InspectionReport(month, body, digest, await signoffs(session, month))


async def signoffs(session: AsyncSession, month: str) -> list[dict[str, Any]]:
    """Sign-off entries recorded for ``month``, oldest first."""
    rows = (await session.execute(
        select(AuditEntryRow).where(AuditEntryRow.action == SIGNOFF,
                                    AuditEntryRow.detail.like(f"month={month} %"))
        .order_by(AuditEntryRow.seq))).scalars().all()
    out = []
    for r in rows:
        parts = dict(p.split("=", 1) for p in (r.detail or "").split() if "=" in p)
        out.append({"seq": r.seq, "at": _iso(r.ts), "principal_id": _pid(r.principal_id),
                    "principal": r.principal_name, "role": r.role, "report_sha256": parts.get("report_sha256"),
                    "conclusion": parts.get("conclusion")})
    return out


def signoff_event(report: InspectionReport, report_sha256: str, conclusion: str, actor: Actor,
                  *, request_id: str | None = None, client_ip: str | None = None) -> AuditEvent:
    """The audit entry that signs ``report`` off.

    Raises:
        BadRequestError: unknown conclusion.
        InspectionMismatchError: ``report_sha256`` is not the report's current digest.
    """
    if conclusion not in CONCLUSIONS:
        raise BadRequestError(f"conclusion must be one of {', '.join(CONCLUSIONS)}")
    if report_sha256 != report.sha256:
        raise InspectionMismatchError(
            f"the {report.month} report is now {report.sha256[:16]}..., not {report_sha256[:16]}...; "
            "read it again before signing")
    return AuditEvent(SIGNOFF, Outcome.ALLOWED, actor, request_id=request_id, client_ip=client_ip,
                      detail=f"month={report.month} report_sha256={report.sha256} conclusion={conclusion}")
