"""GET /api/me/messages: a user's own messages in every room, from the messages table's
`userId-timestamp-index` (the seed's index, written with every message), against the
shared blue and green server processes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from chatapp import tokens

from tests.app.helpers import SECRET, ChatClient, ChatServer, get_json


def page(server: ChatServer, token: str, query: str = "") -> tuple[int, dict[str, Any]]:
    return get_json(f"{server.http}/api/me/messages{query}", {"Authorization": f"Bearer {token}"})


def other_room() -> str:
    return f"r-{uuid.uuid4().hex[:12]}"


def test_a_user_reads_their_messages_of_every_room_newest_first_page_by_page(
    blue: ChatServer, green: ChatServer, room: str
) -> None:
    second = other_room()
    started_ms = int(time.time() * 1000)
    with ChatClient(blue.ws, nickname="ann") as ann, ChatClient(green.ws, nickname="bob") as bob:
        ann.join(room)
        ann.join(second)
        bob.join(room)
        sent = []
        for index, where in enumerate([room, second, room, second, room]):
            ann.send(where, f"ann {index}", f"mine-{uuid.uuid4().hex[:12]}")
            sent.append((where, f"ann {index}"))
        bob.send(room, "bob's", f"bobs-{uuid.uuid4().hex[:12]}")
        ann_token, bob_token, ann_id = ann.token, bob.token, ann.user_id

    # Any task answers (the green one here), from the index: every room, only ann's.
    newest_first = list(reversed(sent))
    status, first = page(green, ann_token)
    assert status == 200 and first["userId"] == ann_id
    assert [(m["room"], m["text"]) for m in first["messages"][:5]] == newest_first
    assert all(m["userId"] == ann_id for m in first["messages"])

    # Pages of 2 follow `next` without a gap or a repeat.
    seen: list[tuple[str, str]] = []
    query = "?limit=2"
    while len(seen) < 5:
        status, body = page(blue, ann_token, query)
        assert status == 200 and len(body["messages"]) <= 2
        seen += [(m["room"], m["text"]) for m in body["messages"]]
        assert body["next"] is not None or len(seen) >= 5
        query = f"?limit=2&before={body['next']}"
    assert seen[:5] == newest_first
    if body["next"] is not None:  # what is older was not written by this test
        _, rest = page(blue, ann_token, f"?limit=100&before={body['next']}")
        assert all(m["ts"] < started_ms for m in rest["messages"])

    status, bobs = page(blue, bob_token)
    assert status == 200 and [m["text"] for m in bobs["messages"]][:1] == ["bob's"]
    assert all(m["userId"] != ann_id for m in bobs["messages"])


def test_messages_in_the_same_millisecond_are_all_paged(
    blue: ChatServer, dynamodb: Any, chat_tables: dict[str, str]
) -> None:
    """Two messages in one millisecond take fractions of it (store.py): `next` keeps the
    fraction, so a page boundary between them loses neither."""
    user = str(10**12 + int(uuid.uuid4().int % 10**9))  # a user id the counter never gives
    keys = ["1750000000000", "1750000000000.001", "1750000000000.002", "1749999999999"]
    for index, key in enumerate(keys):
        dynamodb.put_item(
            TableName=chat_tables["messages"],
            Item={
                "roomId": {"S": f"same-ms-{index}"},
                "timestamp": {"N": key},
                "userId": {"S": user},
                "seq": {"N": "1"},
                "msgId": {"S": f"same-ms-{index:04d}"},
                "text": {"S": key},
                "nickname": {"S": "cat"},
                "colour": {"S": "blue"},
                "task": {"S": "seed"},
            },
        )
    token = tokens.issue(SECRET, user, "cat", time.time())
    texts, nexts, query = [], [], "?limit=1"
    for _ in range(len(keys)):
        status, body = page(blue, token, query)
        assert status == 200
        texts += [m["text"] for m in body["messages"]]
        nexts.append(body["next"])
        query = f"?limit=1&before={body['next']}"
    assert texts == sorted(keys, key=float, reverse=True)
    assert nexts == ["1750000000000.002", "1750000000000.001", "1750000000000", None]


def test_without_a_valid_token_nothing_is_read(blue: ChatServer) -> None:
    url = f"{blue.http}/api/me/messages"
    status, body = get_json(url)
    assert (status, body["error"]) == (401, "auth_required")
    status, body = get_json(url, {"Authorization": "Bearer nope.nope"})
    assert (status, body["error"]) == (401, "invalid_token")
    expired = tokens.issue(SECRET, "1", "ann", time.time() - tokens.TOKEN_LIFETIME - 1)
    status, body = get_json(url, {"Authorization": f"Bearer {expired}"})
    assert (status, body["error"]) == (401, "invalid_token")


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=101",
        "?limit=x",
        "?before=0",
        "?before=-1",
        "?before=abc",
        "?before=1.2345",
        "?before=12345678901234567",
        "?before=",
    ],
)
def test_a_bad_before_or_limit_is_one_clear_error(blue: ChatServer, query: str) -> None:
    token = tokens.issue(SECRET, "1", "ann", time.time())
    status, body = page(blue, token, query)
    assert (status, body["error"]) == (400, "invalid_field"), query
    assert body["message"].startswith(("before must", "limit must"))
