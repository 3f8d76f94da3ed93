"""Audit errors."""

from __future__ import annotations

from vault.errors import VaultError


class AuditWriteError(VaultError):
    """The audit entry could not be made durable; the data must not leave the vault."""

    code = "audit.write_failed"
    title = "Audit write failed"
