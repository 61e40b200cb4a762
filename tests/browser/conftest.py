"""Fixtures of the browser tests: a headless Chromium and chat servers serving the web client.

The browser is found in this order: `CHATOPS_BROWSER` (a path or a command name), then
`chromium`, `chromium-browser` or `google-chrome` on PATH, then Playwright's own
installed browser. When there is none, every browser test is skipped with the reason.

The chat servers are real `python -m chatapp` processes with `WEB_ROOT=app/web`, against
the session's Redis and DynamoDB tables on the session's emulator (created and started
with the chat server tests' helpers); each is stopped by pid. Every page records CSP
violations and uncaught errors; a test fails if any occurred.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.app.helpers import ChatServer
from tests.helpers import ROOT

WEB_ROOT = ROOT / "app" / "web"
APP_VERSION = "9.9.9-browser"

# The policy CloudFront sends, as the page's meta tag carries it (minus frame-ancestors,
# which a meta tag cannot set).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'"
)

# Recorded in every page before its own scripts run (CDP-injected: not subject to the CSP).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@dataclass
class PageRecord:
    page: Any
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open the web client of a server in a fresh browser context (its own storage).

    `open_page(server, room, nickname=None, viewport=None)`: the page shows `room` (from
    the link `/#room`) once connected.
    """
    from playwright.sync_api import expect

    records: list[PageRecord] = []
    contexts: list[Any] = []

    def open_(
        server: ChatServer,
        room: str,
        nickname: str | None = None,
        viewport: dict[str, int] | None = None,
    ) -> Any:
        options: dict[str, Any] = {"viewport": viewport} if viewport else {}
        context = browser.new_context(**options)
        contexts.append(context)
        context.add_init_script(RECORD_VIOLATIONS)
        if nickname is not None:
            # Only on the first load: a reload keeps what the page stored since.
            context.add_init_script(
                "if (!sessionStorage.getItem('seeded')) {"
                f"  localStorage.setItem('chatops.nickname', {nickname!r});"
                "  sessionStorage.setItem('seeded', '1');"
                "}"
            )
        page = context.new_page()
        record = PageRecord(page)
        records.append(record)
        page.on(
            "console",
            lambda message: (
                record.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: record.page_errors.append(str(error)))
        page.goto(f"{server.http}/#{room}")
        expect(page.locator("#conn-state")).to_have_attribute("data-state", "online")
        expect(page.locator("#room-title")).to_have_text(f"#{room}")
        return page

    yield open_
    problems: list[str] = []
    for record in records:
        if not record.page.is_closed():
            violations = record.page.evaluate("window.__cspViolations || []")
            problems += [f"CSP violation: {violation}" for violation in violations]
        refusals = [text for text in record.console_errors if "Content Security Policy" in text]
        problems += [f"console: {text}" for text in refusals]
        problems += [f"uncaught error: {text}" for text in record.page_errors]
    for context in contexts:
        context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture(autouse=True)
def _expect_timeout() -> None:
    try:
        from playwright.sync_api import expect
    except ImportError:
        return
    expect.set_options(timeout=15_000)


# ---- the chat servers -------------------------------------------------------------------


def serving_the_web_client(make_server: Callable[..., ChatServer], colour: str) -> ChatServer:
    return make_server(colour, APP_VERSION=APP_VERSION, DRAIN_SECONDS="1", WEB_ROOT=str(WEB_ROOT))


@pytest.fixture(scope="session")
def blue(make_server: Callable[..., ChatServer]) -> ChatServer:
    return serving_the_web_client(make_server, "blue")


@pytest.fixture(scope="session")
def green(make_server: Callable[..., ChatServer]) -> ChatServer:
    return serving_the_web_client(make_server, "green")


@pytest.fixture
def room() -> str:
    """A room of this test's own (the servers and tables are shared by the session)."""
    return f"web-{uuid.uuid4().hex[:10]}"
