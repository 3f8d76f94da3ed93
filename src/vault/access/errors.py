"""Access errors: every denial says which permission or purpose was missing."""

from __future__ import annotations

from vault.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)


class InvalidCredentialsError(AuthenticationError):
    """Missing, malformed, unknown or revoked credentials."""

    code = "auth.invalid_credentials"
    title = "Invalid credentials"


class AccountLockedError(AuthenticationError):
    """Too many failed logins; try again later."""

    code = "auth.locked"
    title = "Account locked"


class PermissionDeniedError(AccessDeniedError):
    """The role lacks a permission."""

    code = "access.permission_denied"
    title = "Permission denied"


class PurposeDeniedError(AccessDeniedError):
    """The role may not use this purpose for this resource/action."""

    code = "access.purpose_denied"
    title = "Purpose not allowed"


class NoLawfulBasisError(AccessDeniedError):
    """The customer has no lawful basis (e.g. no current consent) for the purpose."""

    code = "access.no_lawful_basis"
    title = "No lawful basis"


class PurposeRequiredError(InvalidInputError):
    """A read of personal data named no purpose."""

    code = "access.purpose_required"
    title = "Purpose required"


class UnknownPurposeError(InvalidInputError):
    """The purpose is not in the purpose catalogue."""

    code = "access.unknown_purpose"
    title = "Unknown purpose"


class UnknownRoleError(InvalidInputError):
    """The role is not defined in the policy."""

    code = "access.unknown_role"
    title = "Unknown role"


class PrincipalNotFoundError(NotFoundError):
    """No principal with that id or name."""

    code = "principal.not_found"
    title = "Principal not found"


class DuplicatePrincipalError(ConflictError):
    """A principal with that name exists."""

    code = "principal.duplicate"
    title = "Duplicate principal"


class SelfApprovalError(AccessDeniedError):
    """A PII-capable principal must be approved by someone other than who created or enabled it."""

    code = "principal.self_approval"
    title = "Second approver required"


class ApprovalNotPendingError(ConflictError):
    """The principal is not waiting for approval."""

    code = "principal.not_pending"
    title = "Principal not pending approval"


class ForeignKeyIssueError(AccessDeniedError):
    """Keys are issued only to their own principal (at creation, or by rotating one's own key)."""

    code = "key.foreign_issue"
    title = "Keys are issued only to their own principal"


class SessionExpiredError(AuthenticationError):
    """The console session is unknown, ended, idle too long or past its lifetime."""

    code = "auth.session_expired"
    title = "Session expired"


class SecondFactorRequiredError(AuthenticationError):
    """The password was right; the session still needs a TOTP code."""

    code = "auth.second_factor_required"
    title = "Second factor required"


class CsrfRejectedError(AccessDeniedError):
    """A console form arrived without the session's CSRF token."""

    code = "auth.csrf_rejected"
    title = "Form token missing or wrong"
