"""Consented contact resolution: "which customers may I email for this purpose, and at what address?"

A call is answered in two passes so that the audit entry is durable before any contact
leaves the vault, while memory stays bounded for a million contacts:

1. **ids pass** (a thread, synchronous driver): keyset-paginated, id-only query of the
   eligible customers; the ids arrive as text and are packed 16 bytes each into a
   :class:`SubjectList` (1M ids = 16 MB) whose digest is computed as they arrive. One
   audit entry (count, digest, ids in ``audit_subjects``) is committed.
2. **stream pass**: the audited ids are cut into ranges; for each, the same predicate is
   re-evaluated over the range and only audited ids are kept (:mod:`vault.consent.contact_pages`),
   so one who withdraws mid-stream is dropped from the ranges read after the withdrawal.
   Each row's DEK is unwrapped and only the channel's fields are decrypted. Large answers
   go to worker processes, which start on the first ranges while the audit entry commits
   (nothing is sent before it has); a bounded number of ranges is read ahead of the client.
"""

from __future__ import annotations

import asyncio
import pickle
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Engine, Select, String, and_, bindparam, cast, exists, select
from sqlalchemy.orm import aliased

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.audit.subjects import SubjectList
from vault.consent.contact_pages import ContactPool, Page, PageTask, Source, render
from vault.consent.errors import InvalidConsentError, JustificationRequiredError, UnknownChannelError
from vault.consent.ledger import effective_clause
from vault.consent.models import ConsentStateRow
from vault.consent.rules import is_night, utc
from vault.customers.gate import contactable_clause as rights_clause
from vault.customers.gate import is_direct_marketing
from vault.customers.models import CustomerIndexRow, CustomerRow
from vault.lib.clock import utcnow
from vault.policy.purposes import CHANNEL_FIELDS, CHANNEL_REQUIRED, NIGHT_CHANNELS, Channel

if TYPE_CHECKING:
    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.db.engine import Database
    from vault.lib.ratelimit import VolumeWindow
    from vault.policy.purposes import Purpose, PurposeCatalogue

Clock = Callable[[], datetime]
#: Given the customer-id column of the query, a SQL condition on it.
ScopeClause = Callable[[Any], ColumnElement[bool]]
MAX_IDS = 1000
#: From this many contacts, pass 2 runs in the worker processes (a warm pool costs ~1 ms per task).
PARALLEL_MIN = 10_000
#: While the audit entry of a large answer commits, pass 2 reads up to this many contacts ahead (~9 MB of NDJSON).
PREFETCH_IDS = 100_000
PAST_SKEW = timedelta(minutes=5)
MAX_AHEAD = timedelta(days=366)


def contactable_clause(purpose: Purpose | None = None) -> ColumnElement[bool]:
    """SQL: the customer may be contacted for ``purpose``.

    The record is active (not soft-deleted) and not erased, processing is not restricted
    (GDPR Art. 18, PIPA Art. 37) and, when ``purpose`` is direct marketing, the customer has
    not objected to it (GDPR Art. 21(2)-(3)); see :mod:`vault.customers.gate`. The stream pass
    re-evaluates it page by page, so a restriction or objection takes effect at once.
    """
    return and_(CustomerRow.status == "active", CustomerRow.erased_at.is_(None), rights_clause(purpose))


@dataclass(frozen=True, slots=True)
class ContactQuery:
    """What the caller asks for."""

    channel: str | None
    at: datetime | None = None
    customer_ids: tuple[uuid.UUID, ...] | None = None
    #: Only customers this SQL clause factory accepts (a segment snapshot, built by vault.segments);
    #: ``scope_name`` (e.g. ``core-customers@3``) is recorded in the audit entry.
    scope: ScopeClause | None = None
    scope_name: str | None = None
    justification: str | None = None  # required above the volume caps; audited


