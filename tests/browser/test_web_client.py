"""The web client (app/web) in a real headless Chromium against real chat servers."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.browser.conftest import APP_VERSION, CSP, ChatServer, serving_the_web_client

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="no Chromium found: the playwright package is not installed"
)
expect = sync_api.expect


# ---- helpers ------------------------------------------------------------------------------


def send(page: Any, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def shown(page: Any) -> list[dict[str, Any]]:
    """The messages the page shows, top to bottom."""
    result: list[dict[str, Any]] = page.eval_on_selector_all(
        "#messages li.message",
        """items => items.map(item => ({
            seq: Number(item.dataset.seq),
            userId: item.dataset.userId,
            text: item.querySelector('.text').textContent,
        }))""",
    )
    return result


def texts(page: Any) -> list[str]:
    return [message["text"] for message in shown(page)]


def wait_for_texts(page: Any, expected: list[str]) -> None:
    try:
        expect(page.locator("#messages li.message .text")).to_have_text(expected)
    except AssertionError as error:
        raise AssertionError(f"{error}\npage state: {describe(page)}") from None


def describe(page: Any) -> str:
    """What a failing assertion should show about a page."""
    state: str = page.evaluate(
        """() => JSON.stringify({
            state: document.getElementById('conn-state').textContent,
            room: document.getElementById('room-title').textContent,
            messages: [...document.querySelectorAll('#messages li')].map(li => li.textContent),
            pending: [...document.querySelectorAll('#pending li')].map(li => li.textContent),
            notice: document.getElementById('notice').textContent,
        })"""
    )
    return state


def assert_gapless(messages: list[dict[str, Any]]) -> None:
    seqs = [message["seq"] for message in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


def members(page: Any) -> set[str]:
    return set(page.locator("#online-list li").all_text_contents())


def seed_messages(server: ChatServer, room: str, count: int) -> None:
    """Store `count` messages in `room` over the protocol (several connections: each
    may send a burst of 10 within the rate limit)."""
    ws_url = server.http.replace("http", "ws") + "/ws"
    sent = 0
    while sent < count:
        with connect(ws_url, open_timeout=10) as ws:
            ws.send(json.dumps({"type": "auth", "nickname": "seeder"}))
            frames = [json.loads(ws.recv(timeout=10))]
            assert frames[0]["type"] == "hello", frames
            ws.send(json.dumps({"type": "join", "room": room}))
            batch = min(8, count - sent)
            pending = set()
            for _ in range(batch):
                msg_id = secrets.token_hex(8)
                pending.add(msg_id)
                sent += 1
                frame = {"type": "send", "room": room, "text": f"old {sent}", "msgId": msg_id}
                ws.send(json.dumps(frame))
            while pending:
                frame = json.loads(ws.recv(timeout=10))
                assert frame["type"] != "error", frame
                if frame["type"] == "ack":
                    pending.discard(frame["msgId"])


# ---- two people ---------------------------------------------------------------------------


def test_two_pages_on_two_colours_chat_with_each_other(
    open_page: Callable[..., Any], blue: ChatServer, green: ChatServer, room: str
) -> None:
    alice = open_page(blue, room, nickname="alice")
    bob = open_page(green, room, nickname="bob")

    # The badge says which colour (and version) serves each page.
    expect(alice.locator("#colour-badge")).to_have_attribute("data-colour", "blue")
    expect(alice.locator("#colour-badge")).to_have_text(f"blue · {APP_VERSION}")
    expect(bob.locator("#colour-badge")).to_have_attribute("data-colour", "green")

    # Presence shows both, on both pages.
    expect(alice.locator("#online-list li")).to_have_count(2)
    expect(bob.locator("#online-list li")).to_have_count(2)
    assert members(alice) == {"alice (you)", "bob"}
    assert members(bob) == {"alice", "bob (you)"}

    # Typing shows in the other page, and the message ends it.
    alice.type("#text", "hello bo")
    expect(bob.locator("#typing")).to_have_text("alice is typing…")
    alice.type("#text", "b")
    alice.press("#text", "Enter")
    wait_for_texts(bob, ["hello bob"])
    expect(bob.locator("#typing")).to_have_text("")
    send(bob, "hi alice")
    for page in (alice, bob):
        wait_for_texts(page, ["hello bob", "hi alice"])
        assert_gapless(shown(page))
    # The sender sees its own message as stored (seq known, no pending copy left).
    expect(alice.locator("#pending li")).to_have_count(0)
    assert len({message["userId"] for message in shown(alice)}) == 2

    # A new nickname takes effect at once (a new connection that resumes the same user).
    bob_id = shown(bob)[-1]["userId"]
    bob.fill("#nick", "robert")
    bob.press("#nick", "Enter")
    expect(alice.locator("#online-list li", has_text="robert")).to_have_count(1)
    expect(alice.locator("#online-list li")).to_have_count(2)
    send(bob, "call me robert")
    wait_for_texts(alice, ["hello bob", "hi alice", "call me robert"])
    assert shown(alice)[-1]["userId"] == bob_id


def test_markup_in_messages_and_nicknames_is_shown_as_text(
    open_page: Callable[..., Any], blue: ChatServer, green: ChatServer, room: str
) -> None:
    payload = (
        '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
        "<b>bold</b> & &amp; </li><li>"
    )
    mallory = open_page(blue, room, nickname="<i>mallory</i>")
    reader = open_page(green, room, nickname="reader")

    send(mallory, payload)
    for page in (mallory, reader):
        wait_for_texts(page, [payload])
        markup = page.locator("#messages img, #messages script, #messages b, #messages i")
        assert markup.count() == 0
        assert page.locator("#messages li").count() == 1
        expect(page.locator("#messages .nick")).to_have_text("<i>mallory</i>")
        assert page.evaluate("window.__pwned") is None
    expect(reader.locator("#online-list li")).to_have_count(2)
    assert "<i>mallory</i>" in members(reader)
    assert reader.locator("#online-list i").count() == 0


# ---- surviving a restart ------------------------------------------------------------------


def test_a_page_survives_its_server_restarting_without_losing_a_message(
    open_page: Callable[..., Any],
    make_server: Callable[..., ChatServer],
    green: ChatServer,
    room: str,
) -> None:
    own = serving_the_web_client(make_server, "blue")
    page = open_page(own, room, nickname="survivor")
    other = open_page(green, room, nickname="other")
    send(page, "before the restart")
    wait_for_texts(other, ["before the restart"])
    wait_for_texts(page, ["before the restart"])
    my_id = shown(page)[0]["userId"]

    own.stop()  # SIGTERM: the server drains (reconnect hint, close 1012) and exits
    expect(page.locator("#conn-state")).not_to_have_attribute("data-state", "online")
    # While it is down: the other page keeps talking, and this page writes too.
    for n in range(3):
        send(other, f"while down {n}")
    send(page, "written while offline")
    expect(page.locator("#pending li")).to_have_count(1)
    wait_for_texts(other, ["before the restart"] + [f"while down {n}" for n in range(3)])

    own.start()  # the same port
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "online")
    expected = ["before the restart"] + [f"while down {n}" for n in range(3)]
    expected.append("written while offline")
    wait_for_texts(page, expected)
    wait_for_texts(other, expected)
    expect(page.locator("#pending li")).to_have_count(0)

    messages = shown(page)
    assert_gapless(messages)
    assert messages == shown(other)
    # Resumed with its token: still the same user.
    assert messages[0]["userId"] == messages[-1]["userId"] == my_id


# ---- history -----------------------------------------------------------------------------


def test_older_messages_page_in_over_the_api(
    open_page: Callable[..., Any], blue: ChatServer, room: str
) -> None:
    seed_messages(blue, room, 60)
    page = open_page(blue, room, nickname="historian")
    # A fresh join shows the latest page (50) and offers the rest.
    expect(page.locator("#messages li.message")).to_have_count(50)
    assert texts(page)[-1] == "old 60"
    expect(page.locator("#older")).to_be_visible()
    page.click("#older")
    expect(page.locator("#messages li.message")).to_have_count(60)
    assert texts(page) == [f"old {n}" for n in range(1, 61)]
    assert_gapless(shown(page))
    expect(page.locator("#older")).to_be_hidden()


# ---- the page itself -----------------------------------------------------------------------


def test_the_page_carries_a_strict_csp_and_it_is_in_force(
    open_page: Callable[..., Any], browser: Any, blue: ChatServer, room: str
) -> None:
    # Working under the policy: modules, stylesheet and WebSocket load from 'self' (the
    # fixture fails the test on any violation or uncaught error).
    page = open_page(blue, room)
    policy = page.get_attribute('meta[http-equiv="Content-Security-Policy"]', "content")
    assert policy == CSP
    assert page.evaluate("getComputedStyle(document.body).display") == "flex"
    send(page, "under the policy")
    wait_for_texts(page, ["under the policy"])

    # And in force: an inline script is refused (on a page of its own, since this
    # violation is the point).
    context = browser.new_context()
    try:
        probe = context.new_page()
        refusals: list[str] = []
        probe.on("console", lambda message: refusals.append(message.text))
        probe.goto(f"{blue.http}/#{room}")
        probe.evaluate(
            """() => {
                const script = document.createElement('script');
                script.textContent = 'window.__inline = 1';
                document.body.append(script);
            }"""
        )
        for _ in range(50):  # the console event arrives asynchronously
            if any("Content Security Policy" in text for text in refusals):
                break
            probe.wait_for_timeout(100)
        assert any("Content Security Policy" in text for text in refusals), refusals
        assert probe.evaluate("window.__inline") is None
    finally:
        context.close()


def test_on_a_phone_everything_fits_and_every_control_is_labelled(
    open_page: Callable[..., Any], blue: ChatServer, room: str
) -> None:
    page = open_page(blue, room, nickname="phone", viewport={"width": 375, "height": 667})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for selector in ("#text", "#send-form button", "#room-input", "#nick"):
        expect(page.locator(selector)).to_be_in_viewport()
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, button')]
            .filter(el => !el.hidden && el.offsetParent !== null)
            .filter(el => el.tagName === 'INPUT'
                ? el.labels.length === 0 && !el.getAttribute('aria-label')
                : !el.textContent.trim() && !el.getAttribute('aria-label'))
            .map(el => el.id || el.outerHTML.slice(0, 60))"""
    )
    assert unlabelled == []
    send(page, "from a phone")
    wait_for_texts(page, ["from a phone"])
    expect(page.locator("#messages li.message").last).to_be_in_viewport()


