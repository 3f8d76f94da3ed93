"""Consent flags from the customer import CSV become consent events with source ``import``.

The CSV says only y/n per flag: which notice the customer saw in the source system is not
known, so imported events carry no notice version or hash (honestly empty rather than
claiming the current notice), no receipt, and count from the import time; they lapse at
the purpose's reconfirmation interval like any grant, when the customer is asked again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import insert

from vault.consent.models import consent_events_table, consent_state_table
from vault.consent.rules import Kind, Source
from vault.errors import ConfigurationError
from vault.lib.clock import utcnow
from vault.lib.ids import new_id

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime
    from uuid import UUID

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.audit.entry import Actor
    from vault.policy.purposes import PurposeCatalogue

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


async def record_imported_consents(
    session: AsyncSession, rows: Sequence[tuple[UUID, Mapping[str, bool]]], actor: Actor, *,
    at: datetime | None = None,
) -> None:
    """Insert the consent events and state of freshly imported customers (Core executemany, no ORM).

    ``rows`` holds (customer id, {csv column: True for y / False for n}); the customers are new, so
    there is no prior state. Runs in the caller's transaction (the batch's): wired as the importer's
    ``on_created`` hook by :meth:`vault.bootstrap.Vault.importer`.
    """
    now = at or utcnow()
    events: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    for customer_id, flags in rows:
        for column, granted in flags.items():
            target = IMPORT_COLUMNS.get(column)
            if target is None:
                continue
            event_id = new_id()
            kind = Kind.GRANTED.value if granted else Kind.REFUSED.value
            events.append({
                "id": event_id, "customer_id": customer_id, "purpose": target[0], "channel": target[1],
                "kind": kind, "notice_version": None, "notice_hash": None, "source": Source.IMPORT.value,
                "actor_id": actor.principal_id, "actor_name": actor.name, "actor_role": actor.role,
                "occurred_at": now, "recorded_at": now, "evidence_ip": None, "evidence_user_agent": None,
                "evidence_key_version": None, "receipt_id": None, "request_id": None,
            })
            states.append({
                "customer_id": customer_id, "purpose": target[0], "channel": target[1], "status": kind,
                "granted_at": now if granted else None, "notice_version": None, "notice_hash": None,
                "event_id": event_id, "updated_at": now,
            })
    if events:
        await session.execute(insert(consent_events_table), events)
        await session.execute(insert(consent_state_table), states)
