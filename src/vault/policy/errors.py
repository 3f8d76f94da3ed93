"""Policy errors: a value breaks its catalogued field's rules."""

from __future__ import annotations

from vault.errors import InvalidInputError


class InvalidFieldError(InvalidInputError):
    """A field value failed validation; ``field`` names it, the value is never echoed."""

    code = "customer.invalid_field"
    title = "Invalid field value"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field)
        self.field = field
        self.reason = reason
