"""Customer errors. Messages name fields and ids, never values."""

from __future__ import annotations

from vault.errors import AccessDeniedError, ConflictError, NotFoundError
from vault.policy.errors import FieldNotForPurposeError, InvalidFieldError, NotCoveredByStatuteError

__all__ = [
    "CustomerNotFoundError",
    "CustomerObjectedError",
    "CustomerRestrictedError",
    "DuplicateCustomerError",
    "FieldNotForPurposeError",
    "IdempotencyConflictError",
    "InvalidFieldError",
    "NotCoveredByStatuteError",
    "StaleWriteError",
]


class CustomerNotFoundError(NotFoundError):
    """No (visible) customer with that id or lookup value."""

    code = "customer.not_found"
    title = "Customer not found"


class DuplicateCustomerError(ConflictError):
    """A customer with this customer_ref already exists."""

    code = "customer.duplicate"
    title = "Duplicate customer"


class IdempotencyConflictError(ConflictError):
    """An Idempotency-Key was reused with a different request body."""

    code = "customer.idempotency_conflict"
    title = "Idempotency key reused"


class StaleWriteError(ConflictError):
    """The customer changed since the caller read it (If-Match / row version)."""

    code = "customer.stale_write"
    title = "Customer changed concurrently"


class CustomerRestrictedError(AccessDeniedError):
    """Processing of the customer is restricted (GDPR Art. 18, PIPA Art. 37): only legal-claims handling may read."""

    code = "rights.restricted"
    title = "Processing restricted"


class CustomerObjectedError(AccessDeniedError):
    """The customer objected to direct marketing (GDPR Art. 21(3)): no marketing processing at all."""

    code = "rights.objected"
    title = "Customer objected to direct marketing"
