"""Console sessions for people: server-side rows (so several worker processes share them), idle timeout,
absolute lifetime, session-bound CSRF tokens and the optional TOTP second factor.

The browser holds only a random token; the table holds its SHA-256. The CSRF token is an HMAC of the session
token, so it needs no storage and is useless without the HttpOnly cookie it is bound to.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Uuid, select
from sqlalchemy.orm import Mapped, mapped_column

from vault.access.errors import (
    CsrfRejectedError,
    InvalidCredentialsError,
    SecondFactorRequiredError,
    SessionExpiredError,
)
from vault.access.models import PrincipalRow
from vault.access.principals import Principal
from vault.audit.entry import AuditEvent, Outcome
from vault.crypto.keys import WrappedKey
from vault.crypto.totp import new_totp_secret, totp_base32, totp_uri, totp_verify
from vault.db.base import Base
from vault.errors import ConflictError, VaultError
from vault.lib.clock import as_utc, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.audit.log import AuditLog
    from vault.crypto.keys import KeyProvider

MAX_TOTP_FAILURES = 5
_TOUCH_EVERY = timedelta(seconds=30)  # last_seen_at is rewritten at most this often per session


class ConsoleSessionRow(Base):
    """A logged-in person's console session (the token itself is never stored)."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex of the cookie token
    principal_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    mfa_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    mfa_failures: Mapped[int] = mapped_column(Integer, default=0)
    client_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    end_reason: Mapped[str | None] = mapped_column(String(20), default=None)


class PrincipalTotpRow(Base):
    """A person's TOTP secret, wrapped under the KEK (label binds it to the principal)."""

    __tablename__ = "principal_totp"

    principal_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("principals.id"), primary_key=True)
    kek_version: Mapped[str] = mapped_column(String(40))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Lifetimes from the console settings."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A live session: who, and the token its forms must carry."""

    id: str
    principal: Principal
    csrf_token: str
    mfa_pending: bool
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class StartedSession:
    """A new session; ``token`` goes into the cookie and is never stored."""

    token: str
    session: ConsoleSession


@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    """A TOTP secret shown once for an authenticator app (not active until a code confirms it)."""

    secret_base32: str
    uri: str


def session_id(token: str) -> str:
    """The stored id of a cookie token."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token bound to a session token."""
    return hmac.new(token.encode(), b"customer-vault-console-csrf", hashlib.sha256).hexdigest()


def check_csrf(token: str, submitted: str | None) -> None:
    """Raise unless ``submitted`` is the CSRF token of the session ``token``.

    Raises:
        CsrfRejectedError.
    """
    if not submitted or not hmac.compare_digest(csrf_token(token), submitted):
        raise CsrfRejectedError("the form's token is missing or does not belong to this session; reload the page")


def _totp_label(principal_id: uuid.UUID) -> str:
    return f"totp:{principal_id}"


