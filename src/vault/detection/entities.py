"""Entity types the detector reports, how they rank and how they are labelled.

Type names follow Presidio's (``PERSON``, ``EMAIL_ADDRESS``...) with ``KR_`` for
Korean identifiers, because ``vault pii scan`` consumers already speak Presidio.
"""

from __future__ import annotations

from typing import Final

PERSON: Final = "PERSON"
LOCATION: Final = "LOCATION"
EMAIL_ADDRESS: Final = "EMAIL_ADDRESS"
PHONE_NUMBER: Final = "PHONE_NUMBER"
CREDIT_CARD: Final = "CREDIT_CARD"
IBAN_CODE: Final = "IBAN_CODE"
IP_ADDRESS: Final = "IP_ADDRESS"
KR_RRN: Final = "KR_RRN"
KR_FRN: Final = "KR_FRN"
KR_PASSPORT: Final = "KR_PASSPORT"
KR_DRIVER_LICENSE: Final = "KR_DRIVER_LICENSE"
KR_BRN: Final = "KR_BRN"
KR_BANK_ACCOUNT: Final = "KR_BANK_ACCOUNT"
#: Presidio's name for dates; the vault reports dates of birth only (a date is personal data when it is one).
DATE_TIME: Final = "DATE_TIME"

#: Identifiers with a fixed shape (and often a checksum): the precision-critical group.
STRUCTURED_TYPES: Final = frozenset(
    {
        EMAIL_ADDRESS,
        PHONE_NUMBER,
        CREDIT_CARD,
        IBAN_CODE,
        IP_ADDRESS,
        KR_RRN,
        KR_FRN,
        KR_PASSPORT,
        KR_DRIVER_LICENSE,
        KR_BRN,
        KR_BANK_ACCOUNT,
    }
)
#: Free-form mentions found from vocabulary and context rather than shape.
NAME_ADDRESS_TYPES: Final = frozenset({PERSON, LOCATION})
#: Quasi-identifiers written in text: dates of birth.
BIRTH_DATE_TYPES: Final = frozenset({DATE_TIME})
ALL_TYPES: Final = STRUCTURED_TYPES | NAME_ADDRESS_TYPES | BIRTH_DATE_TYPES

#: Tie-breaker when two overlapping candidates score the same: a checksummed
#: national id outranks a card or account number that happens to share digits,
#: and any identifier outranks a name or address guess.
PRIORITY: Final[dict[str, int]] = {
    KR_RRN: 100,
    KR_FRN: 99,
    CREDIT_CARD: 95,
    IBAN_CODE: 94,
    EMAIL_ADDRESS: 93,
    KR_BRN: 90,
    KR_DRIVER_LICENSE: 88,
    KR_PASSPORT: 86,
    IP_ADDRESS: 85,
    PHONE_NUMBER: 80,
    KR_BANK_ACCOUNT: 70,
    LOCATION: 50,
    DATE_TIME: 45,
    PERSON: 40,
}

_KO_LABELS: Final[dict[str, str]] = {
    PERSON: "[이름]",
    LOCATION: "[주소]",
    EMAIL_ADDRESS: "[이메일]",
    PHONE_NUMBER: "[전화번호]",
    CREDIT_CARD: "[카드번호]",
    IBAN_CODE: "[IBAN]",
    IP_ADDRESS: "[IP주소]",
    KR_RRN: "[주민등록번호]",
    KR_FRN: "[외국인등록번호]",
    KR_PASSPORT: "[여권번호]",
    KR_DRIVER_LICENSE: "[운전면허번호]",
    KR_BRN: "[사업자등록번호]",
    KR_BANK_ACCOUNT: "[계좌번호]",
    DATE_TIME: "[생년월일]",
}


def priority(entity_type: str) -> int:
    """Rank of an entity type for overlap resolution (unknown types rank lowest)."""
    return PRIORITY.get(entity_type, 0)


def redaction_label(entity_type: str, language: str | None) -> str:
    """The placeholder that replaces a detected value in redacted text.

    Args:
        entity_type: Presidio-style entity type, e.g. ``PHONE_NUMBER``.
        language: ``"ko"`` gives Korean labels such as ``[전화번호]``; anything
            else gives ``<PHONE_NUMBER>``.
    """
    if language == "ko":
        return _KO_LABELS.get(entity_type, f"[{entity_type}]")
    return f"<{entity_type}>"
