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


class TargetUnmeetableError(InvalidInputError):
    """Even at the top of every ladder the spec's k / l cannot be met within ``max_suppression``; nothing written.

    ``extra`` carries ``worst_classes`` (generalized class values, sizes, distinct sensitive values),
    ``blocking`` (which sensitive attribute fails l-diversity and which quasi-identifier determines it),
    ``failing_rows``, ``eligible_rows``, ``max_suppressed_rows`` and ``levels``.
    """

    code = "extract.target_unmeetable"
    title = "Extract target cannot be met"
