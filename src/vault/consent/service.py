"""Recording consent decisions (grants, refusals, withdrawals, reconfirmations) with one signed receipt.

Every decision is an append-only event; the current state per customer x purpose x
channel is updated in the same transaction (so a withdrawal denies the very next
read). The service flushes, never commits: whoever opened the session commits.
Reading consent lives in :mod:`vault.consent.reads`, expiry and the due list in
:mod:`vault.consent.expiry`; :class:`ConsentDeps` serves all three.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from vault.access import permissions as perms
from vault.audit.entry import AuditEvent, Outcome
from vault.consent.errors import (
    ConsentNotApplicableError,
    ConsentOrderError,
    InvalidConsentError,
    NothingToReconfirmError,
    NoticeVersionRequiredError,
    UnknownChannelError,
    UnknownNoticeError,
)
from vault.consent.lookup import active_customer, consent_purposes, lookup_purpose
from vault.consent.reads import event_view, statuses
from vault.consent.receipts import EVIDENCE_IP, EVIDENCE_UA, evidence_field, sign_receipt
from vault.consent.repository import ConsentRepository
from vault.consent.rules import COLLECTION_SOURCES, Action, State, apply, event_kind, utc, why_not
from vault.consent.views import (
    ConsentChoice,
    ConsentEvent,
    ConsentStatus,
    DueConsent,
    Evidence,
    Receipt,
    RecordResult,
)
from vault.customers.records import customer_key
from vault.lib.clock import utcnow
from vault.lib.ids import new_id
from vault.policy.purposes import Channel, LawfulBasis

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.customers.models import CustomerRow
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
    """Collaborators of the consent services (recording, :class:`~vault.consent.reads.ConsentReads`,
    :class:`~vault.consent.expiry.ConsentExpiry`), built once per process."""

    keyring: Keyring
    purposes: PurposeCatalogue
    guard: Guard
    audit: AuditLog
    clock: Clock = utcnow


class ConsentRecordStore(Protocol):
    """What recording needs from storage (:class:`~vault.consent.repository.ConsentRepository`)."""

    async def customer(self, customer_id: uuid.UUID, *, lock: bool = False) -> CustomerRow | None:
        """One customer record, locked for this transaction's decisions when ``lock``."""
        ...

    async def states(self, customer_id: uuid.UUID, purposes: set[str] | None = None,
                     ) -> dict[tuple[str, str], State]:
        """The customer's current state per (purpose, channel)."""
        ...

    async def add_receipt(self, receipt: Receipt) -> None:
        """Store a signed receipt."""
        ...

    async def add_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Append events."""
        ...

    async def write_states(self, new_states: Sequence[tuple[bool, Mapping[str, Any]]]) -> None:
        """Insert (False) or update (True) current states."""
        ...


class ConsentService:
    """Records consent decisions on one session (the caller commits)."""

    def __init__(self, session: AsyncSession, deps: ConsentDeps, *, repo: ConsentRecordStore | None = None) -> None:
        self._session = session
        self._d = deps
        self._repo: ConsentRecordStore = repo if repo is not None else ConsentRepository(session)

    @property
    def consent_purposes(self) -> list[str]:
        """Ids of the purposes that rest on consent."""
        return consent_purposes(self._d.purposes)

    def purpose(self, purpose_id: str) -> Purpose:
        """A catalogue purpose.

        Raises:
            UnknownConsentPurposeError: listing the consent purposes.
        """
        return lookup_purpose(self._d.purposes, purpose_id)

    # -- validation ---------------------------------------------------------------------------------

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
        customer = await active_customer(self._repo, customer_id, lock=True)
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
        return RecordResult([event_view(e, None) for e in events], receipt, statuses(self._d.purposes, current, now))
