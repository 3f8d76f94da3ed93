"""Consent flags from the customer import CSV become consent events with source ``import``.

A y/n flag alone does not prove consent (GDPR 7(1), PIPA 22): the controller must know when
the customer agreed and to which notice. So an imported grant is recorded as:

- **verified** when the row carries ``consent_date`` (YYYY-MM-DD, not in the future) and a
  ``consent_notice_version`` that the purpose published and still accepts: the grant counts
  from that date (its reconfirmation clock starts then, not at the import) and records that
  notice's disclosure hash;
- **unverified** otherwise: the state is ``unverified``, which is not a current consent
  (contact resolution and consent-based reads skip it) until the customer grants or
  reconfirms through the application.

Refusals (``n``) are recorded as refusals either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from vault.consent.rules import UNVERIFIED, Kind, Source
from vault.db.bulk import BulkInsert, BulkValues, Column, insert_new_rows
from vault.errors import ConfigurationError
from vault.lib.clock import utcnow
from vault.lib.ids import new_ids_hex

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence
    from uuid import UUID

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    from vault.audit.entry import Actor
    from vault.policy.purposes import PurposeCatalogue

    ImportedRows = Sequence[tuple[UUID, Mapping[str, bool], Mapping[str, str]]]

# CSV column -> (purpose, channel); "" = a purpose without a contact channel.
IMPORT_COLUMNS: dict[str, tuple[str, str]] = {
    "marketing_email": ("marketing_email", "email"),
    "marketing_sms": ("marketing_sms", "sms"),
    "marketing_sms_night": ("night_advertising", "sms"),
    "analytics": ("analytics", ""),
}


_EVENTS = BulkInsert("consent_events", (
    Column("id", "uuid"), Column("customer_id", "uuid"), Column("purpose", "text"), Column("channel", "text"),
    Column("kind", "text"), Column("notice_version", "text"), Column("notice_hash", "text"),
    Column("actor_id", "uuid"), Column("actor_name", "text"), Column("actor_role", "text"),
    Column("occurred_at", "timestamptz"), Column("recorded_at", "timestamptz")),
    constants=(("source", f"'{Source.IMPORT.value}'", f"'{Source.IMPORT.value}'", Source.IMPORT.value),))
_STATES = BulkInsert("consent_state", (
    Column("customer_id", "uuid"), Column("purpose", "text"), Column("channel", "text"), Column("status", "text"),
    Column("granted_at", "timestamptz"), Column("notice_version", "text"), Column("notice_hash", "text"),
    Column("event_id", "uuid"), Column("updated_at", "timestamptz")))


def check_import_columns(purposes: PurposeCatalogue) -> None:
    """Start-up check: every import column maps to a consent purpose collected on that channel.

    Raises:
        ConfigurationError: naming the column and purpose.
    """
    for column, (pid, channel) in IMPORT_COLUMNS.items():
        purpose = purposes.get(pid)
        if purpose is None or not purpose.is_consent or channel not in purpose.consent_channels:
            raise ConfigurationError(
                f"import column {column!r} maps to {pid}/{channel or '-'}, which purposes.yaml does not define "
                "as a consent purpose on that channel")


def _proved_at(proof: Mapping[str, str], now: datetime) -> datetime | None:
    raw = proof.get("consent_date")
    if not raw:
        return None
    at = datetime.combine(date.fromisoformat(raw), datetime.min.time(), tzinfo=UTC)
    return at if at <= now else None


def imported_consents_recorder(
    purposes: PurposeCatalogue,
) -> Callable[[AsyncSession, ImportedRows, Actor], Awaitable[None]]:
    """The importer's ``on_created`` hook (see the module docstring), bound to the purpose catalogue."""

    async def record(session: AsyncSession, rows: ImportedRows, actor: Actor) -> None:
        await record_imported_consents(session, rows, actor, purposes=purposes)

    return record


async def record_imported_consents(
    session: AsyncSession, rows: ImportedRows, actor: Actor, *, purposes: PurposeCatalogue,
    at: datetime | None = None,
) -> None:
    """Insert the consent events and state of freshly imported customers (driver-level batches, no ORM).

    ``rows`` holds (customer id, {csv column: True for y / False for n}, {proof column: value}); the
    customers are new, so there is no prior state. Runs in the caller's (the batch's) transaction.

    A batch has few distinct decisions (column, y/n, proof), so each is described once (a *code*) and
    every event is (event id, customer id, code). On SQLite those triples are staged in a temporary
    table and both ledger tables are filled from it by ``INSERT ... SELECT`` joined to the codes: the
    wide rows are built by SQLite, not bound parameter by parameter (half the cost of an executemany of
    full rows). On PostgreSQL the full rows go by binary ``COPY`` (:func:`vault.db.bulk.insert_new_rows`).
    """
    now = at or utcnow()
    conn = await session.connection()
    to = BulkValues(conn.dialect.name)
    recorded = to.when(now)
    codes: dict[tuple[str, bool, str | None, datetime | None], int] = {}
    decisions: list[_Decision] = []
    staged: list[tuple[Any, int]] = []
    for customer_id, flags, proof in rows:
        if not flags:
            continue
        version = proof.get("consent_notice_version") if proof else None
        proved_at = _proved_at(proof, now) if proof else None
        cid = to.uuid(customer_id)
        for column, granted in flags.items():
            key = (column, granted, version, proved_at)
            code = codes.get(key)
            if code is None:
                decision = _decide(purposes, column, granted, version, proved_at, now, to, recorded)
                code = codes[key] = -1 if decision is None else len(decisions)
                if decision is not None:
                    decisions.append(decision)
            if code >= 0:
                staged.append((cid, code))
    if not staged:
        return
    event_ids = new_ids_hex(len(staged))
    actor_id = to.uuid(actor.principal_id)
    if to.sqlite:
        await _write_staged(conn, event_ids, staged, decisions, (actor_id, actor.name, actor.role, recorded))
        return
    events: list[tuple[Any, ...]] = []
    states: list[tuple[Any, ...]] = []
    for event_hex, (cid, code) in zip(event_ids, staged, strict=True):
        d = decisions[code]
        event_id = to.uuid_hex(event_hex)
        events.append((event_id, cid, d.purpose, d.channel, d.kind, d.version, d.digest, actor_id, actor.name,
                       actor.role, d.occurred, recorded))
        states.append((cid, d.purpose, d.channel, d.status, d.granted_at, d.version, d.digest, event_id, recorded))
    await insert_new_rows(conn, _EVENTS, events)  # the customers are new: binary COPY through asyncpg
    await insert_new_rows(conn, _STATES, states)


