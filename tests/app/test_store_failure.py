"""DynamoDB failing a put: the sender gets store_failed, nothing unstored is delivered,
and the retry (same msgId) is stored once, under the seq the failed attempt got."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from chatapp.tables import SCHEMAS, create_tables

from tests.app.helpers import ChatClient, ChatServer, stored


def test_a_failed_put_is_retried_under_the_same_seq_and_stored_once(
    make_server: Callable[..., ChatServer], dynamodb: Any, room: str
) -> None:
    tables = create_tables(dynamodb, f"chatfail-{uuid.uuid4().hex[:8]}")
    server = make_server(
        "blue",
        MESSAGES_TABLE=tables["messages"],
        CONNECTIONS_TABLE=tables["connections"],
        USER_COUNTER_TABLE=tables["user-counter"],
    )
    try:
        with ChatClient(server.ws) as ann, ChatClient(server.ws) as bob:
            ann.join(room)
            bob.join(room)
            assert ann.send(room, "first", "fail-0001")["seq"] == 1

            # The messages table goes away: the seq is allocated, the put fails.
            dynamodb.delete_table(TableName=tables["messages"])
            ann.send_json({"type": "send", "room": room, "text": "second", "msgId": "fail-0002"})
            error = ann.expect("error", msgId="fail-0002")
            assert error["code"] == "store_failed"
            bob.drain(0.3)
            assert [f["seq"] for f in bob.messages(room)] == [1]  # nothing unstored goes out
            # Back: the retry stores it under the seq the failed attempt got (2).
            recreate_messages_table(dynamodb, tables)
            retry = ann.send(room, "second", "fail-0002")
            assert (retry["seq"], retry["duplicate"]) == (2, False)
            [item] = stored(dynamodb, tables["messages"], room)  # (1 went with the table)
            assert (item["msgId"]["S"], item["seq"]["N"]) == ("fail-0002", "2")

            # A put that landed although it reported a failure: the retry finds it.
            dynamodb.delete_table(TableName=tables["messages"])
            ann.send_json({"type": "send", "room": room, "text": "third", "msgId": "fail-0003"})
            assert ann.expect("error", msgId="fail-0003")["code"] == "store_failed"
            recreate_messages_table(dynamodb, tables)
            landed = {
                "roomId": {"S": room},
                "timestamp": {"N": str(int(time.time() * 1000))},
                "userId": {"S": ann.user_id},
                "seq": {"N": "3"},
                "msgId": {"S": "fail-0003"},
                "text": {"S": "third"},
                "nickname": {"S": ann.hello["nickname"]},
                "colour": {"S": "blue"},
                "task": {"S": "t"},
            }
            dynamodb.put_item(TableName=tables["messages"], Item=landed)
            again = ann.send(room, "third", "fail-0003")
            assert (again["seq"], again["duplicate"]) == (3, True)
            assert ann.send(room, "fourth", "fail-0004")["seq"] == 4

            bob.wait_messages(room, 4)
            time.sleep(0.3)
            bob.drain()
            assert [(f["seq"], f["text"]) for f in bob.messages(room)] == [
                (1, "first"),
                (2, "second"),
                (3, "third"),
                (4, "fourth"),
            ]
        # (The second outage took the first two with the table.)
        items = stored(dynamodb, tables["messages"], room)
        assert sorted(i["msgId"]["S"] for i in items) == ["fail-0003", "fail-0004"]
    finally:
        server.stop()


def recreate_messages_table(dynamodb: Any, tables: dict[str, str]) -> None:
    """Recreate only the messages table, as the seed schema defines it."""
    dynamodb.create_table(
        TableName=tables["messages"], BillingMode="PAY_PER_REQUEST", **SCHEMAS["messages"]
    )
