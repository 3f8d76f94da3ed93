"""Customer records: field catalogue, normalization, sealing, use cases and import.

The package root stays light (catalogue and errors): the use-case modules
(``service``, ``notes``, ``importer``) are imported from their own modules, so
packages they depend on (rights, consent) can import customer models without
an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.lib.lazy import lazy_exports

if TYPE_CHECKING:
    from vault.customers.errors import CustomerNotFoundError, DuplicateCustomerError, InvalidFieldError
    from vault.policy.catalogue import FieldCatalogue, FieldClass, FieldSpec, load_catalogue

# name -> module: each is imported on first use (PEP 562), so importing one submodule does not
# import the whole package (command start, tests/bench/test_cli_start_bench.py).
_EXPORTS = {
    "CustomerNotFoundError": "vault.customers.errors",
    "DuplicateCustomerError": "vault.customers.errors",
    "InvalidFieldError": "vault.customers.errors",
    "FieldCatalogue": "vault.policy.catalogue",
    "FieldClass": "vault.policy.catalogue",
    "FieldSpec": "vault.policy.catalogue",
    "load_catalogue": "vault.policy.catalogue",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "CustomerNotFoundError",
    "DuplicateCustomerError",
    "FieldCatalogue",
    "FieldClass",
    "FieldSpec",
    "InvalidFieldError",
    "load_catalogue",
]
