"""Principals, API keys, casbin policy, purposes and lawful-basis checks."""

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
