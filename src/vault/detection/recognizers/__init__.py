"""One recognizer class per module, Presidio style; :mod:`vault.detection.registry` decides what loads."""

from __future__ import annotations

from vault.detection.recognizers.birth_date import BirthDateRecognizer
from vault.detection.recognizers.credit_card import PaymentCardRecognizer
from vault.detection.recognizers.email import EmailAddressRecognizer
from vault.detection.recognizers.en_address import EnglishAddressRecognizer
from vault.detection.recognizers.en_person import EnglishNameRecognizer
from vault.detection.recognizers.iban import IbanCodeRecognizer
from vault.detection.recognizers.intl_phone import IntlPhoneRecognizer
from vault.detection.recognizers.ip_address import IpAddressRecognizer
from vault.detection.recognizers.kr_address import KoreanAddressRecognizer
from vault.detection.recognizers.kr_bank_account import KoreanBankAccountRecognizer
from vault.detection.recognizers.kr_brn import KoreanBrnRecognizer
from vault.detection.recognizers.kr_driver_license import KoreanDriverLicenseRecognizer
from vault.detection.recognizers.kr_frn import KoreanFrnRecognizer
from vault.detection.recognizers.kr_passport import KoreanPassportRecognizer
from vault.detection.recognizers.kr_person import HangulNameRecognizer
from vault.detection.recognizers.kr_phone import KoreanPhoneRecognizer
from vault.detection.recognizers.kr_rrn import KoreanRrnRecognizer
from vault.detection.recognizers.spelled_email import SpelledEmailRecognizer

__all__ = [
    "BirthDateRecognizer",
    "EmailAddressRecognizer",
    "EnglishAddressRecognizer",
    "EnglishNameRecognizer",
    "HangulNameRecognizer",
    "IbanCodeRecognizer",
    "IntlPhoneRecognizer",
    "IpAddressRecognizer",
    "KoreanAddressRecognizer",
    "KoreanBankAccountRecognizer",
    "KoreanBrnRecognizer",
    "KoreanDriverLicenseRecognizer",
    "KoreanFrnRecognizer",
    "KoreanPassportRecognizer",
    "KoreanPhoneRecognizer",
    "KoreanRrnRecognizer",
    "PaymentCardRecognizer",
    "SpelledEmailRecognizer",
]
