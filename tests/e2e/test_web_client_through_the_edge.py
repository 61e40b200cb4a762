"""The web client in a real browser, through the local edge (CloudFront) and ALB.

Runs after test_traffic_live.py, which leaves all traffic on blue. A module of its own:
Playwright's sync API runs its own event loop for as long as the `browser` fixture lives.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e


def test_a_browser_chats_through_the_edge_and_sees_the_colour(
    stack: LocalStack, browser: Any
) -> None:
    from playwright.sync_api import expect

    assert stack.cli("shift", "--local", "100", "0").returncode == 0
    violations: list[str] = []
    page = browser.new_page()
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    try:
        response = page.goto(stack.chat_url)
        assert response is not None and response.status == 200
        assert "default-src 'self'" in response.headers["content-security-policy"]
        badge = page.locator("#colour-badge")
        expect(badge).to_have_attribute("data-colour", "blue", timeout=30_000)
        text = "hello through the edge"
        page.fill("#text", text)
        page.press("#text", "Enter")
        expect(page.locator("#messages li.message .text").filter(has_text=text)).to_have_count(
            1, timeout=30_000
        )
    finally:
        page.close()
    assert violations == []
