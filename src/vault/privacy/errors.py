"""Extract errors: each names the spec key or column at fault, never a value."""

from __future__ import annotations

from vault.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError, VaultError


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


class ProjectNotFoundError(NotFoundError):
    """No analysis project by that id or name (or the caller is not one of its members)."""

    code = "project.not_found"
    title = "Analysis project not found"


class ProjectExistsError(ConflictError):
    """An analysis project with that name exists already."""

    code = "project.exists"
    title = "Analysis project exists"


class NotAMemberError(AccessDeniedError):
    """The analyst is not a member of the project."""

    code = "project.not_a_member"
    title = "Not a member of the analysis project"


class ExtractJobNotFoundError(NotFoundError):
    """No extract job by that id that the caller may see."""

    code = "extract.not_found"
    title = "Extract not found"


class ExtractNotReadyError(ConflictError):
    """The extract has not finished (or failed), so there is no file to download."""

    code = "extract.not_ready"
    title = "Extract file not available"


class ExtractExpiredError(NotFoundError):
    """The extract's file expired and was deleted."""

    code = "extract.expired"
    title = "Extract file expired"


class BudgetExhaustedError(ConflictError):
    """The query would spend more ε than the project has left; nothing was answered or charged."""

    code = "stats.budget_exhausted"
    title = "Privacy budget exhausted"


class StatsQueryError(InvalidInputError):
    """A statistics query names an unknown dimension or value, or an ε out of range."""

    code = "stats.invalid_query"
    title = "Invalid statistics query"


class NoSnapshotError(ConflictError):
    """No statistics snapshot exists yet."""

    code = "stats.no_snapshot"
    title = "No statistics snapshot"


class PseudonymNotFoundError(NotFoundError):
    """No customer has that pseudonym in the project (under any of its key versions)."""

    code = "pseudonym.not_found"
    title = "Pseudonym not found"
