"""The console's access checks: the same policy as the API, and every denial audited before it is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vault.audit.entry import AuditEvent, Outcome
from vault.errors import AccessDeniedError

if TYPE_CHECKING:
    from litestar import Request

    from vault.access.permissions import Permission
    from vault.access.sessions import ConsoleSession
    from vault.bootstrap import Vault


def vault_of(request: Request[Any, Any, Any]) -> Vault:
    """The vault built at start-up."""
    vault: Vault = request.app.state.vault
    return vault


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    """The peer address (no proxy headers trusted)."""
    return request.client.host if request.client else None


def current_user(request: Request[Any, Any, Any]) -> ConsoleSession:
    """The logged-in person (set by the console's before-request gate)."""
    user: ConsoleSession = request.scope["state"]["console_session"]
    return user


async def require(request: Request[Any, Any, Any], perm: Permission, action: str, *, purpose: str = "*") -> None:
    """Raise (after a durable denial entry) unless the user's role holds ``perm``, as the API checks it.

    Raises:
        PermissionDeniedError / PurposeDeniedError.
    """
    vault, user = vault_of(request), current_user(request)
    try:
        vault.policies.access.require(user.principal, perm, purpose)
    except AccessDeniedError as exc:
        await vault.audit.record_durable(AuditEvent(
            action, Outcome.DENIED, user.principal.actor, purpose=None if purpose == "*" else purpose,
            client_ip=client_ip(request), detail=f"console: {exc.code}: {exc.detail}"))
        raise


def may(request: Request[Any, Any, Any], perm: Permission) -> bool:
    """Whether the user's role holds ``perm`` for every purpose (to show or hide a dashboard card; pages still
    call :func:`require` or a service that checks and audits)."""
    return vault_of(request).policies.access.allows(current_user(request).principal.role, perm.resource, "*",
                                                    perm.action, "*")
