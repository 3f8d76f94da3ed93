"""Field catalogue (policies/pii.yaml), validated against the purposes at start-up."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vault.errors import ConfigurationError
from vault.lib import yamlfile
from vault.policy import normalize as norm
from vault.policy.errors import InvalidFieldError
from vault.policy.masks import MASKS

if TYPE_CHECKING:
    from pathlib import Path

    from vault.policy.purposes import PurposeCatalogue


class FieldClass(StrEnum):
    """Access classes; casbin policy lines grant per class."""

    REFERENCE = "reference"
    IDENTITY = "identity"
    CONTACT = "contact"
    ADDRESS = "address"
    DEMOGRAPHIC = "demographic"
    NATIONAL_ID = "national_id"


class Category(StrEnum):
    """Privacy category of a field."""

    DIRECT_IDENTIFIER = "direct_identifier"
    QUASI_IDENTIFIER = "quasi_identifier"
    SENSITIVE = "sensitive"
    CONTACT = "contact"


NORMALIZERS: dict[str, Callable[[str, str], str]] = {
    "strip": norm.strip,
    "name": norm.name,
    "upper": norm.upper,
    "email": norm.email,
    "e164": norm.e164,
    "date": norm.iso_date,
    "rrn": norm.rrn,
}
#: Data-quality checks by normalizer: flags on values that are accepted but doubtful (vault.customers.quality).
QUALITY_CHECKS: dict[str, Callable[[str], tuple[str, ...]]] = {
    "rrn": norm.rrn_quality,
}
GENERALIZERS = {"year", "band5", "band10", "prefix3", "region", "value"}


class FieldSpec(BaseModel):
    """One catalogued personal field."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    type: str = Field(pattern="^(string|email|phone|date|enum|rrn)$")
    field_class: FieldClass = Field(alias="class")
    category: Category
    searchable: bool = False
    normalize: str = "strip"
    max_length: int | None = Field(default=None, gt=0)
    pattern: str | None = None
    values: tuple[str, ...] | None = None
    mask: str = "redact"
    generalize: tuple[str, ...] = ()
    stale_after_days: int | None = Field(default=None, gt=0)
    retention_days: int = Field(gt=0)
    requires_statute: bool = False

    @model_validator(mode="after")
    def _known_names(self) -> FieldSpec:
        if self.normalize not in NORMALIZERS:
            raise ValueError(f"unknown normalize {self.normalize!r} (known: {', '.join(sorted(NORMALIZERS))})")
        if self.mask not in MASKS:
            raise ValueError(f"unknown mask {self.mask!r} (known: {', '.join(sorted(MASKS))})")
        unknown = set(self.generalize) - GENERALIZERS
        if unknown:
            raise ValueError(f"unknown generalize steps {sorted(unknown)}")
        if self.type == "enum" and not self.values:
            raise ValueError("an enum field needs 'values'")
        if self.pattern is not None:
            re.compile(self.pattern)
        return self

    def clean(self, raw: str) -> str:
        """Normalize and validate one raw value.

        Raises:
            InvalidFieldError: naming the field (never the value).
        """
        value = NORMALIZERS[self.normalize](self.name, raw)
        if self.max_length is not None and len(value) > self.max_length:
            raise InvalidFieldError(self.name, f"is longer than {self.max_length} characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise InvalidFieldError(self.name, "has the wrong format")
        if self.values is not None and value not in self.values:
            raise InvalidFieldError(self.name, f"must be one of {', '.join(self.values)}")
        return value

    def quality(self, value: str) -> tuple[str, ...]:
        """Data-quality flags of a value :meth:`clean` accepted (e.g. ``check_digit_unverified``)."""
        check = QUALITY_CHECKS.get(self.normalize)
        return check(value) if check is not None else ()


class FieldCatalogue:
    """All fields, in catalogue order."""

    def __init__(self, fields: dict[str, FieldSpec]) -> None:
        self._fields = fields
        self._searchable = [n for n, f in fields.items() if f.searchable]
        self._checked = [(n, QUALITY_CHECKS[f.normalize]) for n, f in fields.items() if f.normalize in QUALITY_CHECKS]

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __getitem__(self, name: str) -> FieldSpec:
        return self._fields[name]

    @property
    def names(self) -> list[str]:
        """Field names in catalogue order."""
        return list(self._fields)

    @property
    def searchable(self) -> list[str]:
        """Names of fields with a blind index."""
        return list(self._searchable)

    def quality(self, values: Mapping[str, str]) -> list[tuple[str, str]]:
        """(field, flag) pairs for normalized ``values``; empty for clean data."""
        return [(name, flag) for name, check in self._checked if name in values for flag in check(values[name])]

    def fields(self) -> list[FieldSpec]:
        """Every field spec."""
        return list(self._fields.values())


def load_catalogue(path: Path, purposes: PurposeCatalogue) -> FieldCatalogue:
    """Load pii.yaml and check it against the purposes.

    A field that no purpose uses is rejected (data minimization); a purpose naming
    an unknown field, or using a statute-only field without a ``statute_ref``, too.

    Raises:
        ConfigurationError: naming the file and the field at fault.
    """
    try:
        doc = yamlfile.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read field catalogue: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("fields"), dict) or not doc["fields"]:
        raise ConfigurationError(f"{path}: expected a mapping 'fields' with at least one field")
    fields: dict[str, FieldSpec] = {}
    for fname, body in doc["fields"].items():
        if not isinstance(body, dict):
            raise ConfigurationError(f"{path}: field {fname!r}: expected a mapping")
        try:
            fields[str(fname)] = FieldSpec.model_validate({"name": str(fname), **body})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(field)"
            raise ConfigurationError(f"{path}: field {fname!r}, {where}: {err['msg']}") from exc
    if "customer_ref" not in fields or not fields["customer_ref"].searchable:
        raise ConfigurationError(f"{path}: field 'customer_ref' must exist and be searchable")
    used: set[str] = set()
    for purpose in purposes:
        for fname in purpose.fields:
            if fname not in fields:
                raise ConfigurationError(f"{path}: purpose {purpose.id!r} uses unknown field {fname!r}")
            if fields[fname].requires_statute and not purpose.statute_ref:
                raise ConfigurationError(
                    f"{path}: field {fname!r} may only be used by a purpose with a statute_ref; "
                    f"purpose {purpose.id!r} has none"
                )
        used.update(purpose.fields)
    for fname in fields:
        if fname not in used:
            raise ConfigurationError(f"{path}: field {fname!r} is used by no purpose (data minimization)")
    return FieldCatalogue(fields)
