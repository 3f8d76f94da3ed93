"""Customer records: field catalogue, normalization, sealing, use cases and import.

The package root stays light (catalogue and errors): the use-case modules
(``service``, ``notes``, ``importer``) are imported from their own modules, so
packages they depend on (rights, consent) can import customer models without
an import cycle.
"""

from vault.customers.errors import CustomerNotFoundError, DuplicateCustomerError, InvalidFieldError
from vault.policy.catalogue import FieldCatalogue, FieldClass, FieldSpec, load_catalogue

__all__ = [
    "CustomerNotFoundError",
    "DuplicateCustomerError",
    "FieldCatalogue",
    "FieldClass",
    "FieldSpec",
    "InvalidFieldError",
    "load_catalogue",
]
