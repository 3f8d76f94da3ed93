"""Rights errors. Messages name ids, kinds, dates and legal grounds, never personal data."""

from __future__ import annotations

from vault.customers.errors import CustomerObjectedError, CustomerRestrictedError
from vault.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError
from vault.keys.errors import KeyInUseError

__all__ = [
    "CustomerObjectedError",
    "CustomerRestrictedError",
    "ErasureHeldError",
    "InvalidRequestError",
    "JournalError",
    "KeyInUseError",
    "RequestNotFoundError",
    "RequestStateError",
    "SubjectErasedError",
]


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


class SubjectErasedError(ConflictError):
    """The customer was erased; only the tombstone remains."""

    code = "rights.erased"
    title = "Customer erased"


class JournalError(ConflictError):
    """The erasure journal cannot be written or read; nothing is erased without a journal entry."""

    code = "rights.journal"
    title = "Erasure journal unavailable"


class SecondApprovalError(AccessDeniedError):
    """A bulk erasure approval that does not match its proposal, or comes from the proposer."""

    code = "rights.second_approval"
    title = "Second approval refused"


class ErasureHeldError(ConflictError):
    """The customer is under a hold that erasure must respect: processing is restricted (GDPR Art. 18(1)(c),
    17(3)(e); PIPA Art. 37: kept for legal claims). Lift the restriction first."""

    code = "rights.erasure_held"
    title = "Erasure held"