@dataclass(frozen=True, slots=True)
class ContactPlan:
    """A resolved, audited answer, ready to stream."""

    purpose: Purpose
    channel: Channel
    at: datetime
    night: bool
    fields: tuple[str, ...]
    subjects: SubjectList
    audit_seq: int
    customer_ids: tuple[uuid.UUID, ...] | None
    scope: ScopeClause | None = None
    #: Pass 2, started while the audit entry committed (see :meth:`ContactResolver.stream`).
    pages: _Pages | None = field(default=None, compare=False, repr=False)

    @property
    def count(self) -> int:
        """How many customers were resolved (and audited)."""
        return len(self.subjects)


@dataclass(frozen=True)
class ContactDeps:
    """Collaborators of :class:`ContactResolver`."""

    db: Database
    keyring: Keyring
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog
    clock: Clock = utcnow
    #: Customers never contacted for direct marketing or by segment (department labels ``blacklist`` /
    #: ``do_not_contact``); wired by bootstrap from vault.segments, which sits above this package.
    blocked: ScopeClause | None = None
    volume: VolumeWindow | None = None  # contacts resolved per principal (24 h)
    per_request: int = 10_000
    per_day: int = 50_000
    #: Worker processes that read and decrypt large answers (bootstrap keeps one pool per process).
    pool: ContactPool | None = None
    #: From this many contacts pass 2 runs in ``pool``; below, in a thread of this process.
    parallel_min: int = PARALLEL_MIN


