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

from sqlalchemy import insert

from vault.consent.models import consent_events_table, consent_state_table
from vault.consent.rules import UNVERIFIED, Kind, Source
from vault.errors import ConfigurationError
from vault.lib.clock import utcnow
from vault.lib.ids import new_id

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
    events: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    for customer_id, flags, proof in rows:
        proved_at = _proved_at(proof, now)
        version = proof.get("consent_notice_version")
        for column, granted in flags.items():
            target = IMPORT_COLUMNS.get(column)
            purpose = purposes.get(target[0]) if target else None
            if target is None or purpose is None:
                continue
            notice = purpose.notice(version) if version and version in purpose.accepted_versions else None
            verified = granted and proved_at is not None and notice is not None
            digest = notice.disclosure_hash(purpose.id) if verified and notice is not None else None
            event_id = new_id()
            kind = Kind.GRANTED.value if granted else Kind.REFUSED.value
            occurred = proved_at if verified and proved_at is not None else now
            events.append({
                "id": event_id, "customer_id": customer_id, "purpose": target[0], "channel": target[1],
                "kind": kind, "notice_version": version if verified else None, "notice_hash": digest,
                "source": Source.IMPORT.value, "actor_id": actor.principal_id, "actor_name": actor.name,
                "actor_role": actor.role, "occurred_at": occurred, "recorded_at": now, "evidence_ip": None,
                "evidence_user_agent": None, "evidence_key_version": None, "receipt_id": None, "request_id": None,
            })
            states.append({
                "customer_id": customer_id, "purpose": target[0], "channel": target[1],
                "status": kind if verified or not granted else UNVERIFIED,
                "granted_at": occurred if granted else None, "notice_version": version if verified else None,
                "notice_hash": digest, "event_id": event_id, "updated_at": now,
            })
    if events:
        await session.execute(insert(consent_events_table), events)
        await session.execute(insert(consent_state_table), states)