@dataclass(frozen=True, slots=True)
class _Decision:
    """What one imported flag records, in driver values: the event's and the state's columns."""

    purpose: str
    channel: str
    kind: str
    status: str
    version: str | None
    digest: str | None
    occurred: Any
    granted_at: Any


def _decide(purposes: PurposeCatalogue, column: str, granted: bool, version: str | None,
            proved_at: datetime | None, now: datetime, to: BulkValues, recorded: Any) -> _Decision | None:
    target = IMPORT_COLUMNS.get(column)
    purpose = purposes.get(target[0]) if target else None
    if target is None or purpose is None:
        return None
    notice = purpose.notice(version) if version and version in purpose.accepted_versions else None
    verified = granted and proved_at is not None and notice is not None
    digest = notice.disclosure_hash(purpose.id) if verified and notice is not None else None
    occurred = recorded if not verified or proved_at is None else to.when(proved_at)
    kind = Kind.GRANTED.value if granted else Kind.REFUSED.value
    return _Decision(target[0], target[1], kind, kind if verified or not granted else UNVERIFIED,
                     version if verified else None, digest, occurred, occurred if granted else None)


_STAGE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS consent_import_codes (code INTEGER PRIMARY KEY, purpose TEXT NOT NULL, "
    "channel TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, notice_version TEXT, notice_hash TEXT, "
    "occurred_at TEXT NOT NULL, granted_at TEXT)",
    "CREATE TEMP TABLE IF NOT EXISTS consent_import_stage (event_id TEXT NOT NULL, customer_id TEXT NOT NULL, "
    "code INTEGER NOT NULL)",
)
_STAGED_EVENTS = (
    "INSERT INTO consent_events (id, customer_id, purpose, channel, kind, notice_version, notice_hash, source, "
    "actor_id, actor_name, actor_role, occurred_at, recorded_at) "
    f"SELECT s.event_id, s.customer_id, c.purpose, c.channel, c.kind, c.notice_version, c.notice_hash, "
    f"'{Source.IMPORT.value}', ?, ?, ?, c.occurred_at, ? "
    "FROM temp.consent_import_stage AS s JOIN temp.consent_import_codes AS c ON c.code = s.code ORDER BY s.rowid")
_STAGED_STATES = (
    "INSERT INTO consent_state (customer_id, purpose, channel, status, granted_at, notice_version, notice_hash, "
    "event_id, updated_at) "
    "SELECT s.customer_id, c.purpose, c.channel, c.status, c.granted_at, c.notice_version, c.notice_hash, "
    "s.event_id, ? "
    "FROM temp.consent_import_stage AS s JOIN temp.consent_import_codes AS c ON c.code = s.code ORDER BY s.rowid")


async def _write_staged(conn: AsyncConnection, event_ids: list[str], staged: list[tuple[Any, int]],
                        decisions: list[_Decision], batch: tuple[Any, str, str, Any]) -> None:
    """SQLite: stage (event id, customer id, code) in temporary tables (this connection's own, emptied
    after use) and fill consent_events and consent_state from them, in the caller's transaction."""
    for ddl in _STAGE_DDL:
        await conn.exec_driver_sql(ddl)
    await conn.exec_driver_sql("INSERT INTO temp.consent_import_codes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (code, d.purpose, d.channel, d.kind, d.status, d.version, d.digest, d.occurred, d.granted_at)
        for code, d in enumerate(decisions)])
    await conn.exec_driver_sql("INSERT INTO temp.consent_import_stage VALUES (?, ?, ?)", [
        (event_id, cid, code) for event_id, (cid, code) in zip(event_ids, staged, strict=True)])
    await conn.exec_driver_sql(_STAGED_EVENTS, batch)
    await conn.exec_driver_sql(_STAGED_STATES, (batch[3],))
    # A failed batch rolls the staged rows back with everything else; a written one empties the stage.
    await conn.exec_driver_sql("DELETE FROM temp.consent_import_stage")
    await conn.exec_driver_sql("DELETE FROM temp.consent_import_codes")