class SessionService:
    """Start, resume and end console sessions; enroll and check TOTP."""

    def __init__(self, session: AsyncSession, audit: AuditLog, keys: KeyProvider, policy: SessionPolicy) -> None:
        self._session = session
        self._audit = audit
        self._keys = keys
        self._policy = policy

    async def start(self, principal: Principal, *, client_ip: str | None = None) -> StartedSession:
        """Open a session after a correct password (pending the second factor if the person enrolled TOTP)."""
        now = utcnow()
        token = secrets.token_urlsafe(32)
        pending = await self._totp_enabled(principal.id)
        row = ConsoleSessionRow(
            id=session_id(token), principal_id=principal.id, created_at=now, last_seen_at=now,
            expires_at=now + self._policy.lifetime, mfa_pending=pending, mfa_failures=0, client_ip=client_ip)
        self._session.add(row)
        await self._session.flush()
        await self._audit.record(self._session, AuditEvent(
            "auth.session.start", Outcome.ALLOWED, principal.actor, client_ip=client_ip,
            detail="awaiting TOTP" if pending else None))
        return StartedSession(token, ConsoleSession(row.id, principal, csrf_token(token), pending, now))

    async def resume(self, token: str, *, client_ip: str | None = None) -> ConsoleSession | VaultError:
        """The live session for ``token``; an idle or expired one is ended (audited) and an error returned.

        Errors are returned, not raised, so the caller commits the ending first (as :func:`access.login`).
        """
        found = (await self._session.execute(
            select(ConsoleSessionRow, PrincipalRow)
            .join(PrincipalRow, PrincipalRow.id == ConsoleSessionRow.principal_id)
            .where(ConsoleSessionRow.id == session_id(token))
        )).first()
        if found is None:
            return SessionExpiredError("no such console session; log in")
        row, prow = found
        if row.ended_at is not None:
            return SessionExpiredError("this console session has ended; log in again")
        principal = Principal(prow.id, prow.name, prow.kind, prow.role)
        now = utcnow()
        reason = None
        if prow.disabled_at is not None:
            reason = "principal disabled"
        elif as_utc(row.expires_at) <= now:
            reason = "lifetime"
        elif now - as_utc(row.last_seen_at) > self._policy.idle:
            reason = "idle"
        if reason is not None:
            await self._end(row, principal, reason, client_ip)
            return SessionExpiredError(f"console session ended ({reason}); log in again")
        if now - as_utc(row.last_seen_at) >= _TOUCH_EVERY:
            row.last_seen_at = now
            await self._session.flush()
        return ConsoleSession(row.id, principal, csrf_token(token), row.mfa_pending, as_utc(row.last_seen_at))

    async def end(self, token: str, *, client_ip: str | None = None) -> None:
        """Log out (audited); ending an already-ended session does nothing."""
        found = (await self._session.execute(
            select(ConsoleSessionRow, PrincipalRow)
            .join(PrincipalRow, PrincipalRow.id == ConsoleSessionRow.principal_id)
            .where(ConsoleSessionRow.id == session_id(token), ConsoleSessionRow.ended_at.is_(None))
        )).first()
        if found is not None:
            row, prow = found
            await self._end(row, Principal(prow.id, prow.name, prow.kind, prow.role), "logout", client_ip)

    async def _end(self, row: ConsoleSessionRow, principal: Principal, reason: str, client_ip: str | None) -> None:
        row.ended_at = utcnow()
        row.end_reason = reason
        await self._session.flush()
        await self._audit.record(self._session, AuditEvent(
            "auth.logout", Outcome.ALLOWED, principal.actor, client_ip=client_ip, detail=reason))

    async def second_factor(
        self, token: str, code: str, *, client_ip: str | None = None,
    ) -> ConsoleSession | VaultError:
        """Complete a pending session with a TOTP code; five wrong codes end it. Errors are returned (see resume)."""
        current = await self.resume(token, client_ip=client_ip)
        if isinstance(current, VaultError):
            return current
        if not current.mfa_pending:
            return current
        row = await self._session.get(ConsoleSessionRow, current.id)
        totp = await self._session.get(PrincipalTotpRow, current.principal.id)
        assert row is not None
        if totp is None or totp.enabled_at is None:  # TOTP was removed meanwhile: the password suffices
            row.mfa_pending = False
            await self._session.flush()
            return current
        secret = self._keys.unwrap(WrappedKey(totp.kek_version, totp.wrapped), label=_totp_label(totp.principal_id))
        step = totp_verify(secret, code, utcnow())
        actor = current.principal.actor
        if step is None or step <= totp.last_step:
            row.mfa_failures += 1
            ended = row.mfa_failures >= MAX_TOTP_FAILURES
            await self._session.flush()
            await self._audit.record(self._session, AuditEvent(
                "auth.totp", Outcome.DENIED, actor, client_ip=client_ip,
                detail="wrong or reused code" + ("; session ended" if ended else "")))
            if ended:
                await self._end(row, current.principal, "totp failures", client_ip)
                return SessionExpiredError("too many wrong codes; log in again")
            return SecondFactorRequiredError("wrong or reused code")
        totp.last_step = step
        row.mfa_pending = False
        await self._session.flush()
        await self._audit.record(self._session, AuditEvent("auth.totp", Outcome.ALLOWED, actor, client_ip=client_ip))
        return ConsoleSession(row.id, current.principal, current.csrf_token, False, current.last_seen_at)

    async def enroll_totp(self, principal: Principal) -> TotpEnrollment:
        """Create (or replace an unconfirmed) TOTP secret; it becomes active once :meth:`confirm_totp` succeeds.

        Raises:
            ConflictError: TOTP is already active for this person.
        """
        row = await self._session.get(PrincipalTotpRow, principal.id)
        if row is not None and row.enabled_at is not None:
            raise ConflictError("TOTP is already active for this account")
        secret = new_totp_secret()
        wrapped = self._keys.wrap(secret, label=_totp_label(principal.id))
        if row is None:
            row = PrincipalTotpRow(principal_id=principal.id, created_at=utcnow(), last_step=0,
                                   kek_version=wrapped.kek_version, wrapped=wrapped.blob)
            self._session.add(row)
        else:
            row.kek_version, row.wrapped, row.created_at = wrapped.kek_version, wrapped.blob, utcnow()
        await self._session.flush()
        return TotpEnrollment(totp_base32(secret), totp_uri(secret, principal.name))

    async def confirm_totp(self, principal: Principal, code: str, *, client_ip: str | None = None) -> None:
        """Activate the enrolled secret with a first valid code (audited).

        Raises:
            InvalidCredentialsError: no enrollment or a wrong code.
        """
        row = await self._session.get(PrincipalTotpRow, principal.id)
        if row is None or row.enabled_at is not None:
            raise InvalidCredentialsError("start TOTP enrollment first")
        secret = self._keys.unwrap(WrappedKey(row.kek_version, row.wrapped), label=_totp_label(principal.id))
        step = totp_verify(secret, code, utcnow())
        if step is None:
            raise InvalidCredentialsError("wrong code; check the authenticator app's clock")
        row.enabled_at, row.last_step = utcnow(), step
        await self._session.flush()
        await self._audit.record(self._session, AuditEvent(
            "auth.totp.enable", Outcome.ALLOWED, principal.actor, client_ip=client_ip))

    async def totp_enabled(self, principal_id: uuid.UUID) -> bool:
        """Whether the person has an active second factor."""
        return await self._totp_enabled(principal_id)

    async def _totp_enabled(self, principal_id: uuid.UUID) -> bool:
        row = await self._session.get(PrincipalTotpRow, principal_id)
        return row is not None and row.enabled_at is not None


__all__ = [
    "ConsoleSession",
    "ConsoleSessionRow",
    "CsrfRejectedError",
    "PrincipalTotpRow",
    "SessionPolicy",
    "SessionService",
    "StartedSession",
    "TotpEnrollment",
    "check_csrf",
    "csrf_token",
    "session_id",
]
