"""Base error hierarchy shared by every domain package.

Domain errors know no HTTP status; ``vault.api.errors`` maps the categories
below to problem+json responses once. Messages carry ids and codes, never PII.
"""

from __future__ import annotations

from typing import Any, ClassVar


class VaultError(Exception):
    """Root of every error the vault raises on purpose."""

    code: ClassVar[str] = "vault.error"
    title: ClassVar[str] = "Vault error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = extra


class InvalidInputError(VaultError):
    """The request is well-formed but a value is not acceptable (422)."""

    code = "invalid_input"
    title = "Invalid input"


class BadRequestError(VaultError):
    """The request itself is malformed (400)."""

    code = "bad_request"
    title = "Bad request"


class NotFoundError(VaultError):
    """The named resource does not exist (or is invisible to the caller) (404)."""

    code = "not_found"
    title = "Not found"


class ConflictError(VaultError):
    """The request conflicts with the current state (409)."""

    code = "conflict"
    title = "Conflict"


class AuthenticationError(VaultError):
    """No or invalid credentials (401)."""

    code = "unauthenticated"
    title = "Authentication required"


class AccessDeniedError(VaultError):
    """Authenticated, but not allowed (403)."""

    code = "access_denied"
    title = "Access denied"


class UnavailableError(VaultError):
    """The vault cannot serve the request right now (e.g. its audit log is not writable) (503)."""

    code = "unavailable"
    title = "Service unavailable"


class RateLimitedError(VaultError):
    """Too many requests of this kind from this principal or source; retry later (429)."""

    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class ConfigurationError(VaultError):
    """A policy or settings file is invalid; start-up must stop."""

    code = "configuration"
    title = "Invalid configuration"
