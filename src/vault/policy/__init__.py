"""Policy files every layer reads: purposes (purposes.yaml) and the field catalogue (pii.yaml).

Below ``vault.access``: access decisions, customers, consent and analytics all read
these catalogues, and the catalogues import nothing above ``vault.errors`` and ``vault.lib``.
"""

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