# ---- the client's own logic, run in the browser ----------------------------------------


@pytest.fixture(scope="module")
def module_page(browser: Any, blue: ChatServer) -> Any:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{blue.http}/")
    yield page
    context.close()


ROOM_LOG_CASES = {
    "out of order, then in order": (
        [["add", 3, "u1", "a"], ["add", 1, "u1", "b"], ["settle", 3], ["add", 2, "u2", "c"]],
        {"results": [0, 0, 1], "seqs": [1, 2, 3], "after": 3},
    ),
    "duplicates by seq and by sender + msgId": (
        [
            ["add", 1, "u1", "a"],
            ["add", 1, "u2", "b"],
            ["add", 2, "u1", "a"],
            ["add", 2, "u2", "a"],
        ],
        {"results": [0, -1, -1, 1], "seqs": [1, 2], "after": None},
    ),
    "a seq whose write failed is skipped once the replay is over": (
        [["add", 1, "u1", "a"], ["add", 2, "u1", "b"], ["add", 4, "u1", "d"], ["settle", 4]],
        {"results": [0, 1, 2], "seqs": [1, 2, 4], "after": 4},
    ),
    "a seq still in flight at the join is not skipped": (
        [["add", 1, "u1", "a"], ["settle", 2], ["add", 3, "u1", "c"], ["add", 2, "u1", "b"]],
        {"results": [0, 1, 1], "seqs": [1, 2, 3], "after": 3},
    ),
    "older history does not move the resume point": (
        [["add", 51, "u1", "a"], ["settle", 51], ["add", 50, "u1", "b"], ["add", 52, "u1", "c"]],
        {"results": [0, 0, 2], "seqs": [50, 51, 52], "after": 52},
    ),
    "reset forgets everything": (
        [["add", 1, "u1", "a"], ["settle", 1], ["reset"], ["add", 1, "u1", "a"]],
        {"results": [0, 0], "seqs": [1], "after": None},
    ),
}


