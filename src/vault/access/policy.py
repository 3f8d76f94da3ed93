"""The casbin-backed access policy. Nothing else in the vault calls ``enforce``."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import casbin

from vault.access.errors import (
    PermissionDeniedError,
    PurposeDeniedError,
    PurposeRequiredError,
    UnknownPurposeError,
)
from vault.errors import ConfigurationError

if TYPE_CHECKING:
    from pathlib import Path

    from vault.access.permissions import Permission
    from vault.access.principals import Principal
    from vault.policy.catalogue import FieldCatalogue
    from vault.policy.purposes import PurposeCatalogue

Visibility = Literal["clear", "masked"]
ANY = "*"
# Resources whose every action touches a customer's personal data (reads, writes, exports, notes).
PII_RESOURCES = frozenset({"customers", "contacts", "subjects", "notes"})
# Actions on other resources that disclose personal data (consent evidence holds the collection record).
PII_ACTIONS = frozenset({("consents", "read_evidence")})


def _shown(value: str, limit: int = 60) -> str:
    """A client-supplied value as quoted in an error: escaped and bounded, never megabytes long."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} characters)"


class AccessPolicy:
    """Decides (role, resource, field class, action, purpose) from policies/model.conf + policy.csv."""

    def __init__(self, model: Path, policy: Path, purposes: PurposeCatalogue, catalogue: FieldCatalogue) -> None:
        for path in (model, policy):
            if not path.is_file():
                raise ConfigurationError(f"{path}: access policy file not found")
        logging.getLogger("casbin").setLevel(logging.WARNING)  # casbin logs the whole policy at INFO
        try:
            self._enforcer = casbin.Enforcer(str(model), str(policy))
        except Exception as exc:  # casbin raises assorted errors for a bad model/policy
            raise ConfigurationError(f"{model} / {policy}: cannot load access policy: {exc}") from exc
        self._purposes = purposes
        self._catalogue = catalogue
        for rule in self._enforcer.get_policy():
            if len(rule) != 5:
                raise ConfigurationError(f"{policy}: policy line {rule} must have 5 values")
            purpose = rule[4]
            if purpose != ANY and purpose not in purposes:
                raise ConfigurationError(f"{policy}: policy line {rule} names unknown purpose {purpose!r}")
        self.roles = frozenset(rule[0] for rule in self._enforcer.get_policy())
        self._visibility = lru_cache(maxsize=1024)(self._compute_visibility)
        # The policy files are loaded once per process and never change in it, so each decision is too.
        self._decide = lru_cache(maxsize=8192)(self._enforce)

    def allows(self, role: str, resource: str, field_class: str, action: str, purpose: str) -> bool:
        """Raw decision for one request tuple (memoized: casbin's matcher costs tens of microseconds)."""
        return self._decide(role, resource, field_class, action, purpose)

    def _enforce(self, role: str, resource: str, field_class: str, action: str, purpose: str) -> bool:
        return bool(self._enforcer.enforce(role, resource, field_class, action, purpose))

    def check_purpose(self, purpose: str | None) -> str:
        """Validate that a purpose was named and exists.

        Raises:
            PurposeRequiredError / UnknownPurposeError: listing the valid purposes.
        """
        if not purpose:
            raise PurposeRequiredError(
                "this request reads or writes personal data and must name a purpose "
                f"(query parameter 'purpose'); valid purposes: {', '.join(self._purposes.ids)}",
                valid=self._purposes.ids,
            )
        if purpose not in self._purposes:
            raise UnknownPurposeError(
                f"unknown purpose {_shown(purpose)}; valid purposes: {', '.join(self._purposes.ids)}",
                valid=self._purposes.ids,
            )
        return purpose

    def require(self, principal: Principal, perm: Permission, purpose: str = ANY, field_class: str = ANY) -> None:
        """Raise unless ``principal``'s role holds ``perm`` for ``purpose``.

        Raises:
            PermissionDeniedError: the role has the permission for no purpose at all.
            PurposeDeniedError: the role has it, but not for this purpose.
        """
        if self.allows(principal.role, perm.resource, field_class, perm.action, purpose):
            return
        if purpose != ANY and self._has_for_some_purpose(principal.role, perm):
            raise PurposeDeniedError(
                f"role {principal.role!r} may not use purpose {purpose!r} for {perm}",
                permission=str(perm), purpose=purpose,
            )
        raise PermissionDeniedError(
            f"role {principal.role!r} lacks permission {perm}", permission=str(perm), purpose=purpose
        )

    def reads_pii(self, role: str) -> bool:
        """Whether ``role`` may see or change personal data of any customer, for any purpose.

        Such roles are *PII-capable*: creating or re-enabling one of their principals needs a second
        approval by a compliance officer, and issuing one of their keys raises an alert entry.
        """
        return any(
            rule[0] == role and (rule[1] in PII_RESOURCES or (rule[1], rule[3]) in PII_ACTIONS)
            for rule in self._enforcer.get_policy()
        )

    def _has_for_some_purpose(self, role: str, perm: Permission) -> bool:
        return any(
            rule[0] == role and rule[1] == perm.resource and rule[3] == perm.action
            for rule in self._enforcer.get_policy()
        )

    def field_visibility(self, role: str, purpose: str) -> dict[str, Visibility]:
        """Which customer fields ``role`` sees for ``purpose``, clear or masked.

        A field is visible only if the purpose uses it (purpose limitation) and the
        role is granted its field class, ``read`` (clear) or ``read_masked``.
        """
        return self._visibility(role, purpose)

    def _compute_visibility(self, role: str, purpose: str) -> dict[str, Visibility]:
        spec = self._purposes.get(purpose)
        if spec is None:
            return {}
        out: dict[str, Visibility] = {}
        for name in spec.fields:
            cls = str(self._catalogue[name].field_class)
            if self.allows(role, "customers", cls, "read", purpose):
                out[name] = "clear"
            elif self.allows(role, "customers", cls, "read_masked", purpose):
                out[name] = "masked"
        return out

    def require_customer_read(self, principal: Principal, purpose: str) -> dict[str, Visibility]:
        """Visible fields for a customer read; raises if none.

        Raises:
            PermissionDeniedError / PurposeDeniedError: naming permission and purpose.
        """
        visible = self.field_visibility(principal.role, purpose)
        if visible:
            return visible
        from vault.access.permissions import CUSTOMERS_READ

        if self._has_for_some_purpose(principal.role, CUSTOMERS_READ) or any(
            r[0] == principal.role and r[1] == "customers" and r[3] == "read_masked"
            for r in self._enforcer.get_policy()
        ):
            raise PurposeDeniedError(
                f"role {principal.role!r} may not read customers for purpose {purpose!r}",
                permission=str(CUSTOMERS_READ), purpose=purpose,
            )
        raise PermissionDeniedError(
            f"role {principal.role!r} lacks permission {CUSTOMERS_READ}",
            permission=str(CUSTOMERS_READ), purpose=purpose,
        )
