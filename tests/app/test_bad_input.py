"""Bad input: each gets a clear error frame or close code, nothing is stored for it, and
the server keeps serving everyone else."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Close
from websockets.http11 import Response
from websockets.uri import parse_uri

from tests.app.helpers import ChatClient, ChatServer, get_json, seed_messages, stored

SEND = {"type": "send", "text": "hi", "msgId": "bad-input-1"}


def still_serving(server: ChatServer, room: str) -> None:
    """Another client signs in, joins and sends as if nothing happened."""
    assert get_json(server.http + "/health")[0] == 200
    with ChatClient(server.ws) as other:
        other.join(room + "-ok")
        assert other.send(room + "-ok", "fine", "still-serving-1")["duplicate"] is False


@pytest.fixture(scope="module")
def silent(blue: ChatServer) -> Iterator[tuple[ChatClient, float]]:
    """A client that connects and never sends `auth`; checked by the module's last test."""
    client = ChatClient(blue.ws, auth=False)
    yield client, time.monotonic()
    client.close()


def test_a_client_that_never_authenticates_is_being_timed(
    silent: tuple[ChatClient, float],
) -> None:
    client, _ = silent
    assert client.ws.close_code is None


def test_a_frame_over_16_kib_closes_the_connection_with_1009(blue: ChatServer, room: str) -> None:
    with ChatClient(blue.ws) as client:
        client.join(room)
        client.send_json({**SEND, "room": room, "text": "x" * (16 * 1024)})
        assert client.close_code() == 1009
    still_serving(blue, room)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("this is not json", "invalid_json"),
        ('{"type": "send", "room": ', "invalid_json"),
        ("[]", "invalid_json"),
        ('{"room": "a"}', "invalid_field"),
        ('{"type": "shout", "room": "{room}"}', "unknown_type"),
        ('{"type": "send", "text": "hi", "msgId": "bad-input-1"}', "invalid_field"),
        ('{"type": "send", "room": "{room}", "msgId": "bad-input-1"}', "invalid_field"),
        ('{"type": "send", "room": "{room}", "text": "hi"}', "invalid_field"),
        (
            '{"type": "send", "room": "{room}", "text": ["hi"], "msgId": "bad-input-1"}',
            "invalid_field",
        ),
        ('{"type": "send", "room": "{room}", "text": "hi", "msgId": 12345678}', "invalid_field"),
        ('{"type": "send", "room": "{room}", "text": "hi", "msgId": "no"}', "invalid_field"),
        ('{"type": "send", "room": "{room}", "text": "  ", "msgId": "bad-input-1"}', "empty_text"),
        (
            '{"type": "send", "room": "{room}", "text": "{long}", "msgId": "bad-input-1"}',
            "text_too_long",
        ),
        (
            '{"type": "send", "room": "No Such Room", "text": "hi", "msgId": "bad-input-1"}',
            "invalid_room",
        ),
        ('{"type": "join", "room": "../etc"}', "invalid_room"),
        ('{"type": "join", "room": "{room}", "after": "7"}', "invalid_field"),
        (
            '{"type": "send", "room": "{room}-other", "text": "hi", "msgId": "bad-input-1"}',
            "not_joined",
        ),
        ('{"type": "leave", "room": "{room}-other"}', "not_joined"),
        ('{"type": "typing", "room": "{room}-other"}', "not_joined"),
        ('{"type": "auth"}', "already_authenticated"),
    ],
)
def test_a_bad_frame_gets_an_error_and_nothing_is_stored(
    blue: ChatServer,
    chat_tables: dict[str, str],
    dynamodb: Any,
    room: str,
    frame: str,
    code: str,
) -> None:
    with ChatClient(blue.ws) as client:
        client.join(room)
        client.send_raw(frame.replace("{room}", room).replace("{long}", "y" * 2001))
        error = client.expect("error")
        assert error["code"] == code and error["message"]
        if "msgId" in error:
            assert error["msgId"] == "bad-input-1"
        # The connection goes on.
        client.send_json({"type": "ping", "id": 1})
        assert client.expect("pong") == {"type": "pong", "id": 1}
    assert stored(dynamodb, chat_tables["messages"], room) == []
    assert stored(dynamodb, chat_tables["messages"], room + "-other") == []


def test_binary_frames_are_refused_and_ignored(blue: ChatServer, room: str) -> None:
    with ChatClient(blue.ws) as client:
        client.send_raw(json.dumps({"type": "join", "room": room}).encode())
        assert client.expect("error")["code"] == "binary_not_supported"
        joined, _, _ = client.join(room)
        assert joined["room"] == room


def test_html_and_script_are_stored_and_delivered_as_text(
    blue: ChatServer, green: ChatServer, chat_tables: dict[str, str], dynamodb: Any, room: str
) -> None:
    text = '<script>alert("x")</script><img src=x onerror=alert(1)> & &amp; \u202e'
    with ChatClient(blue.ws) as ann, ChatClient(green.ws) as bob:
        ann.join(room)
        bob.join(room)
        ann.send(room, text, "markup-0001")
        assert bob.wait_messages(room, 1)[0]["text"] == text
    [item] = stored(dynamodb, chat_tables["messages"], room)
    assert item["text"]["S"] == text


