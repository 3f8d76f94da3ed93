"""Append-only, hash-chained audit log with signed checkpoints."""

from vault.audit.entry import Actor, AuditEvent, Outcome, entry_hash, subjects_digest
from vault.audit.errors import AuditWriteError
from vault.audit.log import AuditLog, append
from vault.audit.models import AuditCheckpointRow, AuditEntryRow, AuditSubjectRow
from vault.audit.query import AuditFilter, search
from vault.audit.verify import (
    VerifyResult,
    create_checkpoint,
    export_checkpoint,
    verify_chain,
    verify_exported,
)

__all__ = [
    "Actor",
    "AuditCheckpointRow",
    "AuditEntryRow",
    "AuditEvent",
    "AuditFilter",
    "AuditLog",
    "AuditSubjectRow",
    "AuditWriteError",
    "Outcome",
    "VerifyResult",
    "append",
    "create_checkpoint",
    "entry_hash",
    "export_checkpoint",
    "search",
    "subjects_digest",
    "verify_chain",
    "verify_exported",
]
