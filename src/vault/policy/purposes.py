"""Purpose catalogue (policies/purposes.yaml), validated at start-up."""

from __future__ import annotations

import hashlib
import json
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


# Which customer fields a contact on each channel consists of (the first ones are required).
CHANNEL_FIELDS: dict[Channel, tuple[str, ...]] = {
    Channel.EMAIL: ("email",),
    Channel.SMS: ("phone",),
    Channel.PHONE: ("phone",),
    Channel.PUSH: ("customer_ref",),  # the app maps its own customer_ref to device tokens
    Channel.POST: ("address_line", "postal_code", "name", "city", "district"),
}
CHANNEL_REQUIRED: dict[Channel, tuple[str, ...]] = {
    Channel.EMAIL: ("email",), Channel.SMS: ("phone",), Channel.PHONE: ("phone",),
    Channel.PUSH: ("customer_ref",), Channel.POST: ("address_line", "postal_code"),
}
# Channels on which advertising at night (21:00-08:00 KST) needs a separate opt-in.
NIGHT_CHANNELS = frozenset({Channel.SMS, Channel.PUSH})


class Localized(BaseModel):
    """A Korean and an English text."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ko: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Notice(BaseModel):
    """One version of the privacy notice shown when collecting consent.

    Besides its text, a notice states what it discloses (PIPA arts. 15(2), 17(2), 22, 28-8;
    GDPR arts. 7(1), 13): the items, the retention period, the recipient with its retention,
    the country and transfer method, and the right to refuse with its consequence. The hash
    recorded with every consent covers all of it (:meth:`disclosure_hash`), so widening a
    purpose's fields or retention needs a new notice version instead of silently widening
    every consent given under the old one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str = Field(min_length=1)
    text: Localized
    items: tuple[str, ...] | None = None
    retention_days: int | None = Field(default=None, gt=0)
    recipient: str | None = None
    recipient_retention_days: int | None = Field(default=None, gt=0)
    country: str | None = None
    transfer_method: str | None = None
    refusal: Localized | None = None
    """The right to refuse and what refusing means (e.g. "you will not receive offers")."""

    @property
    def text_hash(self) -> str:
        """SHA-256 over the Korean and English notice texts only."""
        return hashlib.sha256(f"{self.text.ko}\n{self.text.en}".encode()).hexdigest()

    def disclosure(self, purpose_id: str) -> dict[str, object]:
        """The canonical disclosure: everything this notice states, in a fixed shape."""
        return {
            "purpose": purpose_id, "version": self.version, "text": {"ko": self.text.ko, "en": self.text.en},
            "items": sorted(self.items) if self.items is not None else None, "retention_days": self.retention_days,
            "recipient": self.recipient, "recipient_retention_days": self.recipient_retention_days,
            "country": self.country, "transfer_method": self.transfer_method,
            "refusal": {"ko": self.refusal.ko, "en": self.refusal.en} if self.refusal else None,
        }

    def disclosure_hash(self, purpose_id: str) -> str:
        """SHA-256 over the canonical JSON of :meth:`disclosure` (recorded with each consent)."""
        doc = json.dumps(self.disclosure(purpose_id), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(doc.encode()).hexdigest()


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
    night_opt_in_purpose: str | None = None
    statute_ref: str | None = None
    statute: str | None = None
    """Id of the statute registry entry (policies/statutes.yaml) a legal-obligation purpose rests on."""
    recipient: str | None = None
    country: str | None = None
    notices: tuple[Notice, ...] = Field(min_length=1)
    min_notice_version: str | None = None
    """Oldest notice version still accepted: grants under older versions stop counting (re-consent)."""

    @model_validator(mode="after")
    def _basis_needs(self) -> Purpose:
        if self.lawful_basis is LawfulBasis.LEGAL_OBLIGATION and not self.statute_ref:
            raise ValueError("a legal_obligation purpose must record its statute_ref")
        if self.night_opt_in_required != (self.night_opt_in_purpose is not None):
            raise ValueError("night_opt_in_required and night_opt_in_purpose go together")
        if self.reconfirm_days is not None and self.lawful_basis is not LawfulBasis.CONSENT:
            raise ValueError("reconfirm_days applies to consent-based purposes only")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels are listed more than once")
        if len({n.version for n in self.notices}) != len(self.notices):
            raise ValueError("notice versions must be unique")
        if self.min_notice_version is not None and self.notice(self.min_notice_version) is None:
            raise ValueError(f"min_notice_version {self.min_notice_version!r} is not one of the notices")
        for channel in self.channels:
            missing = [f for f in CHANNEL_REQUIRED[channel] if f not in self.fields]
            if missing:
                raise ValueError(f"channel {channel} needs fields {missing} in `fields`")
        if self.is_consent:
            self._current_notice_discloses_everything()
        return self

    def _current_notice_discloses_everything(self) -> None:
        """The notice consent is collected with now must state every item of PIPA 15(2)/17(2)/22."""
        n = self.notices[-1]
        where = f"current notice {n.version!r}"
        if n.items is None or sorted(n.items) != sorted(self.fields):
            raise ValueError(f"{where} must list the purpose's fields as `items` (it states {n.items})")
        if n.retention_days != self.retention_days:
            raise ValueError(f"{where} must state the retention period ({self.retention_days} days)")
        if n.refusal is None:
            raise ValueError(f"{where} must state the right to refuse and its consequence (`refusal`)")
        if n.recipient != self.recipient:
            raise ValueError(f"{where} must name the recipient {self.recipient!r}")
        if self.recipient is not None and n.recipient_retention_days is None:
            raise ValueError(f"{where} must state how long the recipient keeps the data (recipient_retention_days)")
        if n.country != self.country:
            raise ValueError(f"{where} must name the country {self.country!r}")
        if self.country is not None and not n.transfer_method:
            raise ValueError(f"{where} must state the transfer method (transfer_method)")

    @property
    def is_legal_obligation(self) -> bool:
        """Whether the purpose rests on a legal obligation (and so on a statute registry entry)."""
        return self.lawful_basis is LawfulBasis.LEGAL_OBLIGATION

    @property
    def is_consent(self) -> bool:
        """Whether the purpose rests on consent (and so can be granted, refused and withdrawn)."""
        return self.lawful_basis is LawfulBasis.CONSENT

    @property
    def consent_channels(self) -> tuple[str, ...]:
        """Channels consent is recorded for; ``("",)`` for a purpose with no contact channel."""
        return tuple(str(c) for c in self.channels) or ("",)

    @property
    def current_notice(self) -> Notice:
        """The newest notice version (last listed)."""
        return self.notices[-1]

    @property
    def accepted_versions(self) -> tuple[str, ...]:
        """Notice versions a grant may be recorded under (from ``min_notice_version`` on, listed order)."""
        versions = tuple(n.version for n in self.notices)
        if self.min_notice_version is None:
            return versions
        return versions[versions.index(self.min_notice_version):]

    def notice(self, version: str) -> Notice | None:
        """The notice with ``version``, if any."""
        return next((n for n in self.notices if n.version == version), None)


class Controller(BaseModel):
    """The controller named in consent receipts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    contact: str = Field(min_length=1)


class PurposeCatalogue:
    """All purposes, by id."""

    def __init__(self, purposes: dict[str, Purpose], controller: Controller | None = None) -> None:
        self._purposes = purposes
        self.controller = controller or Controller(name="(controller not configured)", contact="-")
        self.supplements = frozenset(p.night_opt_in_purpose for p in purposes.values() if p.night_opt_in_purpose)

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
    unknown = sorted(set(doc) - {"version", "controller", "purposes"})
    if unknown:
        raise ConfigurationError(f"{path}: unknown top-level keys {unknown}; expected version, controller, purposes")
    try:
        controller = Controller.model_validate(doc.get("controller"))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(controller)"
        raise ConfigurationError(f"{path}: controller, field {where}: {err['msg']}") from exc
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
    for purpose in purposes.values():
        night = purpose.night_opt_in_purpose
        if night is None:
            continue
        target = purposes.get(night)
        if target is None or not target.is_consent:
            raise ConfigurationError(
                f"{path}: purpose {purpose.id!r}, field night_opt_in_purpose: {night!r} is not a consent purpose")
        needed = sorted(str(c) for c in set(purpose.channels) & NIGHT_CHANNELS if c not in target.channels)
        if needed:
            raise ConfigurationError(
                f"{path}: purpose {purpose.id!r}, field night_opt_in_purpose: {night!r} lacks channels {needed}")
    return PurposeCatalogue(purposes, controller)
