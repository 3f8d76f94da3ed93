"""POST /v1/pii/analyze over HTTP."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.conftest import Creds


async def test_analyze_korean_with_particles(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    text = "고객님 연락처는 010-1234-5678로, 메일은 gildong@naver.com으로 보내주세요."
    r = await client.post("/v1/pii/analyze", json={"text": text, "language": "ko", "redact": True},
                          headers=principals["crm_agent"].headers)
    assert r.status_code == 200, r.text
    found = {(e["type"], text[e["start"]:e["end"]]) for e in r.json()["entities"]}
    assert ("PHONE_NUMBER", "010-1234-5678") in found
    assert ("EMAIL_ADDRESS", "gildong@naver.com") in found
    redacted = r.json()["redacted"]
    assert "010-1234-5678" not in redacted
    assert "gildong@naver.com" not in redacted


async def test_analyze_bad_input(client: AsyncTestClient, principals: dict[str, Creds]) -> None:  # type: ignore[type-arg]
    h = principals["analyst"].headers
    for body in ({"text": "x" * 100_001}, {"text": "a", "threshold": 2}, {"txt": "a"}, {"text": 5}):
        r = await client.post("/v1/pii/analyze", json=body, headers=h)
        assert 400 <= r.status_code < 500, (body, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post("/v1/pii/analyze", json={"text": "010-1234-5678"})
    assert r.status_code == 401
