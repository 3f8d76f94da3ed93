"""The one audited guard: every decision to let a caller touch personal data, and every denial.

Services call :meth:`Guard.require` (or one of its narrower forms) before they do anything;
nothing else decides, and nothing else writes a denial. A denial is a durable audit entry
(group commit, see :mod:`vault.audit.log`) written before the error leaves the vault.

The checks, in order:

1. **purpose**: the request names one, and the catalogue knows it (no purpose, no data);
2. **permission**: the caller's role holds ``resource:action`` for that purpose (casbin);
3. **restriction / objection**: the customer has not restricted processing or objected to
   this (direct-marketing) purpose. The rule lives beside the customer record
   (:mod:`vault.customers.gate`) and reaches the guard through the :data:`RestrictionRule`
   port, wired by the composition root;
4. **lawful basis**: the customer has one for the purpose now (a current consent for
   consent-based purposes), answered by :class:`~vault.access.lawful_basis.LawfulBasisCheck`.

The CLI operator (a caller without a principal: shell access to the key file) skips the
permission check only; restriction and lawful basis bind every caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, Protocol, cast

from vault.access.errors import InvalidCredentialsError
from vault.access.policy import ANY
from vault.audit.entry import Actor, AuditEvent, Outcome
from vault.errors import AccessDeniedError, InvalidInputError, VaultError

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from vault.access.caller import Caller
    from vault.access.lawful_basis import LawfulBasisCheck
    from vault.access.permissions import Permission
    from vault.access.policy import AccessPolicy, Visibility
    from vault.audit.log import AuditLog
    from vault.policy.purposes import Purpose, PurposeCatalogue

__all__ = ["CustomerState", "Guard", "RestrictionRule"]


class CustomerState(Protocol):
    """What the guard reads of a customer record (the customers table row satisfies it)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def restricted_at(self) -> datetime | None: ...

    @property
    def restriction_request_id(self) -> uuid.UUID | None: ...

    @property
    def objected_marketing_at(self) -> datetime | None: ...


#: Why ``role`` may not process ``customer`` for ``purpose`` (an error to raise), or None.
RestrictionRule = Callable[[CustomerState, "Purpose", str], AccessDeniedError | None]


