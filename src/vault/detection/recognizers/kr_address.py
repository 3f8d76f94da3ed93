"""Korean postal addresses (도로명 and 지번)."""

from __future__ import annotations

import re
from typing import ClassVar

from vault.detection.entities import LOCATION
from vault.detection.recognizers._base import RegexPattern, RegexRecognizer, pattern
from vault.detection.recognizers._lexicon_ko import PROVINCES

_PROVINCE = "|".join(sorted(PROVINCES, key=len, reverse=True))
_CITY = r"[가-힣]{1,5}시"
_GU = r"[가-힣]{1,5}[구군]"
# 읍/면 may be followed by 리 (지번: ``우성면 한천리 123``); a level ends at a space (``한누리대로`` is a road, not 리).
_DONG1 = r"[가-힣]{1,6}[0-9]{0,2}(?:동|읍|면|리|[0-9]가)(?![가-힣])"
_DONG = _DONG1 + r"(?:[ ]" + _DONG1 + r")?"
_ROAD = r"[가-힣A-Za-z0-9]{1,12}(?:로|길)(?:[ ]?[0-9]{1,4}(?:번?[가-힣]?길))?"
_NUM = r"(?:산[ ]?)?[0-9]{1,5}(?:-[0-9]{1,5})?(?:번지)?"
_DETAIL = (
    r"(?:,?[ ]?[가-힣A-Za-z0-9]{1,15}(?:아파트|빌라|오피스텔|타워|빌딩|맨션|하이츠|팰리스|캐슬|자이|푸르지오|래미안|"
    r"힐스테이트|센트럴|파크|스퀘어|프라자|플라자|상가))?"
    r"(?:,?[ ]?[A-Za-z0-9]{1,4}동)?(?:,?[ ]?[A-Za-z0-9]{1,5}호)?"
    r"(?:[ ]?\([가-힣]{1,6}[0-9]{0,2}(?:동|읍|면|리|가)(?:,[ ]?[가-힣A-Za-z0-9]{1,15})?\))?"
)
_TAIL = r"(?![0-9A-Za-z])"


class KoreanAddressRecognizer(RegexRecognizer):
    """Detect addresses built from 시/도, 시/군/구, 동/읍/면 or 로/길, and a number.

    ``서울특별시 강남구 테헤란로 123``, ``경기도 성남시 분당구 판교역로 235, 101동
    1203호``, ``강남구 역삼동 123-45``. The more levels present, the higher the
    score; a bare ``테헤란로 12`` needs context (주소, 배송지...).
    """

    ENTITY = LOCATION
    PATTERNS: ClassVar[tuple[RegexPattern, ...]] = (
        pattern("province_led", r"(?<![가-힣])(?P<value>(?P<prov>" + _PROVINCE + r")(?:[ ]?(?P<city>" + _CITY
                + r"))?(?:[ ]?(?P<gu>" + _GU + r"))?(?:[ ](?P<dong>" + _DONG + r"))?(?:[ ](?P<road>" + _ROAD
                + r"))?(?:[ ](?P<num>" + _NUM + r")" + _DETAIL + r")?)" + _TAIL, 0.5),
        pattern("district_led", r"(?<![가-힣])(?P<value>(?:(?P<city>" + _CITY + r")[ ])?(?P<gu>" + _GU
                + r")(?:[ ](?P<dong>" + _DONG + r"))?(?:[ ](?P<road>" + _ROAD + r"))?[ ](?P<num>" + _NUM + r")"
                + _DETAIL + r")" + _TAIL, 0.75),
        pattern("road_led", r"(?<![가-힣])(?P<value>(?P<road>" + _ROAD + r")[ ](?P<num>" + _NUM + r")" + _DETAIL
                + r")" + _TAIL, 0.4),
    )  # fmt: skip
    CONTEXT = ("주소", "배송지", "거주", "자택", "사는", "집", "도로명", "수령지", "배달", "address", "addr", "ship to")

    def score_match(self, match: re.Match[str], pat: RegexPattern, text: str) -> tuple[int, int, float] | None:
        """Score by how many address levels the match contains."""
        parts = match.groupdict()
        area = bool(parts.get("city") or parts.get("gu"))
        street = bool(parts.get("dong") or parts.get("road"))
        number = bool(parts.get("num"))
        if pat.name == "province_led":
            levels = area + street + number
            if levels == 0 or (not area and not number):
                return None
            score = {1: 0.5, 2: 0.75, 3: 0.85}[levels]
        elif pat.name == "district_led":
            if not street:
                return None
            score = pat.score
        else:
            score = pat.score
        start = match.start("value")
        value = match.group("value").rstrip(", ")
        return start, start + len(value), score
