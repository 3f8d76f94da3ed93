"""Data subject rights: requests registry, export, rectification, erasure (crypto-shredding),
restriction and objection, retention, key rotation.

Only light modules are re-exported here: ``vault.customers`` and ``vault.consent`` import
:mod:`vault.rights.gate`, so the package root must not pull in the services.
"""

from vault.rights.gate import contactable_clause, is_direct_marketing, processing_block

__all__ = ["contactable_clause", "is_direct_marketing", "processing_block"]