class Guard:
    """Purpose, permission, restriction/objection and lawful basis; denials audited durably.

    Built once per process by the composition root.
    """

    def __init__(self, policy: AccessPolicy, purposes: PurposeCatalogue, lawful: LawfulBasisCheck,
                 audit: AuditLog, restriction: RestrictionRule) -> None:
        self.policy = policy
        self.purposes = purposes
        self.lawful = lawful
        self._audit = audit
        self._restriction = restriction

    async def reject_credentials(self, reason: str, *, request_id: str | None, client_ip: str | None) -> NoReturn:
        """Record a failed API-key authentication (durably), then raise.

        Raises:
            InvalidCredentialsError: always, saying what was wrong with the credentials.
        """
        await self._audit.record_durable(AuditEvent(
            "auth.api_key", Outcome.DENIED, Actor(None, "anonymous", "unknown"), request_id=request_id,
            client_ip=client_ip, detail=reason))
        raise InvalidCredentialsError(f"authentication required: {reason}")

    # -- the guard ----------------------------------------------------------------------------------

    async def require(
        self, caller: Caller, permission: Permission, action: str, customer: CustomerState | None = None, *,
        session: AsyncSession | None = None, customer_id: uuid.UUID | None = None, lawful_basis: bool = True,
        fields: tuple[str, ...] = (), context: str | None = None,
    ) -> Purpose:
        """Allow ``caller`` to do ``action`` under ``permission`` for the request's purpose, or deny (audited).

        Args:
            caller: Who asks, and for which purpose (``caller.purpose``).
            permission: The ``resource:action`` the role must hold for the purpose.
            action: The audit action (``customer.read``, ``consent.record``, ...).
            customer: The customer record, when the action touches one: restriction, objection and
                (unless ``lawful_basis`` is False) the lawful basis are checked for it.
            session: The session the lawful-basis check reads consents on (needed with ``customer``).
            customer_id: The customer named in the denial entry when no record is loaded yet.
            lawful_basis: Check the customer's lawful basis (writes that only restriction binds pass False).
            fields: Field names recorded with a denial.
            context: A prefix for the denial's detail (ids and codes only, never personal data).

        Returns:
            The request's purpose.

        Raises:
            PurposeRequiredError, UnknownPurposeError: no or an unknown purpose (audited).
            PermissionDeniedError, PurposeDeniedError: the role may not (audited).
            CustomerRestrictedError, CustomerObjectedError, NoLawfulBasisError: this customer may not
                be processed for the purpose (audited).
        """
        target = customer.id if customer is not None else customer_id
        purpose = await self.purpose(caller, action, customer_id=target, fields=fields, context=context)
        if caller.principal is not None:
            try:
                self.policy.require(caller.principal, permission, purpose.id)
            except AccessDeniedError as exc:
                await self.deny(caller, action, exc, customer_id=target, fields=fields, context=context)
        if customer is not None:
            await self.admit(caller, purpose, action, customer, session, lawful_basis=lawful_basis)
        return purpose

    async def require_any_purpose(self, caller: Caller, permission: Permission, action: str, *,
                                  customer_id: uuid.UUID | None = None) -> None:
        """Allow an action that reads no customer data for a purpose (principals, audit log, request registry).

        Raises:
            PermissionDeniedError: the role lacks ``permission`` for every purpose (audited).
        """
        if caller.principal is None:
            return
        try:
            self.policy.require(caller.principal, permission, ANY)
        except AccessDeniedError as exc:
            await self.deny(caller, action, exc, customer_id=customer_id)

    async def require_fields(self, caller: Caller, action: str, *, customer_id: uuid.UUID | None = None,
                             ) -> tuple[Purpose, dict[str, Visibility]]:
        """Allow a customer read: the purpose and the fields the role sees for it, clear or masked.

        Raises:
            PurposeRequiredError, UnknownPurposeError, PermissionDeniedError, PurposeDeniedError (audited).
        """
        purpose = await self.purpose(caller, action, customer_id=customer_id)
        if caller.principal is None:
            return purpose, dict.fromkeys(purpose.fields, "clear")
        try:
            return purpose, self.policy.require_customer_read(caller.principal, purpose.id)
        except AccessDeniedError as exc:
            await self.deny(caller, action, exc, customer_id=customer_id)

    def visible_fields(self, caller: Caller, purpose: Purpose) -> dict[str, Visibility]:
        """The fields ``caller`` sees for ``purpose`` (no check: after :meth:`require`)."""
        if caller.principal is None:
            return dict.fromkeys(purpose.fields, "clear")
        return self.policy.field_visibility(caller.principal.role, purpose.id)

    def may(self, caller: Caller, permission: Permission, purpose: str) -> bool:
        """Whether the role holds ``permission`` for ``purpose`` (a branch, not a decision: nothing is audited)."""
        return caller.principal is None or self.policy.allows(
            caller.principal.role, permission.resource, ANY, permission.action, purpose)

    async def admit(self, caller: Caller, purpose: Purpose, action: str, customer: CustomerState,
                    session: AsyncSession | None, *, lawful_basis: bool = True) -> None:
        """Allow processing this customer for ``purpose``: restriction/objection, then the lawful basis.

        Raises:
            CustomerRestrictedError, CustomerObjectedError, NoLawfulBasisError (audited).
        """
        blocked = self._restriction(customer, purpose, caller.role)
        if blocked is not None:
            await self.deny(caller, action, blocked, customer_id=customer.id, purpose=purpose.id)
        if lawful_basis:
            try:  # the session is only handed on to the consent ledger
                await self.lawful.require(cast("AsyncSession", session), customer.id, purpose)
            except AccessDeniedError as exc:
                await self.deny(caller, action, exc, customer_id=customer.id, purpose=purpose.id)

    async def purpose(self, caller: Caller, action: str, *, customer_id: uuid.UUID | None = None,
                      fields: tuple[str, ...] = (), context: str | None = None) -> Purpose:
        """The request's purpose from the catalogue.

        Raises:
            PurposeRequiredError, UnknownPurposeError: listing the valid purposes (audited as denials).
        """
        try:
            pid = self.policy.check_purpose(caller.purpose)
        except InvalidInputError as exc:
            await self.deny(caller, action, exc, customer_id=customer_id, fields=fields, context=context)
        found = self.purposes.get(pid)
        assert found is not None  # check_purpose validated it against the same catalogue
        return found

    async def deny(self, caller: Caller, action: str, exc: VaultError, *,
                   customer_id: uuid.UUID | None = None, purpose: str | None = None, fields: tuple[str, ...] = (),
                   context: str | None = None) -> NoReturn:
        """Write the durable denial entry, then raise ``exc``: the one place a denial is recorded."""
        detail = f"{exc.code}: {exc.detail}"
        await self._audit.record_durable(AuditEvent(
            action, Outcome.DENIED, caller.actor, purpose=purpose or caller.purpose, customer_id=customer_id,
            fields=fields, request_id=caller.request_id, client_ip=caller.client_ip,
            detail=(f"{context} {detail}" if context else detail)[:500]))
        raise exc
