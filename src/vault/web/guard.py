"""The console's access checks: the same policy as the API, and every denial audited before it is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vault.access.caller import Caller

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


async def require(request: Request[Any, Any, Any], perm: Permission, action: str) -> None:
    """Raise unless the user's role holds ``perm``: the API's guard (``Guard.require_any_purpose``), so the
    denial is audited durably before the 403 page is shown.

    Raises:
        PermissionDeniedError.
    """
    user = current_user(request)
    caller = Caller(user.principal, client_ip=client_ip(request))
    await vault_of(request).guard.require_any_purpose(caller, perm, action)


def may(request: Request[Any, Any, Any], perm: Permission) -> bool:
    """Whether the user's role holds ``perm`` for every purpose (to show or hide a dashboard card; pages still
    call :func:`require` or a service that checks and audits)."""
    return vault_of(request).policies.access.allows(current_user(request).principal.role, perm.resource, "*",
                                                    perm.action, "*")
