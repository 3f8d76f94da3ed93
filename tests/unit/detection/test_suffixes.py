from __future__ import annotations

import pytest

from vault.detection.recognizers.email import offline_extractor
from vault.detection.suffixes import bundled_suffixes

DOMAINS = ["naver.com", "daum.net", "example.co.kr", "mail.example.co.kr", "jane.doe.co.uk", "korea.kr",
           "seoul.go.kr", "host.local", "localhost", "com", "co.kr", "v1.2", "foo.ck", "www.ck", "a.b.kawasaki.jp",
           "city.kawasaki.jp", "xn--3e0b707e", "example.xn--3e0b707e", "ex.ample.museum", "x.y.z.invalidtld",
           "gmail.com.", "naver.COM"]


@pytest.mark.parametrize("domain", DOMAINS)
def test_same_answer_as_tldextract(domain: str) -> None:
    parts = offline_extractor()(domain.rstrip("."))
    assert bundled_suffixes().registrable(domain) == bool(parts.suffix and parts.domain), domain
