"""The consent lifecycle jobs: record expiry of grants past their purpose's reconfirmation interval, and list
the grants due to lapse soon (so applications can ask customers to reconfirm).

The service works on the session it is given; the job runner (`vault consent expire`) commits each batch,
the API reads the due list in a read transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.consent.errors import InvalidConsentError
from vault.consent.lookup import lookup_purpose
from vault.consent.reads import channel_out
from vault.consent.repository import ConsentRepository
from vault.consent.rules import Kind, Source, expires_at, grant_cutoff, utc
from vault.consent.views import DueConsent
from vault.lib.clock import as_utc
from vault.lib.ids import new_id

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy import Row, RowMapping
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.consent.service import ConsentDeps

DUE_WITHIN_DAYS = 30


class ConsentExpiryStore(Protocol):
    """What the lifecycle jobs need from storage (:class:`~vault.consent.repository.ConsentRepository`)."""

    async def granted_until(self, purpose_id: str, cutoff: datetime, *, limit: int) -> Sequence[RowMapping]:
        """Up to ``limit`` grants of ``purpose_id`` granted before ``cutoff``."""
        ...

    async def mark_expired(self, customer_id: uuid.UUID, purpose_id: str, channel: str, event_id: uuid.UUID,
                           lapsed: datetime) -> None:
        """Set one state to expired by ``event_id`` as of ``lapsed``."""
        ...

    async def add_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Append events."""
        ...

    async def granted_between(
        self, windows: Sequence[tuple[str, datetime, datetime]], *,
        after: tuple[datetime, uuid.UUID, str, str] | None, limit: int,
    ) -> Sequence[Row[uuid.UUID, str, str, datetime | None]]:
        """Grants whose grant time lies in a purpose's window, soonest first, after a keyset position."""
        ...


class ConsentExpiry:
    """Expiry and the due list on one session (the caller commits)."""

    def __init__(self, session: AsyncSession, deps: ConsentDeps, *, repo: ConsentExpiryStore | None = None) -> None:
        self._session = session
        self._d = deps
        self._repo: ConsentExpiryStore = repo if repo is not None else ConsentRepository(session)

    async def expire_due(self, caller: Caller, *, at: datetime | None = None, limit: int = 5000) -> int:
        """Record ``expired`` events for up to ``limit`` grants past their reconfirmation interval.

        Call repeatedly (one transaction each) until it returns 0. Returns how many expired.
        """
        when = utc(at) if at else utc(self._d.clock())
        now = utc(self._d.clock())
        total = 0
        for purpose in self._d.purposes:
            cutoff = grant_cutoff(purpose, when)
            if cutoff is None or total >= limit:
                continue
            rows = await self._repo.granted_until(purpose.id, cutoff, limit=limit - total)
            if not rows:
                continue
            events, ids = [], []
            for r in rows:
                event_id = new_id()
                lapsed = expires_at(purpose, r["granted_at"])
                assert lapsed is not None
                events.append({
                    "id": event_id, "customer_id": r["customer_id"], "purpose": purpose.id, "channel": r["channel"],
                    "kind": Kind.EXPIRED.value, "notice_version": r["notice_version"],
                    "notice_hash": r["notice_hash"], "source": Source.SYSTEM.value, "actor_id": None,
                    "actor_name": caller.actor.name, "actor_role": caller.actor.role, "occurred_at": lapsed,
                    "recorded_at": now, "evidence_ip": None, "evidence_user_agent": None,
                    "evidence_key_version": None, "receipt_id": None, "request_id": caller.request_id})
                ids.append(r["customer_id"])
                await self._repo.mark_expired(r["customer_id"], purpose.id, r["channel"], event_id, lapsed)
            await self._repo.add_events(events)
            await self._d.audit.record(self._session, AuditEvent(
                "consent.expire", Outcome.ALLOWED, caller.actor, purpose=purpose.id,
                subjects=tuple(dict.fromkeys(ids)), request_id=caller.request_id,
                detail=f"{len(events)} grants of {purpose.id} not reconfirmed within {purpose.reconfirm_days} days"))
            total += len(events)
        return total

    async def due(
        self, caller: Caller, *, within_days: int = DUE_WITHIN_DAYS, purpose_id: str | None = None,
        after: tuple[datetime, uuid.UUID, str, str] | None = None, limit: int = 500,
    ) -> list[DueConsent]:
        """Grants lapsing in the next ``within_days`` days (soonest first, keyset-paginated), so
        applications can ask the customers to reconfirm. Ids and dates only."""
        purpose = (await self._d.guard.require(caller, perms.CONSENTS_READ, "consent.due")).id
        if not 1 <= within_days <= 365:
            raise InvalidConsentError("within_days must be between 1 and 365", field="within_days")
        now = utc(self._d.clock())
        targets = [lookup_purpose(self._d.purposes, purpose_id)] if purpose_id else list(self._d.purposes)
        windows = []
        for p in targets:
            lo, hi = grant_cutoff(p, now), grant_cutoff(p, now + timedelta(days=within_days))
            if lo is not None and hi is not None:
                windows.append((p.id, lo, hi))
        if not windows:
            return []
        rows = await self._repo.granted_between(windows, after=after, limit=limit)
        out = []
        for cid, pid, channel, granted in rows:
            p = self._d.purposes.get(pid)
            assert p is not None and granted is not None
            lapse = expires_at(p, as_utc(granted))
            assert lapse is not None
            out.append(DueConsent(cid, pid, channel_out(channel), as_utc(granted), lapse))
        await self._d.audit.record_durable(AuditEvent(
            "consent.due", Outcome.ALLOWED, caller.actor, purpose=purpose,
            subjects=tuple(dict.fromkeys(d.customer_id for d in out)), request_id=caller.request_id,
            client_ip=caller.client_ip, detail=f"{len(out)} grants due within {within_days} days"))
        return out
