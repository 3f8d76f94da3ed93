"""The API docs page renders in a real browser from packaged assets only, under the strict CSP."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from tests.e2e.conftest import keep_shot, shot_path


async def test_swagger_ui_renders_offline_under_csp(server: str, browser: Any) -> None:
    page = await browser.new_page()
    hosts: set[str] = set()
    problems: list[str] = []
    page.on("request", lambda req: hosts.add(urlparse(req.url).netloc))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    await page.goto(f"{server}/schema")
    await page.locator(".opblock").first.wait_for(timeout=20_000)  # operations listed: the spec loaded
    assert await page.locator(".opblock").count() > 10
    await page.screenshot(path=shot_path("api-docs"))
    keep_shot("api-docs")
    assert hosts == {urlparse(server).netloc}, f"requests left the vault: {hosts}"
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    await page.close()
