"""Policy files every layer reads: purposes (purposes.yaml) and the field catalogue (pii.yaml).

Below ``vault.access``: access decisions, customers, consent and analytics all read
these catalogues, and the catalogues import nothing above ``vault.errors`` and ``vault.lib``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lib.lazy import lazy_exports

if TYPE_CHECKING:
    from vault.policy.catalogue import Category, FieldCatalogue, FieldClass, FieldSpec, load_catalogue
    from vault.policy.errors import InvalidFieldError
    from vault.policy.purposes import (
        CHANNEL_FIELDS,
        Channel,
        Controller,
        LawfulBasis,
        Notice,
        Purpose,
        PurposeCatalogue,
        load_purposes,
    )

# name -> module: each is imported on first use (PEP 562), so importing one submodule does not
# import the whole package (command start, tests/bench/test_cli_start_bench.py).
_EXPORTS = {
    "Category": "vault.policy.catalogue",
    "FieldCatalogue": "vault.policy.catalogue",
    "FieldClass": "vault.policy.catalogue",
    "FieldSpec": "vault.policy.catalogue",
    "load_catalogue": "vault.policy.catalogue",
    "InvalidFieldError": "vault.policy.errors",
    "CHANNEL_FIELDS": "vault.policy.purposes",
    "Channel": "vault.policy.purposes",
    "Controller": "vault.policy.purposes",
    "LawfulBasis": "vault.policy.purposes",
    "Notice": "vault.policy.purposes",
    "Purpose": "vault.policy.purposes",
    "PurposeCatalogue": "vault.policy.purposes",
    "load_purposes": "vault.policy.purposes",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "CHANNEL_FIELDS",
    "Category",
    "Channel",
    "Controller",
    "FieldCatalogue",
    "FieldClass",
    "FieldSpec",
    "InvalidFieldError",
    "LawfulBasis",
    "Notice",
    "Purpose",
    "PurposeCatalogue",
    "load_catalogue",
    "load_purposes",
]
