"""Rights errors. Messages name ids, kinds, dates and legal grounds, never personal data."""

from __future__ import annotations

from vault.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError


class RequestNotFoundError(NotFoundError):
    """No data subject request with that id."""

    code = "rights.request_not_found"
    title = "Request not found"


class InvalidRequestError(InvalidInputError):
    """A request is malformed (unknown kind, jurisdiction, status, date in the future, ...)."""

    code = "rights.invalid_request"
    title = "Invalid data subject request"


class RequestStateError(ConflictError):
    """The request cannot move to that status (already closed, wrong kind for the action, other subject)."""

    code = "rights.request_state"
    title = "Request state conflict"


class CustomerRestrictedError(AccessDeniedError):
    """Processing of the customer is restricted (GDPR Art. 18, PIPA Art. 37): only legal-claims handling may read."""

    code = "rights.restricted"
    title = "Processing restricted"


class CustomerObjectedError(AccessDeniedError):
    """The customer objected to direct marketing (GDPR Art. 21(3)): no marketing processing at all."""

    code = "rights.objected"
    title = "Customer objected to direct marketing"


class SubjectErasedError(ConflictError):
    """The customer was erased; only the tombstone remains."""

    code = "rights.erased"
    title = "Customer erased"


class KeyInUseError(ConflictError):
    """A key version cannot be retired while data is still wrapped or indexed under it."""

    code = "keys.in_use"
    title = "Key version still in use"


class JournalError(ConflictError):
    """The erasure journal cannot be written or read; nothing is erased without a journal entry."""

    code = "rights.journal"
    title = "Erasure journal unavailable"
