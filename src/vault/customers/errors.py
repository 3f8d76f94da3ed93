"""Customer errors. Messages name fields and ids, never values."""

from __future__ import annotations

from vault.errors import ConflictError, InvalidInputError, NotFoundError


class CustomerNotFoundError(NotFoundError):
    """No (visible) customer with that id or lookup value."""

    code = "customer.not_found"
    title = "Customer not found"


class DuplicateCustomerError(ConflictError):
    """A customer with this customer_ref already exists."""

    code = "customer.duplicate"
    title = "Duplicate customer"


class InvalidFieldError(InvalidInputError):
    """A field value failed validation; ``field`` names it, the value is never echoed."""

    code = "customer.invalid_field"
    title = "Invalid field value"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field)
        self.field = field
        self.reason = reason


class IdempotencyConflictError(ConflictError):
    """An Idempotency-Key was reused with a different request body."""

    code = "customer.idempotency_conflict"
    title = "Idempotency key reused"


class StaleWriteError(ConflictError):
    """The customer changed since the caller read it (If-Match / row version)."""

    code = "customer.stale_write"
    title = "Customer changed concurrently"


class FieldNotForPurposeError(InvalidInputError):
    """A field the request's purpose does not use (data minimization, PIPA 16/24-2, GDPR 5(1)(c))."""

    code = "customer.field_not_for_purpose"
    title = "Field not collected for this purpose"

    def __init__(self, field: str, purpose: str, valid: tuple[str, ...] | list[str]) -> None:
        super().__init__(f"{field}: not collected for purpose {purpose!r} (its fields: {', '.join(valid)})",
                         field=field, purpose=purpose, valid=list(valid))
        self.field = field
        self.purpose = purpose
