"""Extract errors: each names the spec key or column at fault, never a value."""

from __future__ import annotations

from vault.errors import ConflictError, InvalidInputError, VaultError


class ExtractSpecError(InvalidInputError):
    """The extract spec is malformed or asks for something the catalogue does not allow."""

    code = "extract.invalid_spec"
    title = "Invalid extract spec"


class DirectIdentifierError(ExtractSpecError):
    """The spec names a direct identifier (name, contact data, RRN, customer_ref) as a column."""

    code = "extract.direct_identifier"
    title = "Direct identifiers are never released"


class ReleaseRefusedError(ConflictError):
    """The release gate found structured identifiers in the output; nothing was written."""

    code = "extract.release_refused"
    title = "Extract refused by the PII release gate"


class ExtractWriteError(VaultError):
    """The extract could not be written (no partial file is left behind)."""

    code = "extract.write_failed"
    title = "Extract could not be written"
