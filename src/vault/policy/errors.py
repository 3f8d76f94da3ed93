"""Policy errors: a value breaks its catalogued field's rules, or a field is not collected for the purpose."""

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


class FieldNotForPurposeError(InvalidInputError):
    """A field the request's purpose does not use (data minimization, PIPA 16/24-2, GDPR 5(1)(c))."""

    code = "customer.field_not_for_purpose"
    title = "Field not collected for this purpose"

    def __init__(self, field: str, purpose: str, valid: tuple[str, ...] | list[str], reason: str | None = None) -> None:
        super().__init__(f"{field}: {reason or 'not collected'} for purpose {purpose!r} "
                         f"(its fields: {', '.join(valid)})", field=field, purpose=purpose, valid=list(valid))
        self.field = field
        self.purpose = purpose
        self.reason = reason or "not collected"


class NotCoveredByStatuteError(InvalidInputError):
    """A statute-only field (an RRN) for a customer the purpose's statute does not cover (PIPA 24-2(1))."""

    code = "customer.not_covered_by_statute"
    title = "Customer not covered by the statute"

    def __init__(self, field: str, purpose: str, statute: str, cohort: str) -> None:
        super().__init__(f"{field}: purpose {purpose!r} collects it under statute {statute!r}, which covers only "
                         f"{cohort}; this customer is not recorded as one", field=field, purpose=purpose,
                         reason=f"statute {statute} covers only {cohort}")
        self.field = field
        self.purpose = purpose
        self.statute = statute
        self.cohort = cohort
