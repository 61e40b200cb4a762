"""The chat across two server processes (blue and green) sharing Redis and the tables."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from chatapp import tokens
from chatapp.aws import Aws
from chatapp.store import Store

from chatops.emulator.dataplane.elasticache import RedisProcess
from tests.app.helpers import (
    SECRET,
    ChatClient,
    ChatServer,
    get_json,
    seed_messages,
    store_config,
    stored,
)
from tests.helpers import REDIS_PASSWORD, wait_for


def texts(frames: list[dict[str, Any]]) -> list[str]:
    return [frame["text"] for frame in frames]


def test_blue_and_green_members_of_a_room_see_each_others_messages(
    blue: ChatServer, green: ChatServer, room: str
) -> None:
    with ChatClient(blue.ws, nickname="ann") as ann, ChatClient(green.ws, nickname="bob") as bob:
        assert (ann.hello["colour"], bob.hello["colour"]) == ("blue", "green")
        joined, replay, _ = ann.join(room)
        assert joined == {
            "type": "joined",
            "room": room,
            "seq": 0,
            "recovered": False,
            "reset": True,
        }
        assert replay == []
        _, _, presence = bob.join(room)
        assert {m["nickname"] for m in presence["members"]} == {"ann", "bob"}
        # ann hears of bob through a presence snapshot.
        ann.expect("presence", where=lambda f: len(f["members"]) == 2, room=room)

        ack = ann.send(room, "hello from blue", "blue-msg-1")
        assert ack == {
            "type": "ack",
            "room": room,
            "msgId": "blue-msg-1",
            "seq": 1,
            "ts": ack["ts"],
            "duplicate": False,
        }
        assert abs(ack["ts"] - time.time() * 1000) < 10_000
        bob.send(room, "hello from green", "green-msg-1")
        for client in (ann, bob):
            frames = client.wait_messages(room, 2)
            assert [(f["seq"], f["text"], f["colour"]) for f in frames] == [
                (1, "hello from blue", "blue"),
                (2, "hello from green", "green"),
            ]
            assert all(f["replay"] is False for f in frames)
        assert ann.messages(room)[0]["userId"] == ann.user_id
        assert ann.messages(room)[1]["nickname"] == "bob"


def test_messages_arrive_in_seq_order_on_both_colours(
    blue: ChatServer, green: ChatServer, room: str
) -> None:
    with ChatClient(blue.ws) as sender, ChatClient(green.ws) as far, ChatClient(blue.ws) as near:
        for client in (sender, far, near):
            client.join(room)
        for index in range(10):
            sender.send_json(
                {"type": "send", "room": room, "text": f"m{index}", "msgId": f"order-{index:04d}"}
            )
        acks = [sender.expect("ack") for _ in range(10)]
        assert [ack["seq"] for ack in acks] == list(range(1, 11))
        for client in (sender, far, near):
            frames = client.wait_messages(room, 10)
            assert [f["seq"] for f in frames] == list(range(1, 11))
            assert texts(frames) == [f"m{index}" for index in range(10)]


def test_typing_and_presence_reach_the_other_colour(
    blue: ChatServer, green: ChatServer, room: str
) -> None:
    with ChatClient(blue.ws, nickname="ann") as ann, ChatClient(green.ws, nickname="bob") as bob:
        ann.join(room)
        bob.join(room)
        ann.send_json({"type": "typing", "room": room})
        assert bob.expect("typing", room=room)["nickname"] == "ann"
        bob.send_json({"type": "leave", "room": room})
        bob.expect("left", room=room)
        snapshot = ann.expect("presence", where=lambda f: len(f["members"]) == 1, room=room)
        assert snapshot["members"] == [{"userId": ann.user_id, "nickname": "ann"}]


def test_puts_in_the_same_millisecond_from_two_tasks_all_survive(
    chat_tables: dict[str, str],
    emulator_endpoint: str,
    dynamodb: Any,
    room: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = store_config(monkeypatch, emulator_endpoint, chat_tables)
    frozen = 1_700_000_000.123
    monkeypatch.setattr(time, "time", lambda: frozen)

    async def two_puts() -> list[Any]:
        # Two tasks: each knows its own fractions, so they collide in the table.
        aws = Aws(config.aws_region)
        one, two = Store(config, aws, task="t1"), Store(config, aws, task="t2")
        return list(
            await asyncio.gather(
                one.put_message(room, 1, "same-ms-1", "1", "ann", "first"),
                two.put_message(room, 2, "same-ms-2", "2", "bob", "second"),
                two.put_message(room, 3, "same-ms-3", "2", "bob", "third"),
                one.put_message(room, 4, "same-ms-4", "1", "ann", "fourth"),
            )
        )

    messages = asyncio.run(two_puts())
    assert {m.ts for m in messages} == {1_700_000_000_123}
    items = stored(dynamodb, chat_tables["messages"], room)
    assert sorted(item["timestamp"]["N"] for item in items) == [
        "1700000000123",
        "1700000000123.001",
        "1700000000123.002",
        "1700000000123.003",
    ]
    assert sorted(item["text"]["S"] for item in items) == ["first", "fourth", "second", "third"]


def test_a_reconnecting_client_gets_exactly_what_it_missed_from_the_stream(
    blue: ChatServer, green: ChatServer, room: str
) -> None:
    with ChatClient(blue.ws, nickname="ann") as ann:
        ann.join(room)
        ann.send(room, "before", "recover-0001")
        token, last = ann.token, ann.wait_messages(room, 1)[-1]["seq"]
    with ChatClient(green.ws) as bob:
        bob.join(room)
        for index in range(3):
            bob.send(room, f"missed {index}", f"recover-1{index:03d}")
    with ChatClient(green.ws, token=token) as ann:
        assert ann.hello["resumed"] is True and ann.user_id == ann.hello["userId"]
        joined, replay, _ = ann.join(room, after=last)
        assert (joined["recovered"], joined["reset"], joined["seq"]) == (True, False, 4)
        assert texts(replay) == ["missed 0", "missed 1", "missed 2"]
        assert [f["seq"] for f in replay] == [2, 3, 4]
        ann.send(room, "after", "recover-0002")
        assert [f["seq"] for f in ann.drain() if f.get("type") == "message"] == [5]
    assert green.wait_log("joined", room=room, after=1)["source"] == "log"


def test_recovery_falls_back_to_dynamodb_when_the_stream_lost_messages(
    blue: ChatServer, green: ChatServer, redis_server: RedisProcess, room: str
) -> None:
    with ChatClient(blue.ws) as ann:
        ann.join(room)
        for index in range(4):
            ann.send(room, f"m{index}", f"fallback-{index:04d}")
    # Redis lost the room's log (trimmed, flushed, restarted): DynamoDB still has it all.
    client = redis.Redis(port=redis_server.port, password=REDIS_PASSWORD)
    assert client.delete(f"chat:{{{room}}}:log") == 1
    client.close()
    with ChatClient(green.ws) as bob:
        joined, replay, _ = bob.join(room, after=1)
        assert (joined["recovered"], joined["reset"]) == (True, False)
        assert [(f["seq"], f["text"]) for f in replay] == [(2, "m1"), (3, "m2"), (4, "m3")]
    assert green.wait_log("joined", room=room, after=1)["source"] == "dynamodb"


def test_a_gap_over_500_resets_the_room_to_its_latest_50(
    blue: ChatServer,
    chat_tables: dict[str, str],
    dynamodb: Any,
    room: str,
) -> None:
    seed_messages(dynamodb, chat_tables, room, 520)
    with ChatClient(blue.ws) as ann:
        joined, replay, _ = ann.join(room, after=10)
        assert (joined["seq"], joined["recovered"], joined["reset"]) == (520, False, True)
        assert [f["seq"] for f in replay] == list(range(471, 521))
        # Within 500: exactly the missing ones, from DynamoDB (the stream never had them).
        joined, replay, _ = ann.join(room, after=100)
        assert (joined["recovered"], joined["reset"]) == (True, False)
        assert [f["seq"] for f in replay] == list(range(101, 521))


def test_a_retried_send_is_stored_and_delivered_once(
    blue: ChatServer,
    green: ChatServer,
    chat_tables: dict[str, str],
    dynamodb: Any,
    room: str,
) -> None:
    with ChatClient(green.ws) as watcher:
        watcher.join(room)
        with ChatClient(blue.ws) as ann:
            ann.join(room)
            first = ann.send(room, "only once", "retried-msg-1")
            again = ann.send(room, "only once", "retried-msg-1")
            assert again == {**first, "duplicate": True}
            token = ann.token
        # The retry after a reconnect lands on the other colour: Redis remembers it.
        with ChatClient(green.ws, token=token) as ann:
            ann.join(room, after=first["seq"])
            third = ann.send(room, "only once", "retried-msg-1")
            assert (third["seq"], third["duplicate"]) == (first["seq"], True)
            ann.send(room, "next", "retried-msg-2")
        frames = watcher.wait_messages(room, 2)
        time.sleep(0.3)
        watcher.drain()
        assert texts(watcher.messages(room)) == ["only once", "next"]
        assert frames[0]["seq"] == first["seq"]
    assert [item["msgId"]["S"] for item in stored(dynamodb, chat_tables["messages"], room)] == [
        "retried-msg-1",
        "retried-msg-2",
    ]


def test_the_token_keeps_the_identity_on_the_other_colour(
    blue: ChatServer, green: ChatServer, room: str
) -> None:
    with ChatClient(blue.ws, nickname="ann") as first:
        user, token = first.user_id, first.token
        assert first.hello["resumed"] is False
    with ChatClient(green.ws, token=token) as again:
        assert (again.user_id, again.hello["nickname"], again.hello["resumed"]) == (
            user,
            "ann",
            True,
        )
        assert tokens.verify(SECRET, again.token, time.time()).user_id == user
        again.join(room)
        again.send(room, "it is me", "identity-0001")
        assert again.wait_messages(room, 1)[0]["userId"] == user
    with ChatClient(blue.ws, token=token, nickname="annie") as renamed:
        assert (renamed.user_id, renamed.hello["nickname"]) == (user, "annie")
        identity = tokens.verify(SECRET, renamed.token, time.time())
        assert (identity.user_id, identity.nickname) == (user, "annie")
    with ChatClient(blue.ws) as other:
        assert other.user_id != user and int(other.user_id) > 0


@pytest.mark.parametrize(
    "make_token",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: tokens.issue(
            "an-attackers-secret-of-32-chars!!", "1", "mallory", time.time()
        ),
        lambda token: tokens.issue(SECRET, "1", "old", time.time() - tokens.TOKEN_LIFETIME - 1),
        lambda token: "garbage",
    ],
    ids=["tampered", "forged", "expired", "malformed"],
)
def test_a_forged_or_expired_token_is_refused_with_4003(
    blue: ChatServer, make_token: Callable[[str], str]
) -> None:
    with ChatClient(blue.ws) as real:
        token = real.token
    with ChatClient(blue.ws, auth=False) as client:
        client.send_json({"type": "auth", "token": make_token(token)})
        assert client.expect("error")["code"] == "invalid_token"
        assert client.close_code() == 4003


def test_history_pages_need_a_token(blue: ChatServer, room: str) -> None:
    with ChatClient(blue.ws) as ann:
        ann.join(room)
        for index in range(5):
            ann.send(room, f"h{index}", f"history-{index:04d}")
        auth = {"Authorization": f"Bearer {ann.token}"}
    url = f"{blue.http}/api/rooms/{room}/messages"
    status, page = get_json(url + "?limit=2", auth)
    assert status == 200 and page["room"] == room and page["more"] is True
    assert [m["seq"] for m in page["messages"]] == [4, 5]
    assert set(page["messages"][0]) == {
        "room",
        "seq",
        "msgId",
        "userId",
        "nickname",
        "text",
        "ts",
        "colour",
    }
    status, page = get_json(url + "?before=4&limit=100", auth)
    assert (status, [m["text"] for m in page["messages"]], page["more"]) == (
        200,
        ["h0", "h1", "h2"],
        False,
    )
    assert get_json(url)[0] == 401
    assert get_json(url, {"Authorization": "Bearer nope.nope"})[0] == 401
    for query in ("?limit=0", "?limit=101", "?limit=x", "?before=-1", "?before=0"):
        status, body = get_json(url + query, auth)
        assert (status, body["error"]) == (400, "invalid_field"), query
    status, body = get_json(f"{blue.http}/api/rooms/Bad%20Room/messages", auth)
    assert (status, body["error"]) == (400, "invalid_room")


def test_health_and_info(blue: ChatServer) -> None:
    status, health = get_json(blue.http + "/health")
    assert status == 200
    assert health == {
        "status": "ok",
        "colour": "blue",
        "version": "test",
        "connections": health["connections"],
        "redis": "up",
    }
    with ChatClient(blue.ws):
        info = blue.info()
        assert info["connections"] >= 1 and info["draining"] is False
        assert set(info) == {"colour", "version", "task", "connections", "draining"}
    assert get_json(blue.http + "/nope")[0] == 404
    assert json.dumps(info).find(SECRET) == -1


def test_each_connection_has_a_row_with_a_ttl_until_it_closes(
    green: ChatServer, chat_tables: dict[str, str], dynamodb: Any
) -> None:
    def row(connection_id: str) -> dict[str, Any] | None:
        item = dynamodb.get_item(
            TableName=chat_tables["connections"],
            Key={"connectionId": {"S": connection_id}},
            ConsistentRead=True,
        ).get("Item")
        return dict(item) if item else None

    with ChatClient(green.ws, nickname="rowan") as client:
        # Written in the background once `hello` is out: the client does not wait for it.
        item = wait_for(lambda: row(client.hello["connectionId"]), 5, "the connection's row")
        assert item["userId"] == {"S": client.user_id}
        assert (item["colour"], item["nickname"]) == ({"S": "green"}, {"S": "rowan"})
        assert item["task"] == {"S": client.hello["task"]}
        assert abs(int(item["ttl"]["N"]) - (time.time() + 600)) < 60
        assert abs(int(item["connectedAt"]["N"]) - time.time() * 1000) < 60_000
        by_user = dynamodb.query(
            TableName=chat_tables["connections"],
            IndexName="userId-index",
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": client.user_id}},
        )["Items"]
        assert [i["connectionId"]["S"] for i in by_user] == [client.hello["connectionId"]]
        connection_id = client.hello["connectionId"]
    deadline = time.monotonic() + 5
    while row(connection_id) is not None:
        assert time.monotonic() < deadline, "the row outlived its connection"
        time.sleep(0.05)
