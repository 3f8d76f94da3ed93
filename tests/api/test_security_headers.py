"""Every response carries the security headers; the docs page loads nothing from a third party."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import Creds
from vault.web import CONTENT_SECURITY_POLICY

PATHS = [
    ("GET", "/health", 200),
    ("GET", "/schema", 200),
    ("GET", "/schema/openapi.json", 200),
    ("GET", "/console/static/vendor/htmx/htmx.min.js", 200),
    ("GET", "/v1/customers/00000000-0000-0000-0000-000000000000?purpose=support", 401),  # problem+json error
    ("GET", "/no/such/page", 404),
    ("DELETE", "/health", 405),
]


def test_csp_has_no_unsafe_sources() -> None:
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(("method", "path", "status"), PATHS)
async def test_every_response_has_security_headers(
    client: AsyncTestClient, method: str, path: str, status: int,  # type: ignore[type-arg]
) -> None:
    r = await client.request(method, path)
    assert r.status_code == status
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "script-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"


async def test_authenticated_api_response_has_headers(
    client: AsyncTestClient, principals: dict[str, Creds],  # type: ignore[type-arg]
) -> None:
    r = await client.get("/v1/purposes", headers=principals["analyst"].headers)
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


async def test_docs_page_uses_only_packaged_assets(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    html = (await client.get("/schema")).text
    assert "<script>" not in html and "<style" not in html, "inline script/style would need 'unsafe-inline'"
    urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", html)
    assert urls, html
    for url in urls:
        assert url.startswith("/"), f"third-party asset {url}"
        assert (await client.get(url)).status_code == 200, url
    assert "googleapis" not in html and "cdn" not in html
