"""One recognizer class per module, Presidio style; :mod:`vault.detection.registry` decides what loads."""

from __future__ import annotations

from vault.detection.recognizers.credit_card import CreditCardRecognizer
from vault.detection.recognizers.email import EmailRecognizer
from vault.detection.recognizers.en_address import EnglishAddressRecognizer
from vault.detection.recognizers.en_person import EnglishNameRecognizer
from vault.detection.recognizers.iban import IbanRecognizer
from vault.detection.recognizers.intl_phone import IntlPhoneRecognizer
from vault.detection.recognizers.ip_address import IpAddressRecognizer
from vault.detection.recognizers.kr_address import KoreanAddressRecognizer
from vault.detection.recognizers.kr_bank_account import KrBankAccountRecognizer
from vault.detection.recognizers.kr_brn import KrBrnRecognizer
from vault.detection.recognizers.kr_driver_license import KrDriverLicenseRecognizer
from vault.detection.recognizers.kr_frn import KrFrnRecognizer
from vault.detection.recognizers.kr_passport import KrPassportRecognizer
from vault.detection.recognizers.kr_person import HangulNameRecognizer
from vault.detection.recognizers.kr_phone import KrPhoneRecognizer
from vault.detection.recognizers.kr_rrn import KrRrnRecognizer

__all__ = [
    "CreditCardRecognizer",
    "EmailRecognizer",
    "EnglishAddressRecognizer",
    "EnglishNameRecognizer",
    "HangulNameRecognizer",
    "IbanRecognizer",
    "IntlPhoneRecognizer",
    "IpAddressRecognizer",
    "KoreanAddressRecognizer",
    "KrBankAccountRecognizer",
    "KrBrnRecognizer",
    "KrDriverLicenseRecognizer",
    "KrFrnRecognizer",
    "KrPassportRecognizer",
    "KrPhoneRecognizer",
    "KrRrnRecognizer",
]
