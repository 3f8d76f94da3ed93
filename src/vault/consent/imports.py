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

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from vault.consent.rules import UNVERIFIED, Kind, Source
from vault.db.bulk import BulkInsert, BulkValues, Column, insert_rows
from vault.errors import ConfigurationError
from vault.lib.clock import utcnow
from vault.lib.ids import new_ids_hex

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence
    from uuid import UUID

    from sqlalchemy.ext.asyncio import AsyncSession

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
    constants=(("source", f"'{Source.IMPORT.value}'", f"'{Source.IMPORT.value}'"),))
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
    """Insert the consent events and state of freshly imported customers (Core executemany, no ORM).

    ``rows`` holds (customer id, {csv column: True for y / False for n}, {proof column: value}); the
    customers are new, so there is no prior state. Runs in the caller's (the batch's) transaction.
    """
    now = at or utcnow()
    conn = await session.connection()
    to = BulkValues(conn.dialect.name)
    recorded = to.when(now)
    actor_id = to.uuid(actor.principal_id)
    events: list[tuple[Any, ...]] = []
    states: list[tuple[Any, ...]] = []
    pending: list[tuple[Any, str, str, str, bool, bool, str | None, str | None, datetime]] = []
    for customer_id, flags, proof in rows:
        proved_at = _proved_at(proof, now)
        version = proof.get("consent_notice_version")
        cid = to.uuid(customer_id)
        for column, granted in flags.items():
            target = IMPORT_COLUMNS.get(column)
            purpose = purposes.get(target[0]) if target else None
            if target is None or purpose is None:
                continue
            notice = purpose.notice(version) if version and version in purpose.accepted_versions else None
            verified = granted and proved_at is not None and notice is not None
            digest = notice.disclosure_hash(purpose.id) if verified and notice is not None else None
            occurred = proved_at if verified and proved_at is not None else now
            pending.append((cid, target[0], target[1], Kind.GRANTED.value if granted else Kind.REFUSED.value,
                            granted, verified, version if verified else None, digest, occurred))
    event_ids = new_ids_hex(len(pending))
    for event_hex, (cid, purpose_id, channel, kind, granted, verified, version, digest, occurred) in zip(
            event_ids, pending, strict=True):
        event_id = to.uuid_hex(event_hex)
        when = recorded if occurred is now else to.when(occurred)
        events.append((event_id, cid, purpose_id, channel, kind, version, digest, actor_id, actor.name, actor.role,
                       when, recorded))
        states.append((cid, purpose_id, channel, kind if verified or not granted else UNVERIFIED,
                       when if granted else None, version, digest, event_id, recorded))
    await insert_rows(conn, _EVENTS, events)
    await insert_rows(conn, _STATES, states)
