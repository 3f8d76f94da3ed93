"""Audit log: search with filters and cursor pagination, streamed CSV/NDJSON export with a reason, chain check."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Stream

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.audit.query import AuditFilter, search
from vault.audit.stats import KST
from vault.audit.verify import verify_chain
from vault.errors import InvalidInputError
from vault.web.guard import client_ip, current_user, require, vault_of
from vault.web.render import render

PAGE = 50
EXPORT_CHUNK = 5000
EXPORT_REASONS = ("regulator_request", "internal_investigation", "data_subject_request", "periodic_review",
                  "incident_response")
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./#-]{0,39}")
COLUMNS = ("seq", "ts", "principal_id", "principal_name", "role", "action", "purpose", "outcome", "customer_id",
           "subject_count", "subjects_digest", "fields", "request_id", "client_ip", "detail", "prev_hash", "hash")
Form = URLEncodedBody[dict[str, str]]


@dataclass(frozen=True, slots=True)
class Filters:
    """The search form, parsed."""

    principal: str = ""
    customer: str = ""
    action: str = ""
    outcome: str = ""
    since: str = ""
    until: str = ""

    @classmethod
    def parse(cls, values: Any) -> Filters:
        """From query parameters or a form (unknown keys ignored, values trimmed and bounded)."""
        return cls(*(str(values.get(k) or "").strip()[:60] for k in
                     ("principal", "customer", "action", "outcome", "since", "until")))

    def to_filter(self) -> AuditFilter:
        """The domain filter; dates are whole days in Korean time (``until`` inclusive).

        Raises:
            InvalidInputError: a malformed id or date.
        """
        def uid(value: str, what: str) -> uuid.UUID | None:
            try:
                return uuid.UUID(value) if value else None
            except ValueError:
                raise InvalidInputError(f"{what} must be a UUID") from None

        def day(value: str, *, end: bool) -> datetime | None:
            if not value:
                return None
            try:
                d = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=KST)
            except ValueError:
                raise InvalidInputError("dates must be YYYY-MM-DD") from None
            return (d + timedelta(days=1) if end else d).astimezone(UTC)

        if self.outcome and self.outcome not in ("allowed", "denied", "failed"):
            raise InvalidInputError("outcome must be allowed, denied or failed")
        return AuditFilter(uid(self.principal, "principal"), uid(self.customer, "customer id"),
                           self.action or None, self.outcome or None, day(self.since, end=False),
                           day(self.until, end=True))

    def query(self, **extra: str) -> str:
        """As a query string (for the next page link)."""
        return urlencode({**{k: v for k, v in asdict(self).items() if v}, **extra})


def _csv_safe(value: object) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _row_doc(row: Any) -> dict[str, object]:
    doc: dict[str, object] = {}
    for col in COLUMNS:
        value = getattr(row, col)
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()
        elif isinstance(value, uuid.UUID):
            value = str(value)
        doc[col] = value
    return doc


class AuditController(Controller):
    """``/console/audit``."""

    path = "/console/audit"
    include_in_schema = False

    async def _page(self, request: Request[Any, Any, Any], flt: Filters, after: int) -> list[Any]:
        await require(request, perms.AUDIT_READ, "audit.read")
        vault, user = vault_of(request), current_user(request)
        async with vault.db.read() as session:
            rows = await search(session, flt.to_filter(), after_seq=after, limit=PAGE)
        await vault.audit.record_durable(AuditEvent(
            "audit.read", Outcome.ALLOWED, user.principal.actor, customer_id=flt.to_filter().customer_id,
            client_ip=client_ip(request), detail=f"console: {len(rows)} entries"))
        return rows

    @get("/")
    async def search_page(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The search form and the first page of results (oldest first)."""
        flt = Filters.parse(request.query_params)
        await require(request, perms.AUDIT_READ, "audit.read")
        vault = vault_of(request)
        async with vault.db.read() as session:
            people = await vault.principals(session).list()
        try:
            rows = await self._page(request, flt, 0)
            error = None
        except InvalidInputError as exc:
            rows, error = [], exc.detail
        return render(request, "audit.html", flt=flt, rows=rows, page_size=PAGE, principals=people,
                      reasons=EXPORT_REASONS, error=error)

    @get("/rows")
    async def more_rows(self, request: Request[Any, Any, Any], cursor: FromQuery[int] = 0) -> Response[str]:
        """The next page of rows (htmx fragment replacing the "more" row)."""
        flt = Filters.parse(request.query_params)
        rows = await self._page(request, flt, max(cursor, 0))
        return render(request, "audit_rows.html", flt=flt, rows=rows, page_size=PAGE, cursor_page=True)

    @post("/export", status_code=200)
    async def export(self, request: Request[Any, Any, Any], data: Form) -> Stream:
        """Stream every matching entry as CSV or NDJSON; the reason is asked for and audited first."""
        await require(request, perms.AUDIT_READ, "audit.export")
        flt = Filters.parse(data)
        domain = flt.to_filter()
        fmt = data.get("format", "csv")
        reason = data.get("reason", "")
        reference = data.get("reference", "").strip()
        if fmt not in ("csv", "ndjson"):
            raise InvalidInputError("format must be csv or ndjson")
        if reason not in EXPORT_REASONS:
            raise InvalidInputError(f"an export needs a reason: one of {', '.join(EXPORT_REASONS)}")
        if reference and not REFERENCE.fullmatch(reference):
            raise InvalidInputError("reference must be a ticket id (letters, digits, _ . / # -; at most 40)")
        vault, user = vault_of(request), current_user(request)
        export_id = uuid.uuid4().hex[:12]
        await vault.audit.record_durable(AuditEvent(
            "audit.export", Outcome.ALLOWED, user.principal.actor, customer_id=domain.customer_id,
            client_ip=client_ip(request),
            detail=f"export={export_id} format={fmt} reason={reason} ref={reference or '-'} filters={flt.query()}"))

        async def body() -> AsyncIterator[bytes]:
            after = 0
            if fmt == "csv":
                yield (",".join(COLUMNS) + "\r\n").encode()
            while True:
                # One short read transaction per chunk, keyset-paginated by seq: memory and transaction
                # length stay flat however many entries match (10M entries stream without a timeout).
                async with vault.db.read() as session:
                    rows = await search(session, domain, after_seq=after, limit=EXPORT_CHUNK)
                if not rows:
                    break
                buf = io.StringIO()
                if fmt == "csv":
                    writer = csv.writer(buf, lineterminator="\r\n")
                    for r in rows:
                        doc = _row_doc(r)
                        writer.writerow([_csv_safe(doc[c]) for c in COLUMNS])
                else:
                    for r in rows:
                        buf.write(json.dumps(_row_doc(r), ensure_ascii=False, separators=(",", ":")) + "\n")
                yield buf.getvalue().encode()
                after = rows[-1].seq
                if len(rows) < EXPORT_CHUNK:
                    break

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
        return Stream(body(), media_type=media, headers={
            "Content-Disposition": f'attachment; filename="audit-{stamp}-{export_id}.{fmt}"',
            "Cache-Control": "no-store"})

    @post("/verify", status_code=200)
    async def verify(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Recompute the hash chain and every checkpoint signature now (htmx fragment); audited."""
        await require(request, perms.AUDIT_READ, "audit.verify")
        vault, user = vault_of(request), current_user(request)
        async with vault.db.read() as session:
            result = await verify_chain(session)
        await vault.audit.record_durable(AuditEvent(
            "audit.verify", Outcome.ALLOWED if result.ok else Outcome.FAILED, user.principal.actor,
            client_ip=client_ip(request),
            detail=f"{result.entries} entries, {result.checkpoints} checkpoints" if result.ok
            else f"broken at entry {result.broken_seq}: {result.reason}"))
        return render(request, "verify_result.html", result=result)