def test_at_most_ten_rooms(blue: ChatServer, room: str) -> None:
    with ChatClient(blue.ws) as client:
        for index in range(10):
            client.join(f"{room}-{index}")
        client.send_json({"type": "join", "room": f"{room}-10"})
        assert client.expect("error", room=f"{room}-10")["code"] == "too_many_rooms"
        client.send_json({"type": "leave", "room": f"{room}-0"})
        client.expect("left")
        client.join(f"{room}-10")


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ({"type": "join", "room": "general"}, "auth_required"),
        ({"type": "auth", "nickname": "a\u0000b"}, "invalid_field"),
        ({"type": "auth", "nickname": "n" * 25}, "invalid_field"),
        ({"type": "auth", "token": 42}, "invalid_field"),
    ],
)
def test_without_a_valid_auth_first_the_connection_closes_with_4001(
    blue: ChatServer, first: dict[str, Any], code: str
) -> None:
    with ChatClient(blue.ws, auth=False) as client:
        client.send_json(first)
        assert client.expect("error")["code"] == code
        assert client.close_code() == 4001


def test_flooding_gets_errors_then_4008(
    blue: ChatServer, chat_tables: dict[str, str], dynamodb: Any, room: str
) -> None:
    with ChatClient(blue.ws) as client:
        client.join(room)
        for index in range(40):
            client.send_json(
                {
                    "type": "send",
                    "room": room,
                    "text": f"flood {index}",
                    "msgId": f"flood-{index:04d}",
                }
            )
        assert client.close_code() == 4008
        frames = client.received
    limited = [f["msgId"] for f in frames if f["type"] == "error" and f["code"] == "rate_limited"]
    assert len(limited) == 20
    # The burst it was allowed (10, and what the bucket refilled meanwhile) is stored,
    # and acknowledged as long as the connection lasted; nothing refused is stored.
    processed = [f"flood-{index:04d}" for index in range(int(limited[-1][-4:]) + 1)]
    accepted = [msg_id for msg_id in processed if msg_id not in limited]
    assert 10 <= len(accepted) <= 12
    deadline = time.monotonic() + 10
    while len(stored(dynamodb, chat_tables["messages"], room)) < len(accepted):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    saved = sorted(i["msgId"]["S"] for i in stored(dynamodb, chat_tables["messages"], room))
    assert saved == accepted
    assert {f["msgId"] for f in frames if f["type"] == "ack"} <= set(accepted)
    still_serving(blue, room)


class RawClient:
    """A WebSocket client on a socket with a tiny receive buffer, that reads only when told."""

    def __init__(self, url: str) -> None:
        uri = parse_uri(url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((uri.host, uri.port))
        self.protocol = ClientProtocol(uri, max_size=None)
        self.protocol.send_request(self.protocol.connect())
        self.flush()
        while not any(isinstance(e, Response) for e in self.protocol.events_received()):
            self.protocol.receive_data(self.sock.recv(65536))

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)

    def send(self, frame: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(frame).encode())
        self.flush()

    def read_until_closed(self, timeout: float) -> Close | None:
        self.sock.settimeout(timeout)
        try:
            while self.protocol.close_rcvd is None:
                data = self.sock.recv(1 << 20)
                if not data:
                    break
                self.protocol.receive_data(data)
                self.protocol.events_received()
        except OSError:
            pass
        return self.protocol.close_rcvd

    def close(self) -> None:
        self.sock.close()


def test_a_client_that_never_reads_is_closed_with_4009(blue: ChatServer, room: str) -> None:
    slow = RawClient(blue.ws)
    senders = [ChatClient(blue.ws) for _ in range(10)]
    try:
        slow.send({"type": "auth"})
        slow.send({"type": "join", "room": room})
        for sender in senders:
            sender.join(room)
        big = "\U0001f600" * 2000  # 8 KB of UTF-8 per message
        sent = 0
        deadline = time.monotonic() + 30
        while not any(r.get("event") == "slow_consumer" for r in blue.logs()):
            assert time.monotonic() < deadline, "the slow client was never cut off"
            for sender in senders:
                for _ in range(5 if sent == 0 else 1):
                    sender.send_json(
                        {"type": "send", "room": room, "text": big, "msgId": f"slow-{sent:06d}"}
                    )
                    sent += 1
            time.sleep(0.2)
            for sender in senders:
                sender.drain(0.01)
        # It reads at last: what was buffered, then the close frame.
        close = slow.read_until_closed(timeout=10)
        assert close is not None and close.code == 4009
        # The others were not affected.
        for sender in senders:
            sender.drain(0.05)
            assert sender.ws.close_code is None
            assert not [f for f in sender.received if f["type"] == "error"]
    finally:
        slow.close()
        for sender in senders:
            sender.close()
    still_serving(blue, room)


def test_a_long_replay_goes_at_the_pace_of_the_client(
    blue: ChatServer, chat_tables: dict[str, str], dynamodb: Any, room: str
) -> None:
    # 300 messages of 8 KB: a join from seq 0 replays 2.4 MB, more than the 1 MiB a
    # live delivery may leave unsent; a client that reads gets all of it.
    seed_messages(dynamodb, chat_tables, room, 300, "{seq} " + "\U0001f600" * 1990)
    with ChatClient(blue.ws) as client:
        joined, replay, _ = client.join(room, after=0)
        assert joined["recovered"] is True
        assert [f["seq"] for f in replay] == list(range(1, 301))


def test_the_client_that_never_authenticated_was_closed_with_4001(
    silent: tuple[ChatClient, float],
) -> None:
    client, connected_at = silent
    code = client.close_code(timeout=max(1.0, connected_at + 12 - time.monotonic()))
    assert code == 4001
    assert time.monotonic() - connected_at >= 9.5
    assert [f["code"] for f in client.received] == ["auth_required"]
