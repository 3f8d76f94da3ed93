"""Consent use cases: record decisions (with signed receipts), read state and history, expire, list due.

Every decision is an append-only event; the current state per customer x purpose x
channel is updated in the same transaction (so a withdrawal denies the very next
read). The service flushes, never commits: whoever opened the session commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.consent.errors import (
    ConsentEventNotFoundError,
    ConsentNotApplicableError,
    ConsentOrderError,
    InvalidConsentError,
    NothingToReconfirmError,
    NoticeVersionRequiredError,
    ReceiptNotFoundError,
    UnknownChannelError,
    UnknownConsentPurposeError,
    UnknownNoticeError,
)
from vault.consent.receipts import EVIDENCE_IP, EVIDENCE_UA, evidence_field, receipt_key, sign_receipt
from vault.consent.repository import ConsentRepository
from vault.consent.rules import (
    COLLECTION_SOURCES,
    Action,
    Kind,
    Source,
    State,
    apply,
    event_kind,
    expires_at,
    grant_cutoff,
    utc,
    why_not,
)
from vault.consent.views import (
    ConsentChoice,
    ConsentEvent,
    ConsentStatus,
    DueConsent,
    Evidence,
    Receipt,
    RecordResult,
)
from vault.customers.errors import CustomerNotFoundError
from vault.customers.models import CustomerRow
from vault.customers.records import customer_key
from vault.lib.clock import as_utc, utcnow
from vault.lib.ids import new_id
from vault.policy.purposes import Channel, LawfulBasis

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.policy.purposes import Purpose, PurposeCatalogue

__all__ = [
    "EVIDENCE_IP",
    "EVIDENCE_UA",
    "ConsentChoice",
    "ConsentDeps",
    "ConsentEvent",
    "ConsentService",
    "ConsentStatus",
    "DueConsent",
    "Evidence",
    "Receipt",
    "RecordResult",
    "evidence_field",
]

Clock = Callable[[], datetime]
CLOCK_SKEW = timedelta(minutes=5)  # how far in the future a collection time may be (client clocks drift)
DUE_WITHIN_DAYS = 30
MAX_CHOICES = 50


_NOT_CONSENT = {
    LawfulBasis.CONTRACT: (
        "rests on the contract with the customer (GDPR Art. 6(1)(b), PIPA Art. 15(1)(4)), not on consent; it cannot "
        "be granted, refused or withdrawn while the contract runs. To stop this processing, end the contract "
        "(close the customer account); retention then limits what is kept."),
    LawfulBasis.LEGAL_OBLIGATION: (
        "rests on a legal obligation (GDPR Art. 6(1)(c), PIPA Art. 15(1)(2)), not on consent; the statute requires "
        "it whatever the customer chooses."),
    LawfulBasis.LEGITIMATE_INTEREST: (
        "rests on legitimate interest (GDPR Art. 6(1)(f)), not on consent; the customer may object to it "
        "(GDPR Art. 21) instead of withdrawing a consent."),
}


@dataclass(frozen=True)
class ConsentDeps:
    """Collaborators of :class:`ConsentService`, built once per process."""

    keyring: Keyring
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog
    clock: Clock = utcnow


def _channel_out(channel: str) -> str | None:
    return channel or None


class ConsentService:
    """Consent use cases for one session (the caller commits)."""

    def __init__(self, session: AsyncSession, deps: ConsentDeps) -> None:
        self._session = session
        self._d = deps
        self._repo = ConsentRepository(session)

    @property
    def consent_purposes(self) -> list[str]:
        """Ids of the purposes that rest on consent."""
        return [p.id for p in self._d.purposes if p.is_consent]

    # -- access -------------------------------------------------------------------------------------

    async def _customer(self, customer_id: uuid.UUID, *, lock: bool = False) -> CustomerRow:
        row = await self._repo.customer(customer_id, lock=lock)
        if row is None or row.status != "active" or row.erased_at is not None:
            raise CustomerNotFoundError(f"customer {customer_id} not found")
        return row

    # -- validation ---------------------------------------------------------------------------------

    def purpose(self, purpose_id: str) -> Purpose:
        """A catalogue purpose.

        Raises:
            UnknownConsentPurposeError: listing the consent purposes.
        """
        p = self._d.purposes.get(purpose_id)
        if p is None:
            raise UnknownConsentPurposeError(
                f"unknown purpose {purpose_id!r}; purposes that rest on consent: {', '.join(self.consent_purposes)}",
                purpose=purpose_id, valid=self.consent_purposes)
        return p

    def _validate(self, choice: ConsentChoice) -> tuple[Purpose, Action, tuple[str, ...], str | None, str | None]:
        purpose = self.purpose(choice.purpose)
        try:
            action = Action(choice.action)
        except ValueError:
            raise InvalidConsentError(
                f"unknown action {choice.action!r}; valid actions: {', '.join(a.value for a in Action)}",
                field="action", valid=[a.value for a in Action]) from None
        if not purpose.is_consent:
            raise ConsentNotApplicableError(
                f"purpose {purpose.id!r} {_NOT_CONSENT[purpose.lawful_basis]}", purpose=purpose.id)
        valid_channels = [c for c in purpose.consent_channels if c]
        if choice.channels is None:
            channels = purpose.consent_channels
        else:
            bad = [c for c in choice.channels if c not in valid_channels]
            if bad or not choice.channels:
                known = [c.value for c in Channel]
                what = "unknown channels" if any(c not in known for c in bad) else "channels not used by this purpose"
                raise UnknownChannelError(
                    f"{what} {bad} for purpose {purpose.id!r}; valid channels: "
                    f"{', '.join(valid_channels) or '(none: omit channels)'}",
                    purpose=purpose.id, valid=valid_channels)
            channels = tuple(dict.fromkeys(choice.channels))
        accepted = list(purpose.accepted_versions)
        if action in (Action.GRANT, Action.RECONFIRM) and not choice.notice_version:
            # Provable consent (GDPR 7(1), PIPA 22): the controller must know which notice was shown.
            raise NoticeVersionRequiredError(
                f"a {action.value} of purpose {purpose.id!r} must name the notice_version shown to the customer; "
                f"accepted: {', '.join(accepted)}", field="notice_version", purpose=purpose.id, valid=accepted)
        version = choice.notice_version or purpose.current_notice.version
        notice = purpose.notice(version)
        if notice is None or (action in (Action.GRANT, Action.RECONFIRM) and version not in accepted):
            what = "has no notice version" if notice is None else "no longer accepts notice version"
            raise UnknownNoticeError(
                f"purpose {purpose.id!r} {what} {version!r}; accepted: {', '.join(accepted)}",
                purpose=purpose.id, valid=accepted)
        return purpose, action, channels, notice.version, notice.disclosure_hash(purpose.id)

    def _collected_at(self, value: datetime | None, now: datetime) -> datetime:
        if value is None:
            return now
        at = utc(value)
        if at > now + CLOCK_SKEW:
            raise InvalidConsentError("collected_at lies in the future", field="collected_at")
        return at

    # -- use cases ----------------------------------------------------------------------------------

    async def record(
        self, customer_id: uuid.UUID, choices: Sequence[ConsentChoice], caller: Caller, *,
        source: str, collected_at: datetime | None = None, evidence: Evidence | None = None,
    ) -> RecordResult:
        """Record grants, refusals, withdrawals and reconfirmations, with one signed receipt.

        Raises:
            UnknownConsentPurposeError, UnknownChannelError, UnknownNoticeError, InvalidConsentError (422);
            ConsentNotApplicableError, NothingToReconfirmError, ConsentOrderError (409);
            CustomerNotFoundError (404); AccessDeniedError (403, audited).
        """
        request_purpose = (await self._d.guard.require(caller, perms.CONSENTS_WRITE, "consent.record",
                                                       customer_id=customer_id)).id
        if not choices:
            raise InvalidConsentError("give at least one consent decision", field="consents")
        if len(choices) > MAX_CHOICES:
            raise InvalidConsentError(f"at most {MAX_CHOICES} decisions per request", field="consents")
        if source not in COLLECTION_SOURCES:
            raise InvalidConsentError(
                f"unknown source {source!r}; valid sources: {', '.join(COLLECTION_SOURCES)}",
                field="source", valid=list(COLLECTION_SOURCES))
        planned: list[tuple[Purpose, Action, str, str | None, str | None]] = []
        seen: set[tuple[str, str]] = set()
        for choice in choices:
            purpose, action, channels, version, digest = self._validate(choice)
            for channel in channels:
                if (purpose.id, channel) in seen:
                    raise InvalidConsentError(
                        f"purpose {purpose.id!r} channel {channel or '(none)'!r} appears twice in one request",
                        field="consents", purpose=purpose.id)
                seen.add((purpose.id, channel))
                planned.append((purpose, action, channel, version, digest))
        customer = await self._customer(customer_id, lock=True)
        # "now" is read once the customer's decisions are serialized (row lock / SQLite write lock), so
        # concurrent requests for one customer get increasing times and never look out of order.
        now = utc(self._d.clock())
        at = self._collected_at(collected_at, now)
        current = await self._repo.states(customer_id)  # all purposes: the response shows the whole state
        events: list[dict[str, Any]] = []
        new_states: list[tuple[bool, dict[str, Any]]] = []
        for purpose, action, channel, version, digest in planned:
            before = current.get((purpose.id, channel))
            kind = event_kind(purpose, action, before, at)
            if kind is None:
                raise NothingToReconfirmError(
                    f"purpose {purpose.id!r} channel {channel or '(none)'!r}: there is no current consent to "
                    f"reconfirm ({why_not(purpose, before, at)}); ask the customer to grant it instead",
                    purpose=purpose.id)
            if before is not None and at < before.updated_at:
                raise ConsentOrderError(
                    f"purpose {purpose.id!r} channel {channel or '(none)'!r}: a decision dated "
                    f"{before.updated_at.isoformat()} is already recorded; an earlier collected_at cannot override it",
                    purpose=purpose.id)
            after = apply(before, kind, at, version, digest)
            event_id = new_id()
            events.append({
                "id": event_id, "customer_id": customer_id, "purpose": purpose.id, "channel": channel,
                "kind": kind.value, "notice_version": version, "notice_hash": digest, "source": source,
                "actor_id": caller.principal.id if caller.principal else None, "actor_name": caller.actor.name,
                "actor_role": caller.actor.role, "occurred_at": at, "recorded_at": now,
                "evidence_ip": None, "evidence_user_agent": None, "evidence_key_version": None,
                "receipt_id": None, "request_id": caller.request_id,
            })
            new_states.append((before is not None, {
                "customer_id": customer_id, "purpose": purpose.id, "channel": channel, "status": after.status,
                "granted_at": after.granted_at, "notice_version": after.notice_version,
                "notice_hash": after.notice_hash, "event_id": event_id, "updated_at": after.updated_at,
            }))
        if evidence is not None and (evidence.ip or evidence.user_agent):
            key = customer_key(self._d.keyring, customer)
            for ev in events:
                if evidence.ip:
                    ev["evidence_ip"] = key.seal(evidence_field(EVIDENCE_IP, ev["id"]), evidence.ip[:100])
                if evidence.user_agent:
                    ev["evidence_user_agent"] = key.seal(evidence_field(EVIDENCE_UA, ev["id"]),
                                                         evidence.user_agent[:512])
                ev["evidence_key_version"] = key.version
        receipt = sign_receipt(self._d.keyring.receipt_signer, self._d.purposes.controller, customer_id, events, now)
        await self._repo.add_receipt(receipt)
        for ev in events:
            ev["receipt_id"] = receipt.id
        await self._repo.add_events(events)
        await self._repo.write_states(new_states)
        await self._d.audit.record(self._session, AuditEvent(
            "consent.record", Outcome.ALLOWED, caller.actor, purpose=request_purpose, customer_id=customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip,
            detail="; ".join(f"{e['kind']} {e['purpose']}/{e['channel'] or '-'}" for e in events)[:1000]))
        for _, st in new_states:  # the state after this request, without reading it back
            current[(st["purpose"], st["channel"])] = State(st["status"], st["granted_at"], st["updated_at"],
                                                            st["notice_version"], st["notice_hash"])
        return RecordResult([self._event(e, None) for e in events], receipt, self._statuses(current, now))

    def _status(self, purpose: Purpose, channel: str, state: State | None, at: datetime) -> ConsentStatus:
        reason = why_not(purpose, state, at)
        status = "never_granted" if state is None else (
            "expired" if state.status == Kind.GRANTED and reason is not None else state.status)
        return ConsentStatus(
            purpose.id, _channel_out(channel), status, reason is None, reason.value if reason else None,
            state.granted_at if state else None,
            expires_at(purpose, state.granted_at) if state and state.status == Kind.GRANTED else None,
            state.notice_version if state else None, state.notice_hash if state else None,
            state.updated_at if state else None)

    async def _current(self, customer_id: uuid.UUID, at: datetime) -> list[ConsentStatus]:
        return self._statuses(await self._repo.states(customer_id), at)

    def _statuses(self, states: dict[tuple[str, str], State], at: datetime) -> list[ConsentStatus]:
        return [self._status(p, ch, states.get((p.id, ch)), at)
                for p in self._d.purposes if p.is_consent for ch in p.consent_channels]

    @staticmethod
    def _event(e: dict[str, Any], evidence: dict[str, str] | None) -> ConsentEvent:
        return ConsentEvent(
            e["id"], e["customer_id"], e["purpose"], _channel_out(e["channel"]), e["kind"], e["notice_version"],
            e["notice_hash"], e["source"], e["actor_name"], e["actor_role"], as_utc(e["occurred_at"]),
            as_utc(e["recorded_at"]), e["receipt_id"], evidence)

    async def state(self, customer_id: uuid.UUID, caller: Caller, *, at: datetime | None = None,
                    ) -> list[ConsentStatus]:
        """Current state of every consent purpose x channel for a customer (audited before it is returned)."""
        purpose = (await self._d.guard.require(caller, perms.CONSENTS_READ, "consent.read",
                                               customer_id=customer_id)).id
        await self._customer(customer_id)
        out = await self._current(customer_id, utc(at) if at else utc(self._d.clock()))
        await self._d.audit.record_durable(AuditEvent(
            "consent.read", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip))
        return out

    async def history(self, customer_id: uuid.UUID, caller: Caller, *, with_evidence: bool = False,
                      ) -> list[ConsentEvent]:
        """Every decision ever recorded for a customer, oldest first; evidence only for roles allowed it.

        Raises:
            CustomerNotFoundError, AccessDeniedError (audited).
        """
        purpose = (await self._d.guard.require(caller, perms.CONSENTS_READ, "consent.history",
                                               customer_id=customer_id)).id
        if with_evidence and not self._d.guard.may(caller, perms.CONSENT_EVIDENCE_READ, purpose):
            await self._d.guard.require(caller, perms.CONSENT_EVIDENCE_READ, "consent.history",
                                        customer_id=customer_id)
        customer = await self._customer(customer_id)
        rows = await self._repo.events_of(customer_id)
        key = customer_key(self._d.keyring, customer) if with_evidence and customer.wrapped_dek else None
        out = []
        for r in rows:
            evidence = None
            if key is not None:
                evidence = {}
                if r["evidence_ip"] is not None:
                    evidence["ip"] = key.open(evidence_field(EVIDENCE_IP, r["id"]), r["evidence_ip"])
                if r["evidence_user_agent"] is not None:
                    evidence["user_agent"] = key.open(evidence_field(EVIDENCE_UA, r["id"]), r["evidence_user_agent"])
            out.append(self._event(dict(r), evidence))
        await self._d.audit.record_durable(AuditEvent(
            "consent.history", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=customer_id,
            fields=("consent.evidence",) if with_evidence else (), request_id=caller.request_id,
            client_ip=caller.client_ip, detail=f"{len(out)} events"))
        return out

    async def receipt(self, event_id: uuid.UUID, caller: Caller) -> Receipt:
        """The signed receipt of the request that recorded ``event_id``.

        Raises:
            ConsentEventNotFoundError, ReceiptNotFoundError, AccessDeniedError (audited).
        """
        purpose = (await self._d.guard.require(caller, perms.CONSENTS_READ, "consent.receipt")).id
        row = await self._repo.event_receipt(event_id)
        if row is None:
            raise ConsentEventNotFoundError(f"consent event {event_id} not found")
        if row.receipt_id is None:
            raise ReceiptNotFoundError(
                f"consent event {event_id} has no receipt (imported or expiry events carry none)")
        rec = await self._repo.receipt(row.receipt_id)
        assert rec is not None
        await self._d.audit.record_durable(AuditEvent(
            "consent.receipt", Outcome.ALLOWED, caller.actor, purpose=purpose, customer_id=row.customer_id,
            request_id=caller.request_id, client_ip=caller.client_ip, detail=f"receipt {rec.id}"))
        return Receipt(rec.id, rec.customer_id, as_utc(rec.issued_at), rec.key_id, rec.jws)

    def receipt_key(self) -> dict[str, Any]:
        """The receipt-signing public key (PEM and JWK): receipts verify offline against it."""
        return receipt_key(self._d.keyring.receipt_signer)

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
        targets = [self.purpose(purpose_id)] if purpose_id else list(self._d.purposes)
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
            out.append(DueConsent(cid, pid, _channel_out(channel), as_utc(granted), lapse))
        await self._d.audit.record_durable(AuditEvent(
            "consent.due", Outcome.ALLOWED, caller.actor, purpose=purpose,
            subjects=tuple(dict.fromkeys(d.customer_id for d in out)), request_id=caller.request_id,
            client_ip=caller.client_ip, detail=f"{len(out)} grants due within {within_days} days"))
        return out
