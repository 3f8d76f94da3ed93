"""Purpose catalogue (policies/purposes.yaml), validated at start-up."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vault.errors import ConfigurationError

if TYPE_CHECKING:
    from pathlib import Path


class LawfulBasis(StrEnum):
    """GDPR Art. 6(1) / PIPA Art. 15(1) bases the vault supports."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    LEGITIMATE_INTEREST = "legitimate_interest"


class Channel(StrEnum):
    """Contact channels."""

    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    POST = "post"
    PHONE = "phone"


class Localized(BaseModel):
    """A Korean and an English text."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ko: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Notice(BaseModel):
    """One version of the privacy notice shown when collecting consent."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(min_length=1)
    text: Localized

    @property
    def text_hash(self) -> str:
        """SHA-256 over the Korean and English notice texts (recorded with each consent)."""
        return hashlib.sha256(f"{self.text.ko}\n{self.text.en}".encode()).hexdigest()


class Purpose(BaseModel):
    """A purpose of processing."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    title: Localized
    lawful_basis: LawfulBasis
    required: bool = False
    channels: tuple[Channel, ...] = ()
    fields: tuple[str, ...] = Field(min_length=1)
    retention_days: int = Field(gt=0)
    reconfirm_days: int | None = Field(default=None, gt=0)
    night_opt_in_required: bool = False
    statute_ref: str | None = None
    recipient: str | None = None
    country: str | None = None
    notices: tuple[Notice, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _basis_needs(self) -> Purpose:
        if self.lawful_basis is LawfulBasis.LEGAL_OBLIGATION and not self.statute_ref:
            raise ValueError("a legal_obligation purpose must record its statute_ref")
        return self

    @property
    def current_notice(self) -> Notice:
        """The newest notice version (last listed)."""
        return self.notices[-1]

    def notice(self, version: str) -> Notice | None:
        """The notice with ``version``, if any."""
        return next((n for n in self.notices if n.version == version), None)


class PurposeCatalogue:
    """All purposes, by id."""

    def __init__(self, purposes: dict[str, Purpose]) -> None:
        self._purposes = purposes

    def __contains__(self, purpose_id: object) -> bool:
        return purpose_id in self._purposes

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._purposes.values())

    def get(self, purpose_id: str) -> Purpose | None:
        """The purpose with ``purpose_id``, or None."""
        return self._purposes.get(purpose_id)

    @property
    def ids(self) -> list[str]:
        """Sorted purpose ids (for error messages)."""
        return sorted(self._purposes)


def load_purposes(path: Path) -> PurposeCatalogue:
    """Load and validate purposes.yaml.

    Raises:
        ConfigurationError: naming the file and the purpose and field at fault.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read purposes catalogue: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("purposes"), dict) or not doc["purposes"]:
        raise ConfigurationError(f"{path}: expected a mapping 'purposes' with at least one purpose")
    purposes: dict[str, Purpose] = {}
    for pid, body in doc["purposes"].items():
        if not isinstance(body, dict):
            raise ConfigurationError(f"{path}: purpose {pid!r}: expected a mapping")
        try:
            purposes[str(pid)] = Purpose.model_validate({"id": str(pid), **body})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(purpose)"
            raise ConfigurationError(f"{path}: purpose {pid!r}, field {where}: {err['msg']}") from exc
    return PurposeCatalogue(purposes)
