"""Street addresses in English text."""

from __future__ import annotations

from typing import ClassVar

from vault.detection.entities import LOCATION
from vault.detection.recognizers._base import RegexPattern, RegexRecognizer, pattern

_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Ter|Parkway|Pkwy|"
    r"Highway|Hwy|Square|Sq|Circle|Cir|Trail|Trl|Close|Crescent|Row|Gardens|Plaza|Alley|Walk|Hill|Mews)"
)
_UNIT = r"(?:,?[ ](?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl|Rm|Room|Flat|#)\.?[ ]?#?[A-Za-z0-9\-]+)?"
_CITY = r"(?:,[ ]?[A-Z][a-zA-Z]+(?:[ ][A-Z][a-zA-Z]+){0,2})?"
_POST = r"(?:,?[ ](?:[A-Z]{2}[ ]\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}|\d{5}))?"


# Korean road-name addresses in the official romanization: ``152 Teheran-ro, Gangnam-gu, Seoul 06236``,
# ``12, Teheran-ro 20-gil, ...`` (building number before or after the road, 로/길/대로 as -ro/-gil/-daero).
_KR_WORD = r"[A-Z][a-z]+(?:[- ][a-z]+){0,2}"
_KR_ROAD = _KR_WORD + r"-(?:daero|ro|gil)(?:[ ]\d{1,3}(?:beon)?-gil)?"
_KR_UNIT = r"(?:(?:Apt\.?|Unit|Suite|#)[ ]?[0-9A-Za-z-]+,?[ ])?"
_KR_AREA = (r"(?:,[ ]?" + _KR_WORD + r"-(?:dong|eup|myeon|ri))?,[ ]?" + _KR_WORD + r"-(?:gu|gun|si)"
            r"(?:,[ ]?" + _KR_WORD + r"(?:-(?:si|do))?)?(?:,?[ ]\d{5})?(?:,[ ]?(?:South[ ])?Korea)?")


class EnglishAddressRecognizer(RegexRecognizer):
    """Detect ``1600 Pennsylvania Ave NW, Washington, DC 20500``-style street addresses, PO boxes and Korean
    road-name addresses in romanization (``152 Teheran-ro, Gangnam-gu, Seoul``)."""

    ENTITY = LOCATION
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("street", r"(?<![0-9A-Za-z])(?P<value>\d{1,6}[A-Za-z]?(?:[ ][A-Z0-9][A-Za-z0-9'’\.]*){1,4}?[ ]"
                + _SUFFIX + r"\.?(?:[ ](?:N|S|E|W|NE|NW|SE|SW)\.?)?" + _UNIT + _CITY + _POST + r")(?![A-Za-z0-9])",
                0.75),
        pattern("kr_number_first", r"(?<![0-9A-Za-z])(?P<value>" + _KR_UNIT + r"\d{1,5}(?:-\d{1,5})?,?[ ]"
                + _KR_ROAD + _KR_AREA + r")(?![A-Za-z0-9])", 0.8),
        pattern("kr_road_first", r"(?<![0-9A-Za-z])(?P<value>" + _KR_ROAD + r"[ ]\d{1,5}(?:-\d{1,5})?" + _KR_AREA
                + r")(?![A-Za-z0-9])", 0.8),
        pattern("po_box", r"(?<![A-Za-z])(?P<value>P\.?[ ]?O\.?[ ]Box[ ]\d{1,6}" + _CITY + _POST + r")(?![A-Za-z0-9])",
                0.7),
    )  # fmt: skip
    CONTEXT = ("address", "ship to", "deliver", "mailing", "billing", "lives at", "located at", "주소", "배송지")
