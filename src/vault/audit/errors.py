"""Audit errors."""

from __future__ import annotations

from vault.errors import UnavailableError


class AuditWriteError(UnavailableError):
    """The audit entry could not be made durable; the data must not leave the vault."""

    code = "audit.write_failed"
    title = "Audit write failed"