def _justification(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    clean = " ".join(text.split())
    if not 10 <= len(clean) <= 500:
        raise InvalidConsentError("justification must be 10-500 characters", field="justification")
    return clean


class ContactResolver:
    """Resolves and streams consented contacts; opens its own short read transactions."""

    def __init__(self, deps: ContactDeps, *, page_size: int = 5000) -> None:
        self._d = deps
        self._page = page_size

    # -- validation and access ----------------------------------------------------------------------

    def _check(self, query: ContactQuery, caller: Caller) -> tuple[Purpose, Channel, datetime]:
        pid = self._d.guard.policy.check_purpose(caller.purpose)
        purpose = self._d.purposes.get(pid)
        assert purpose is not None
        if pid in self._d.purposes.supplements:
            users = sorted(p.id for p in self._d.purposes if p.night_opt_in_purpose == pid)
            raise InvalidConsentError(
                f"purpose {pid!r} is a night-time opt-in that only widens {', '.join(users)}; resolve contacts "
                "for one of those (the night opt-in is applied automatically between 21:00 and 08:00 KST)",
                purpose=pid, valid=users)
        valid = [str(c) for c in purpose.channels]
        if not valid:
            raise UnknownChannelError(
                f"purpose {pid!r} has no contact channel; it cannot be used to contact customers",
                purpose=pid, valid=valid)
        if query.channel not in valid:
            known = query.channel in {c.value for c in Channel}
            raise UnknownChannelError(
                (f"purpose {pid!r} is not collected on channel {query.channel!r}" if known
                 else f"unknown channel {query.channel!r}") + f"; valid channels for {pid}: {', '.join(valid)}",
                purpose=pid, valid=valid)
        now = utc(self._d.clock())
        if query.at is not None and query.at.tzinfo is None:
            raise InvalidConsentError("`at` must carry a UTC offset (e.g. 2026-12-01T22:00:00+09:00)", field="at")
        at = utc(query.at) if query.at else now
        if at < now - PAST_SKEW:
            raise InvalidConsentError("`at` may not lie in the past: consent state is known only as of now",
                                      field="at")
        if at > now + MAX_AHEAD:
            raise InvalidConsentError("`at` may lie at most 366 days ahead", field="at")
        if query.customer_ids is not None and not 0 < len(query.customer_ids) <= MAX_IDS:
            raise InvalidConsentError(f"give between 1 and {MAX_IDS} customer ids", field="customer_id")
        return purpose, Channel(query.channel), at

    # -- the eligibility predicate ------------------------------------------------------------------

    def _where(self, purpose: Purpose, channel: Channel, at: datetime, night: bool,
               ids: tuple[uuid.UUID, ...] | None,
               scope: ScopeClause | None = None) -> tuple[Any, list[ColumnElement[bool]], Any]:
        """((FROM, join), WHERE clauses, key column) of "customers to contact"; the key is the customer id."""
        clauses: list[ColumnElement[bool]] = [contactable_clause(purpose)]
        if purpose.is_consent:
            state = aliased(ConsentStateRow, name="s")
            key: Any = state.customer_id
            frm: Any = state
            # Walks ix_consent_state_resolve (purpose, channel, status, customer_id) in keyset order; the
            # reconfirmation cutoff is a residual filter on the rows it visits.
            clauses += [effective_clause(purpose, at, state, residual=True), state.channel == channel.value]
            if night:
                night_purpose = self._d.purposes.get(purpose.night_opt_in_purpose or "")
                assert night_purpose is not None
                opt = aliased(ConsentStateRow, name="n")
                clauses.append(exists(select(opt.customer_id).where(
                    opt.customer_id == state.customer_id, opt.channel == channel.value,
                    effective_clause(night_purpose, at, opt))))
            join_on = CustomerRow.id == state.customer_id
        else:
            key = CustomerRow.id
            frm = None
            join_on = None
        required = CHANNEL_REQUIRED[channel]
        if required[0] in ("email", "phone"):
            # The blind index holds a row exactly when the sealed field is present: check it without decrypting.
            # `field || ''` keeps planners on the customer_id index: SQLite without statistics would
            # otherwise scan the (field, digest) primary key for every candidate row.
            clauses.append(exists(select(CustomerIndexRow.customer_id).where(
                CustomerIndexRow.customer_id == key, (CustomerIndexRow.field + "") == required[0])))
        if ids is not None:
            clauses.append(key.in_(ids))
        if scope is not None:
            clauses.append(scope(key))
        if self._d.blocked is not None and (scope is not None or is_direct_marketing(purpose)):
            clauses.append(~self._d.blocked(key))
        return (frm, join_on), clauses, key

    def _select(self, cols: list[Any], frm: tuple[Any, Any], clauses: list[ColumnElement[bool]]) -> Select[Any]:
        source, join_on = frm
        q = select(*cols)
        if source is not None:
            q = q.select_from(source).join(CustomerRow, join_on)
        return q.where(*clauses)

    # -- pass 1: resolve ids, audit --------------------------------------------------------------------

    async def plan(self, query: ContactQuery, caller: Caller) -> ContactPlan:
        """Check the request, resolve the eligible ids and commit the audit entry (before any data leaves).

        Raises:
            PurposeRequiredError, UnknownPurposeError, UnknownChannelError, InvalidConsentError (422);
            AccessDeniedError (403, audited); AuditWriteError.
        """
        purpose, channel, at = self._check(query, caller)
        await self._d.guard.require(caller, perms.CONTACTS_READ, "contacts.resolve")
        justification = _justification(query.justification)
        night = purpose.night_opt_in_required and channel in NIGHT_CHANNELS and is_night(at)
        frm, clauses, key = self._where(purpose, channel, at, night, query.customer_ids, query.scope)
        subjects = await asyncio.to_thread(self._scan_ids, frm, clauses, key)
        await self._check_volume(caller, len(subjects), justification)
        fields = tuple(f for f in CHANNEL_FIELDS[channel] if f in purpose.fields)
        plan = ContactPlan(purpose, channel, at, night, fields, subjects, 0, query.customer_ids, query.scope)
        event = AuditEvent(
            "contacts.resolve", Outcome.ALLOWED, caller.actor, purpose=purpose.id, fields=fields,
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail=f"channel={channel.value} at={at.isoformat()} night_opt_in_applied={night}"
                   + (f" ids_given={len(query.customer_ids)}" if query.customer_ids else "")
                   + (f" segment={query.scope_name}" if query.scope_name else "")
                   + (f" justification={justification}" if justification else ""))
        if self._pool(plan.count) is None:
            return replace(plan, audit_seq=await self._d.audit.record_bulk_durable(event, subjects))
        # A large answer's workers start reading and decrypting the first ranges while its audit entry commits
        # (the insert of every id takes a while, and on SQLite it runs on this thread); nothing leaves before
        # the entry has committed.
        pages = self._pages(plan)
        assert pages is not None
        pages.fill(max(pages.ahead, PREFETCH_IDS // self._page))
        try:
            seq = await self._d.audit.record_bulk_durable(event, subjects)
        except BaseException:
            pages.cancel()
            raise
        return replace(plan, audit_seq=seq, pages=pages)

    async def _check_volume(self, caller: Caller, count: int, justification: str | None) -> None:
        """Above the per-request or per-day cap a resolution needs a justification (denial audited)."""
        if caller.principal is None:
            return
        volume, pid = self._d.volume, caller.principal.id
        so_far = volume.total(pid) if volume is not None else 0
        if (count > self._d.per_request or so_far + count > self._d.per_day) and not justification:
            await self._d.guard.deny(caller, "contacts.resolve", JustificationRequiredError(
                f"{count} contacts (after {so_far} in the last 24 h) exceed the volume caps of {self._d.per_request} "
                f"per request and {self._d.per_day} per day: repeat with a `justification` (10-500 characters, "
                "no personal data); it is audited", purpose=caller.purpose))
        if volume is not None:
            volume.add(pid, count)

    def _scan_ids(self, frm: tuple[Any, Any], clauses: list[ColumnElement[bool]], key: Any) -> SubjectList:
        """Pass 1 (in a thread, on the synchronous driver): the eligible ids in keyset pages, packed as they come.

        The ids arrive as text (no ``uuid.UUID`` per row) and are packed a page at a time.
        """
        subjects = SubjectList()
        limit = self._page * 4
        last: uuid.UUID | None = None
        with self._d.db.sync_engine().connect() as conn:
            while True:
                q = self._select([cast(key, String)], frm, [*clauses, *([key > last] if last else [])])
                result = conn.execute(q.order_by(key).limit(limit))
                # The driver's own rows: one text column, no result processing per row.
                page: Sequence[Any] = result.cursor.fetchall() if result.cursor is not None else []
                result.close()
                subjects.extend_packed(bytes.fromhex("".join([row[0] for row in page]).replace("-", "")))
                if len(page) < limit:
                    return subjects
                last = uuid.UUID(page[-1][0])

    # -- pass 2: stream -------------------------------------------------------------------------------

    async def stream(self, plan: ContactPlan) -> AsyncIterator[bytes]:
        """NDJSON lines ``{"customer_id": ..., <channel fields>}``, one range of audited ids per chunk, in id order.

        Only audited customers that are still eligible when their range is read are sent. Large answers are
        read and decrypted by the worker processes of ``deps.pool`` (small ones by a thread of this process),
        a bounded number of ranges ahead of the client, so memory stays bounded whatever the count.
        """
        pages = plan.pages if plan.pages is not None and plan.pages.claim() else self._pages(plan)
        if pages is None:
            return
        async for chunk in pages:
            yield chunk

    def _pages(self, plan: ContactPlan) -> _Pages | None:
        """Pass 2's ranges as tasks, submitted a bounded number ahead (None when nothing was resolved)."""
        if not plan.count:
            return None
        engine = self._d.db.sync_engine()
        pool = self._pool(plan.count)
        if pool is not None:
            return _Pages(self._tasks(plan, engine), partial(_submit_to, pool), 2 * pool.processes)
        return _Pages(self._tasks(plan, engine), partial(_submit_here, engine), 2)

    def _pool(self, count: int) -> ContactPool | None:
        """The worker processes for a large answer, when the KEK provider can be sent to them; else None."""
        pool = self._d.pool
        if pool is None or count < self._d.parallel_min or not _picklable(self._d.keyring.provider):
            return None
        return pool

    def _tasks(self, plan: ContactPlan, engine: Engine) -> Iterator[PageTask]:
        """One task per ``page_size`` audited ids: the eligibility statement bounded to their range, compiled
        once to the driver's SQL; each task carries its range's bounds as parameters."""
        frm, clauses, key = self._where(plan.purpose, plan.channel, plan.at, plan.night, plan.customer_ids,
                                        plan.scope)
        cols = [cast(CustomerRow.id, String), CustomerRow.kek_version, CustomerRow.wrapped_dek,
                CustomerRow.dek_version, CustomerRow.sealed]
        bounds = [key >= bindparam("lo", type_=key.type), key <= bindparam("hi", type_=key.type)]
        dialect = engine.dialect
        compiled = self._select(cols, frm, [*clauses, *bounds]).order_by(key).compile(dialect=dialect)
        # Values to the driver's types, as SQLAlchemy's execution would (e.g. a UUID as 32 hex digits on SQLite);
        # the expanded state adds the processors of expanded IN lists.
        processors = {name: proc for name, bind in compiled.binds.items()
                      if (proc := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        source = _source(engine)
        required = CHANNEL_REQUIRED[plan.channel]
        provider = self._d.keyring.provider
        packed = plan.subjects.packed()
        step = self._page * 16
        for start in range(0, len(packed), step):
            part = packed[start:start + step]
            state = compiled.construct_expanded_state(
                {"lo": uuid.UUID(bytes=part[:16]), "hi": uuid.UUID(bytes=part[-16:])})
            procs = {**processors, **state.processors}
            values = {name: (proc(value) if (proc := procs.get(name)) else value)
                      for name, value in state.parameters.items()}
            params = tuple(values[n] for n in state.positiontup) if state.positiontup is not None else values
            yield PageTask(source, state.statement, params, part, plan.fields, required, provider)


def _source(engine: Engine) -> Source:
    """How a worker process connects to the database of ``engine`` (the synchronous driver's arguments)."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    driver = "sqlite3" if engine.dialect.name == "sqlite" else "psycopg"
    # Plain settings only: psycopg's dialect adds SQLAlchemy's adapters map (``context``), which the worker
    # needs not (its parameters are already in the driver's types) and which cannot be pickled.
    plain = {k: v for k, v in kwargs.items() if isinstance(v, str | int | float | bool) or v is None}
    return Source(driver, tuple(args), tuple(sorted(plain.items())))


class _Pages:
    """Pass-2 tasks in flight, answered in task (id) order; at most ``ahead`` in flight while streaming."""

    def __init__(self, tasks: Iterator[PageTask], submit: Callable[[PageTask], asyncio.Future[Page]],
                 ahead: int) -> None:
        self._tasks: Iterator[PageTask] | None = tasks
        self._submit = submit
        self.ahead = ahead
        self._pending: deque[tuple[PageTask, asyncio.Future[Page]]] = deque()
        self._claimed = False

    def claim(self) -> bool:
        """True for the first stream over these pages (a second one reads afresh)."""
        claimed, self._claimed = self._claimed, True
        return not claimed

    def fill(self, limit: int) -> None:
        """Submit tasks until ``limit`` are in flight or none is left."""
        while self._tasks is not None and len(self._pending) < limit:
            task = next(self._tasks, None)
            if task is None:
                self._tasks = None
                return
            self._pending.append((task, self._submit(task)))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        retried = False
        try:
            while True:
                self.fill(self.ahead)
                if not self._pending:
                    return
                try:
                    page = await self._pending[0][1]
                except BrokenProcessPool:
                    if retried:
                        raise
                    retried = True  # a worker died: the tasks in flight go once more, to a new pool
                    self._pending = deque((task, self._submit(task)) for task, _ in self._pending)
                    continue
                self._pending.popleft()
                if page.ndjson:
                    yield page.ndjson
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Drop the tasks not yet answered (a running one finishes; its answer is discarded)."""
        self._tasks = None
        while self._pending:
            self._pending.popleft()[1].cancel()


def _submit_to(pool: ContactPool, task: PageTask) -> asyncio.Future[Page]:
    return asyncio.wrap_future(pool.submit(task))


def _submit_here(engine: Engine, task: PageTask) -> asyncio.Future[Page]:
    return asyncio.get_running_loop().run_in_executor(None, _render_here, engine, task)


def _render_here(engine: Engine, task: PageTask) -> Page:
    """:func:`render` in a thread of this process, on a pooled connection of ``engine``."""
    conn = engine.raw_connection()
    try:
        return render(task, conn)
    finally:
        conn.close()


def _picklable(obj: object) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:  # any failure means "keep it in this process" (a PKCS#11 session)
        return False
    return True