@pytest.mark.parametrize(
    ("operations", "expected"), ROOM_LOG_CASES.values(), ids=ROOM_LOG_CASES.keys()
)
def test_room_log_orders_dedupes_and_tracks_the_resume_point(
    module_page: Any, operations: list[list[Any]], expected: dict[str, Any]
) -> None:
    outcome = module_page.evaluate(
        """async (operations) => {
            const { RoomLog } = await import('/js/roomlog.js');
            const log = new RoomLog('r');
            const results = [];
            for (const [op, seq, userId, msgId] of operations) {
                if (op === 'add') results.push(log.add({ seq, userId, msgId }));
                if (op === 'settle') log.settle(seq);
                if (op === 'reset') log.reset();
            }
            return { results, seqs: log.seqs, after: log.after ?? null };
        }""",
        operations,
    )
    assert outcome == expected


def test_backoff_grows_is_capped_and_jittered(module_page: Any) -> None:
    bounds = module_page.evaluate(
        """async () => {
            const { backoffDelay } = await import('/js/connection.js');
            return [0, 1, 2, 3, 6, 10, 40].map(
                (n) => [backoffDelay(n, () => 0), backoffDelay(n, () => 0.999999)]);
        }"""
    )
    lows = [low for low, _ in bounds]
    highs = [high for _, high in bounds]
    assert lows[:4] == [250, 500, 1000, 2000]
    assert highs[:4] == [500, 1000, 2000, 4000]
    assert lows[-1] == 15000 and highs[-1] == 30000  # capped at 30 s, never below half
