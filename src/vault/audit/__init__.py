"""Append-only, hash-chained audit log with signed checkpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lib.lazy import lazy_exports

if TYPE_CHECKING:
    from vault.audit.entry import Actor, AuditEvent, Outcome, entry_hash, subjects_digest
    from vault.audit.errors import AuditWriteError
    from vault.audit.log import AuditLog, append
    from vault.audit.models import AuditCheckpointRow, AuditEntryRow, AuditSubjectRow
    from vault.audit.query import AuditFilter, search
    from vault.audit.verify import VerifyResult, create_checkpoint, export_checkpoint, verify_chain, verify_exported

# name -> module: each is imported on first use (PEP 562), so importing one submodule does not
# import the whole package (command start, tests/bench/test_cli_start_bench.py).
_EXPORTS = {
    "Actor": "vault.audit.entry",
    "AuditEvent": "vault.audit.entry",
    "Outcome": "vault.audit.entry",
    "entry_hash": "vault.audit.entry",
    "subjects_digest": "vault.audit.entry",
    "AuditWriteError": "vault.audit.errors",
    "AuditLog": "vault.audit.log",
    "append": "vault.audit.log",
    "AuditCheckpointRow": "vault.audit.models",
    "AuditEntryRow": "vault.audit.models",
    "AuditSubjectRow": "vault.audit.models",
    "AuditFilter": "vault.audit.query",
    "search": "vault.audit.query",
    "VerifyResult": "vault.audit.verify",
    "create_checkpoint": "vault.audit.verify",
    "export_checkpoint": "vault.audit.verify",
    "verify_chain": "vault.audit.verify",
    "verify_exported": "vault.audit.verify",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


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
