"""Principals, API keys and console passwords."""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from vault.access.errors import (
    AccountLockedError,
    ApprovalNotPendingError,
    DuplicatePrincipalError,
    ForeignKeyIssueError,
    InvalidCredentialsError,
    PrincipalNotFoundError,
    SelfApprovalError,
    UnknownRoleError,
)
from vault.access.models import ApiKeyRow, PrincipalRow
from vault.audit.entry import Actor, AuditEvent, Outcome
from vault.errors import InvalidInputError, VaultError
from vault.lib.clock import as_utc, utcnow

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.guard import Guard
    from vault.audit.log import AuditLog
    from vault.db.engine import Database

KEY_PREFIX = "cvk_"
ACTIVE = "active"
PENDING = "pending_approval"
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    id: uuid.UUID
    name: str
    kind: str
    role: str
    key_prefix: str | None = None
    """The API key this request authenticated with (None for console logins)."""
    key_issuer: str | None = None
    """Who issued that key (``principal:<hex id>`` or ``operator:<name>``)."""

    @property
    def actor(self) -> Actor:
        """This principal as an audit actor (with the key used and its issuer)."""
        return Actor(self.id, self.name, self.role, self.key_prefix, self.key_issuer)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly issued API key; ``secret`` is shown once and never stored."""

    id: uuid.UUID
    prefix: str
    secret: str


def issuer_of(actor: Actor) -> str:
    """How a key's issuer (or a principal's creator) is recorded: a principal id or the CLI operator."""
    if actor.principal_id is not None:
        return f"principal:{actor.principal_id.hex}"
    return f"operator:{actor.name}"[:140]


def _split_key(secret: str) -> tuple[str, bytes] | None:
    if not secret.startswith(KEY_PREFIX) or secret.count("_") < 2:
        return None
    prefix = secret[: secret.index("_", len(KEY_PREFIX))]
    return prefix, hashlib.sha256(secret.encode()).digest()


class PrincipalService:
    """Manage principals and keys; authenticate API keys and console logins."""

    def __init__(self, session: AsyncSession, audit: AuditLog, roles: Collection[str],
                 pii_roles: Collection[str] = (), guard: Callable[[], Guard] | None = None) -> None:
        self._session = session
        self._audit = audit
        self._roles = roles
        self._pii_roles = pii_roles
        self._guard = guard

    def _needs_approval(self, role: str, actor: Actor) -> bool:
        # A principal (an admin over HTTP) may not alone create a PII-capable principal; the local
        # operator (shell access to the key file) is the root of trust that bootstraps the first ones.
        return role in self._pii_roles and actor.principal_id is not None

    async def create(
        self, name: str, role: str, actor: Actor, *, kind: str = "service", password: str | None = None,
        with_key: bool = True,
    ) -> tuple[Principal, IssuedKey | None]:
        """Create a principal (and an API key for services).

        Raises:
            UnknownRoleError, DuplicatePrincipalError, InvalidInputError.
        """
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInputError("principal name must be 1-100 characters")
        if role not in self._roles:
            raise UnknownRoleError(f"unknown role {role!r}; roles: {', '.join(sorted(self._roles))}")
        if kind not in ("service", "person"):
            raise InvalidInputError("principal kind must be 'service' or 'person'")
        if password is not None and len(password) < 12:
            raise InvalidInputError("password must be at least 12 characters")
        status = PENDING if self._needs_approval(role, actor) else ACTIVE
        row = PrincipalRow(
            id=uuid.uuid4(), name=name, kind=kind, role=role, created_at=utcnow(), failed_logins=0,
            password_hash=_hasher.hash(password) if password else None, status=status,
            created_by=issuer_of(actor),
        )
        self._session.add(row)
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise DuplicatePrincipalError(f"a principal named {name!r} already exists") from exc
        principal = Principal(row.id, row.name, row.kind, row.role)
        await self._audit.record(self._session, AuditEvent(
            "principal.create", Outcome.ALLOWED, actor,
            detail=f"principal={row.id} role={role} kind={kind} status={status}"))
        key = await self._issue_key(row, actor) if with_key else None
        return principal, key

    async def rotate_own_key(self, caller: Principal) -> IssuedKey:
        """Issue a new API key for the calling principal itself (the only way to get another key).

        Nobody issues keys for another principal: a principal gets its key at creation, or rotates its own.
        """
        return await self._issue_key(await self._get_row(caller.id), caller.actor)

    async def issue_key(self, principal_id: uuid.UUID, caller: Caller) -> IssuedKey:
        """Issue an API key to ``principal_id``, which must be the caller itself: :meth:`rotate_own_key`.

        Raises:
            ForeignKeyIssueError: ``principal_id`` is another principal (a durable denial entry is written
                first, by the guard).
        """
        if caller.principal is not None and principal_id == caller.principal.id:
            return await self.rotate_own_key(caller.principal)
        exc = ForeignKeyIssueError(
            "API keys are issued only to their own principal: at creation, or by rotating one's own key "
            "(POST /v1/principals/me/keys)")
        if self._guard is not None:
            await self._guard().deny(caller, "key.issue", exc, context=f"principal={principal_id}")
        raise exc

    async def _issue_key(self, principal: PrincipalRow, actor: Actor) -> IssuedKey:
        prefix = KEY_PREFIX + secrets.token_hex(4)
        secret = f"{prefix}_{secrets.token_urlsafe(32)}"
        row = ApiKeyRow(id=uuid.uuid4(), principal_id=principal.id, prefix=prefix,
                        secret_hash=hashlib.sha256(secret.encode()).digest(), created_at=utcnow(),
                        issued_by=issuer_of(actor))
        self._session.add(row)
        await self._session.flush()
        await self._audit.record(self._session, AuditEvent(
            "key.issue", Outcome.ALLOWED, actor, detail=f"principal={principal.id} key={prefix}"))
        if principal.role in self._pii_roles:
            await self._audit.record(self._session, AuditEvent(
                "alert.pii_key_issued", Outcome.ALLOWED, actor,
                detail=f"PII-capable key {prefix} issued for principal={principal.id} role={principal.role} "
                       f"status={principal.status} by {issuer_of(actor)}"))
        return IssuedKey(row.id, prefix, secret)

    async def approve(self, principal_id: uuid.UUID, approver: Principal) -> PrincipalRow:
        """Second approval of a pending PII-capable principal by a compliance officer other than its creator.

        Raises:
            PrincipalNotFoundError, SelfApprovalError, ApprovalNotPendingError.
        """
        row = await self._get_row(principal_id)
        if row.status != PENDING:
            raise ApprovalNotPendingError(f"principal {principal_id} is not pending approval")
        if row.created_by == issuer_of(approver.actor) or row.id == approver.id:
            raise SelfApprovalError(
                f"principal {principal_id} must be approved by a different principal than the one that "
                "created or enabled it")
        row.status = ACTIVE
        row.approved_by = approver.id
        row.approved_at = utcnow()
        await self._session.flush()
        await self._audit.record(self._session, AuditEvent(
            "principal.approve", Outcome.ALLOWED, approver.actor, detail=f"principal={principal_id} role={row.role}"))
        return row

    async def enable(self, principal_id: uuid.UUID, actor: Actor) -> PrincipalRow:
        """Re-enable a disabled principal; a PII-capable one waits for a compliance officer's approval again."""
        row = await self._get_row(principal_id)
        row.disabled_at = None
        row.status = PENDING if self._needs_approval(row.role, actor) else ACTIVE
        row.created_by = issuer_of(actor)  # the enabler may not approve its own re-enabling
        row.approved_by = row.approved_at = None
        await self._session.flush()
        await self._audit.record(self._session, AuditEvent(
            "principal.enable", Outcome.ALLOWED, actor, detail=f"principal={principal_id} status={row.status}"))
        return row

    async def revoke_key(self, prefix: str, actor: Actor) -> None:
        """Revoke an API key by its visible prefix."""
        res = await self._session.execute(
            update(ApiKeyRow).where(ApiKeyRow.prefix == prefix, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        if not getattr(res, "rowcount", 0):
            raise PrincipalNotFoundError(f"no active API key with prefix {prefix!r}")
        await self._audit.record(self._session, AuditEvent("key.revoke", Outcome.ALLOWED, actor,
                                                           detail=f"key={prefix}"))

    async def disable(self, principal_id: uuid.UUID, actor: Actor) -> None:
        """Disable a principal: its keys and logins stop working."""
        row = await self._get_row(principal_id)
        row.disabled_at = utcnow()
        await self._session.flush()
        await self._audit.record(self._session, AuditEvent("principal.disable", Outcome.ALLOWED, actor,
                                                           detail=f"principal={principal_id}"))

    async def list(self) -> builtins.list[PrincipalRow]:
        """Every principal, by name."""
        return list((await self._session.scalars(select(PrincipalRow).order_by(PrincipalRow.name))).all())

    async def get(self, principal_id: uuid.UUID) -> PrincipalRow:
        """One principal."""
        return await self._get_row(principal_id)

    async def keys(self, principal_id: uuid.UUID) -> builtins.list[ApiKeyRow]:
        """A principal's keys (prefix and state, never secrets)."""
        q = select(ApiKeyRow).where(ApiKeyRow.principal_id == principal_id).order_by(ApiKeyRow.created_at)
        return list((await self._session.scalars(q)).all())

    async def _get_row(self, principal_id: uuid.UUID) -> PrincipalRow:
        row = await self._session.get(PrincipalRow, principal_id)
        if row is None:
            raise PrincipalNotFoundError(f"principal {principal_id} not found")
        return row

    async def authenticate_key(self, secret: str) -> Principal:
        """Resolve an API key to its principal.

        Raises:
            InvalidCredentialsError: unknown, malformed, revoked, or principal disabled.
        """
        split = _split_key(secret)
        if split is None:
            raise InvalidCredentialsError("malformed API key")
        prefix, digest = split
        row = (await self._session.execute(
            select(ApiKeyRow.secret_hash, ApiKeyRow.revoked_at, PrincipalRow.id, PrincipalRow.name,
                   PrincipalRow.kind, PrincipalRow.role, PrincipalRow.disabled_at, PrincipalRow.status,
                   ApiKeyRow.issued_by)
            .join(PrincipalRow, PrincipalRow.id == ApiKeyRow.principal_id)
            .where(ApiKeyRow.prefix == prefix)
        )).first()
        if (row is None or not hmac.compare_digest(row[0], digest) or row[1] is not None or row[6] is not None
                or row[7] != ACTIVE):
            raise InvalidCredentialsError("unknown, revoked, disabled or not yet approved API key")
        return Principal(row[2], row[3], row[4], row[5], prefix, row[8])

    async def login(self, name: str, password: str, *, client_ip: str | None = None) -> Principal | VaultError:
        """Check a console password; locks the account after repeated failures.

        A failed attempt must still be recorded (failure counter, lock, audit entry),
        so failures are *returned*, not raised: the caller commits, then raises the
        returned error (see :func:`login`).
        """
        row = (await self._session.scalars(select(PrincipalRow).where(PrincipalRow.name == name))).first()
        now = utcnow()
        if row is None or row.password_hash is None or row.disabled_at is not None or row.status != ACTIVE:
            await self._audit.record(self._session, AuditEvent(
                "auth.login", Outcome.DENIED, Actor(None, name[:100], "unknown"), client_ip=client_ip,
                detail="unknown principal"))
            return InvalidCredentialsError("invalid name or password")
        actor = Actor(row.id, row.name, row.role)
        if row.locked_until is not None and as_utc(row.locked_until) > now:
            await self._audit.record(self._session, AuditEvent("auth.login", Outcome.DENIED, actor,
                                                               client_ip=client_ip, detail="locked"))
            return AccountLockedError("account is locked after repeated failed logins; try again later")
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            row.failed_logins += 1
            locked = row.failed_logins >= MAX_FAILED_LOGINS
            if locked:
                row.locked_until = now + LOCKOUT
                row.failed_logins = 0
            await self._session.flush()
            await self._audit.record(self._session, AuditEvent(
                "auth.login", Outcome.DENIED, actor, client_ip=client_ip,
                detail="bad password; account locked" if locked else "bad password"))
            return InvalidCredentialsError("invalid name or password")
        row.failed_logins = 0
        row.locked_until = None
        await self._session.flush()
        await self._audit.record(self._session, AuditEvent("auth.login", Outcome.ALLOWED, actor, client_ip=client_ip))
        return Principal(row.id, row.name, row.kind, row.role)


async def login(db: Database, audit: AuditLog, roles: Collection[str], name: str, password: str, *,
                client_ip: str | None = None) -> Principal:
    """Log a person in: the attempt (and any lock) is committed before a failure is raised.

    Raises:
        InvalidCredentialsError, AccountLockedError.
    """
    async with db.write() as session:
        outcome = await PrincipalService(session, audit, roles).login(name, password, client_ip=client_ip)
    if isinstance(outcome, VaultError):
        raise outcome
    return outcome
