"""Segment errors: codes and positions, never customer values."""

from __future__ import annotations

from vault.errors import AccessDeniedError, ConflictError, InvalidInputError, NotFoundError


class ExpressionError(InvalidInputError):
    """A segment expression does not parse or does not type-check.

    ``extra`` carries ``position`` (1-based column), ``expression`` and, for unknown names, ``valid``.
    """

    code = "segment.expression"
    title = "Invalid segment expression"

    def __init__(self, message: str, position: int, *, valid: list[str] | None = None) -> None:
        detail = f"column {position}: {message}"
        if valid is not None:
            detail += f"; valid names: {', '.join(valid)}"
        super().__init__(detail, position=position, **({"valid": valid} if valid is not None else {}))
        self.message = message
        self.position = position


class SegmentNotFoundError(NotFoundError):
    """No such segment, version or snapshot."""

    code = "segment.not_found"


class SegmentStateError(ConflictError):
    """The lifecycle step is not allowed in the version's current state."""

    code = "segment.state"


class SignoffDeniedError(AccessDeniedError):
    """The caller's role may not take this sign-off step."""

    code = "segment.signoff_denied"


class InvalidBehaviourError(InvalidInputError):
    """An interaction or label is not acceptable (names the field, never a value)."""

    code = "segment.invalid_behaviour"


class CustomerUnknownError(NotFoundError):
    """The customer does not exist or is erased."""

    code = "segment.customer_not_found"
