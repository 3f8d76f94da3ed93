"""Free-text customer notes: the original sealed, a redacted copy for everyone else.

Call-centre memos carry personal data nobody declared (an RRN typed into a
note, a phone number in a delivery instruction). A note is stored twice, both
sealed under the customer's DEK (so erasure shreds them with the rest): the
original, readable only with ``notes:read`` (compliance, legal claims), and a
redacted copy produced by the PII detector (``[전화번호]`` / ``<PHONE_NUMBER>``),
which roles with ``notes:read_masked`` see. Only entity types and counts are
kept in clear. A note holding a resident registration number keeps only its
redacted copy unless it is written under a purpose that collects RRNs under a
statute (PIPA art. 24-2).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import JSON, DateTime, ForeignKey, LargeBinary, String, Uuid, select
from sqlalchemy.orm import Mapped, mapped_column

from vault.access.permissions import Permission
from vault.audit.entry import AuditEvent, Outcome
from vault.customers import records
from vault.customers.errors import CustomerNotFoundError
from vault.customers.models import CustomerRow
from vault.db.base import Base
from vault.errors import InvalidInputError, RateLimitedError
from vault.lib.clock import as_utc, utcnow
from vault.lib.ids import new_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.customers.service import CustomerDeps
    from vault.lib.pii import RedactedText


class Redactor(Protocol):
    """Redacts free text off the event loop (``vault.detection.pool.DetectionPool`` in the API)."""

    async def redact(self, text: str, language: str | None = None) -> RedactedText: ...

NOTES_CREATE = Permission("notes", "create")
NOTES_READ = Permission("notes", "read")
NOTES_READ_REDACTED = Permission("notes", "read_masked")
MAX_NOTE = 20_000
RRN_ENTITY = "KR_RRN"
LANGUAGES = ("ko", "en")


class NoteRow(Base):
    """A note; ``original`` and ``redacted`` are ciphertexts under the customer's DEK."""

    __tablename__ = "customer_notes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("customers.id", ondelete="CASCADE"),
                                                   index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    author_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    original: Mapped[bytes] = mapped_column(LargeBinary)
    redacted: Mapped[bytes] = mapped_column(LargeBinary)
    entity_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@dataclass(frozen=True, slots=True)
class NoteView:
    """A note as the caller may see it."""

    id: uuid.UUID
    customer_id: uuid.UUID
    created_at: datetime
    language: str | None
    text: str
    redacted: bool
    entity_counts: dict[str, int]


class NoteService:
    """Add and read customer notes (the caller commits)."""

    def __init__(self, session: AsyncSession, deps: CustomerDeps, detector: Redactor) -> None:
        self._session = session
        self._d = deps
        self._detector = detector

    async def _redact(self, text: str, language: str | None, caller: Caller) -> RedactedText:
        """Detection is CPU-bound (seconds for 100k characters): run it off the event loop, a few per principal."""
        slots, key = self._d.detection_slots, caller.principal.id if caller.principal else None
        if slots is None or key is None:
            return await self._detector.redact(text, language)
        if not slots.try_acquire(key):
            raise RateLimitedError(f"at most {slots.limit} PII detection runs in flight per principal; retry shortly",
                                   retry_after=1)
        try:
            return await self._detector.redact(text, language)
        finally:
            slots.release(key)

    async def add(self, customer_id: uuid.UUID, text: str, language: str | None, caller: Caller) -> NoteView:
        """Store a note: the original sealed, the redacted copy sealed, entity counts in clear.

        Raises:
            InvalidInputError, CustomerNotFoundError, AccessDeniedError.
        """
        purpose = await self._d.guard.require(caller, NOTES_CREATE, "note.create", customer_id=customer_id)
        purpose_id = purpose.id
        if not text.strip():
            raise InvalidInputError("note text must not be empty", field="text")
        if len(text) > MAX_NOTE:
            raise InvalidInputError(f"note text is longer than {MAX_NOTE} characters", field="text")
        if language is not None and language not in LANGUAGES:
            raise InvalidInputError(f"language must be one of {', '.join(LANGUAGES)}", field="language",
                                    valid=list(LANGUAGES))
        customer = await self._customer(customer_id)
        await self._d.guard.admit(caller, purpose, "note.create", customer, self._session)
        result = await self._redact(text, language, caller)
        counts = dict(Counter(e.type for e in result.entities))
        # PIPA 24-2: an RRN typed into a note is kept only where a statute purpose collects RRNs; otherwise
        # the note keeps only its redacted copy (the "original" is the redacted text too).
        keep_original = not counts.get(RRN_ENTITY) or "rrn" in purpose.fields
        key = records.customer_key(self._d.keyring, customer)
        note_id = new_id()
        row = NoteRow(id=note_id, customer_id=customer_id, created_at=utcnow(),
                      author_id=caller.principal.id if caller.principal else None, language=language,
                      original=key.seal(f"note:{note_id.hex}", text if keep_original else result.text),
                      redacted=key.seal(f"note.redacted:{note_id.hex}", result.text), entity_counts=counts)
        self._session.add(row)
        await self._session.flush()
        await self._d.audit.record(self._session, AuditEvent(
            "note.create", Outcome.ALLOWED, caller.actor, purpose=purpose_id, customer_id=customer_id,
            fields=("note",), request_id=caller.request_id, client_ip=caller.client_ip,
            detail="entities: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none")
                   + ("" if keep_original else "; original not kept (RRN without a statute purpose)")))
        return NoteView(note_id, customer_id, as_utc(row.created_at), language, result.text, True, counts)

    async def list(self, customer_id: uuid.UUID, caller: Caller) -> list[NoteView]:
        """Notes of a customer, newest first: originals for ``notes:read``, redacted for ``notes:read_masked``."""
        purpose = await self._d.guard.purpose(caller, "note.read", customer_id=customer_id)
        purpose_id = purpose.id
        clear = self._d.guard.may(caller, NOTES_READ, purpose_id)
        if not clear:
            await self._d.guard.require(caller, NOTES_READ_REDACTED, "note.read", customer_id=customer_id)
        customer = await self._customer(customer_id)
        await self._d.guard.admit(caller, purpose, "note.read", customer, self._session)
        key = records.customer_key(self._d.keyring, customer)
        rows = (await self._session.scalars(
            select(NoteRow).where(NoteRow.customer_id == customer_id).order_by(NoteRow.id.desc()).limit(200)
        )).all()
        views = []
        for r in rows:
            text = key.open(f"note:{r.id.hex}", r.original) if clear else key.open(
                f"note.redacted:{r.id.hex}", r.redacted)
            views.append(NoteView(r.id, r.customer_id, as_utc(r.created_at), r.language, text, not clear,
                                  dict(r.entity_counts or {})))
        await self._d.audit.record_durable(AuditEvent(
            "note.read", Outcome.ALLOWED, caller.actor, purpose=purpose_id, customer_id=customer_id,
            fields=("note" if clear else "note.redacted",), request_id=caller.request_id,
            client_ip=caller.client_ip, detail=f"{len(views)} notes"))
        return views

    async def _customer(self, customer_id: uuid.UUID) -> CustomerRow:
        row = await self._session.get(CustomerRow, customer_id)
        if row is None or row.status != "active" or row.wrapped_dek is None:
            raise CustomerNotFoundError(f"customer {customer_id} not found")
        return row
