"""Consent errors. Messages name purposes, channels, versions and ids, never personal data."""

from __future__ import annotations

from vault.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError


class UnknownConsentPurposeError(InvalidInputError):
    """The purpose is not in the catalogue (``valid`` lists the consent purposes)."""

    code = "consent.unknown_purpose"
    title = "Unknown purpose"


class UnknownChannelError(InvalidInputError):
    """The channel does not exist, or the purpose is not collected on it (``valid`` lists the allowed ones)."""

    code = "consent.unknown_channel"
    title = "Unknown channel"


class UnknownNoticeError(InvalidInputError):
    """The notice version was never published for the purpose (``valid`` lists the versions)."""

    code = "consent.unknown_notice"
    title = "Unknown notice version"


class InvalidConsentError(InvalidInputError):
    """A consent request is malformed (empty, duplicated, bad action, source or time)."""

    code = "consent.invalid"
    title = "Invalid consent request"


class ConsentNotApplicableError(ConflictError):
    """The purpose does not rest on consent, so it cannot be granted, refused or withdrawn."""

    code = "consent.not_applicable"
    title = "Purpose does not rest on consent"


class NothingToReconfirmError(ConflictError):
    """A reconfirmation needs a current grant."""

    code = "consent.nothing_to_reconfirm"
    title = "No current consent to reconfirm"


class ConsentOrderError(ConflictError):
    """A decision dated before the one already recorded for the same purpose and channel."""

    code = "consent.out_of_order"
    title = "A later decision is already recorded"


class ConsentEventNotFoundError(NotFoundError):
    """No consent event with that id."""

    code = "consent.event_not_found"
    title = "Consent event not found"


class ReceiptNotFoundError(NotFoundError):
    """The event has no receipt (imported and expiry events carry none)."""

    code = "consent.receipt_not_found"
    title = "Receipt not found"


class JustificationRequiredError(AccessDeniedError):
    """A contact resolution above the volume caps named no justification."""

    code = "contacts.justification_required"
    title = "Justification required"


class NoticeVersionRequiredError(InvalidInputError):
    """A grant or reconfirmation that does not name the notice version shown (``valid`` lists the accepted ones)."""

    code = "consent.notice_version_required"
    title = "Notice version required"
