"""Principals, API keys, casbin policy, purposes and lawful-basis checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lib.lazy import lazy_exports

if TYPE_CHECKING:
    from vault.access import permissions
    from vault.access.errors import (
        AccountLockedError,
        InvalidCredentialsError,
        NoLawfulBasisError,
        PermissionDeniedError,
        PurposeDeniedError,
        PurposeRequiredError,
        UnknownPurposeError,
    )
    from vault.access.lawful_basis import ConsentLedger, LawfulBasisCheck, NoConsentLedger
    from vault.access.policy import AccessPolicy, Visibility
    from vault.access.principals import IssuedKey, Principal, PrincipalService

# name -> module: each is imported on first use (PEP 562), so importing one submodule does not
# import the whole package (command start, tests/bench/test_cli_start_bench.py).
_EXPORTS = {
    "permissions": "vault.access.permissions",
    "AccountLockedError": "vault.access.errors",
    "InvalidCredentialsError": "vault.access.errors",
    "NoLawfulBasisError": "vault.access.errors",
    "PermissionDeniedError": "vault.access.errors",
    "PurposeDeniedError": "vault.access.errors",
    "PurposeRequiredError": "vault.access.errors",
    "UnknownPurposeError": "vault.access.errors",
    "ConsentLedger": "vault.access.lawful_basis",
    "LawfulBasisCheck": "vault.access.lawful_basis",
    "NoConsentLedger": "vault.access.lawful_basis",
    "AccessPolicy": "vault.access.policy",
    "Visibility": "vault.access.policy",
    "IssuedKey": "vault.access.principals",
    "Principal": "vault.access.principals",
    "PrincipalService": "vault.access.principals",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "AccessPolicy",
    "AccountLockedError",
    "ConsentLedger",
    "InvalidCredentialsError",
    "IssuedKey",
    "LawfulBasisCheck",
    "NoConsentLedger",
    "NoLawfulBasisError",
    "PermissionDeniedError",
    "Principal",
    "PrincipalService",
    "PurposeDeniedError",
    "PurposeRequiredError",
    "UnknownPurposeError",
    "Visibility",
    "permissions",
]
