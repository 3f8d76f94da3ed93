"""Customer records: field catalogue, normalization, sealing, use cases and import."""

from vault.customers.catalogue import FieldCatalogue, FieldClass, FieldSpec, load_catalogue
from vault.customers.errors import CustomerNotFoundError, DuplicateCustomerError, InvalidFieldError
from vault.customers.service import CustomerDeps, CustomerService, CustomerView

__all__ = [
    "CustomerDeps",
    "CustomerNotFoundError",
    "CustomerService",
    "CustomerView",
    "DuplicateCustomerError",
    "FieldCatalogue",
    "FieldClass",
    "FieldSpec",
    "InvalidFieldError",
    "load_catalogue",
]
