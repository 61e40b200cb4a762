"""DynamoDB: what must last. The three tables of the seed schema, through boto3.

Every call goes through `Aws` (a bounded thread pool, a deadline per call).

- user-counter: `counterId = "userId"` hands out user ids, `counterId = "room#<room>"`
  a room's seqs, both with `UpdateItem ADD currentValue n` (atomic, never repeats).
  Sends to one room that wait for a seq together share one call: `ADD n` hands out
  the n seqs up to the new value, in the order the sends asked.
- messages: PK `roomId`, SK `timestamp` (epoch ms). PutItem is conditional on
  `attribute_not_exists(roomId)`: nothing is ever overwritten; a second message of
  the room in the same millisecond takes `ms.001`, then `ms.002`, ... (this process
  never tries a fraction it already used; another task's put can still collide).
- connections: one row per open WebSocket, with a `ttl` refreshed while it lives.
- messages' `userId-timestamp-index` (USER_INDEX, the seed's): a user's messages across
  rooms, newest first (`messages_of_user`, GET /api/me/messages). Index reads are
  eventually consistent: a message stored a moment ago may not be listed yet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions

from chatapp.aws import CALL_TIMEOUT, Aws, AwsError
from chatapp.config import Config
from chatapp.protocol import MAX_REPLAY, Message
from chatapp.recovery import PUT_DEADLINE_MS
from chatapp.tasks import TaskSet

PAGE_SIZE = 100
USER_INDEX = "userId-timestamp-index"
CONNECTION_TTL = 600  # seconds a connections row outlives its last refresh
ROW_WRITERS = 4
MAX_TIEBREAK = 999  # fractions of a millisecond tried before giving up
MAX_ROOMS_TRACKED = 10_000  # rooms whose last put's fraction is remembered
# Replay reads on past the first message at or below `after`, this far back (ms) or
# this many such messages: a message can be stored a little later than one with a
# higher seq (the seq is allocated before the put, on whichever task).
ORDER_SLACK_MS = 2_000
ORDER_SLACK_COUNT = 50
# Items read beyond what a page needs, for messages stored a little out of seq order.
ORDER_SLACK_PAGE = 10
# No query reads more than this many items (a history page far back in a busy room).
MAX_SCAN = 5_000

Item = dict[str, Any]


def _message(item: Item) -> Message:
    timestamp = item["timestamp"]["N"]
    return Message(
        room=item["roomId"]["S"],
        seq=int(item["seq"]["N"]),
        msg_id=item.get("msgId", {}).get("S", ""),
        user_id=item["userId"]["S"],
        nickname=item.get("nickname", {}).get("S", ""),
        text=item.get("text", {}).get("S", ""),
        ts=int(timestamp.split(".")[0]),
        colour=item.get("colour", {}).get("S", ""),
    )


def _fail(futures: list[asyncio.Future[int]], error: Exception) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(error)


class Store:
    def __init__(self, config: Config, aws: Aws, *, task: str) -> None:
        self.config = config
        self.task = task
        self._aws = aws
        self._client = aws.client("dynamodb")

        # Connection rows are bookkeeping: they never hold more than a few of the
        # pool's threads, so a reconnect storm cannot delay the messages.
        self._rows = asyncio.Semaphore(ROW_WRITERS)
        # Per room with a seq call in flight: the sends waiting for the next one.
        self._seq_waiters: dict[str, list[asyncio.Future[int]]] = {}
        self._seq_tasks = TaskSet("seqs")
        # Per room: the millisecond of this process's last put and the fraction it took.
        self._fractions: dict[str, tuple[int, int]] = {}

    async def close(self) -> None:
        await self._seq_tasks.cancel_all()

    async def _call(self, function: Callable[..., Any], **kwargs: Any) -> Any:
        return await self._aws.call(function, **kwargs)

    async def _row_call(self, function: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                async with self._rows:
                    return await self._aws.call(function, **kwargs)
        except TimeoutError:
            raise AwsError("connections table busy: row write skipped") from None

    # Counters --------------------------------------------------------------------

    async def _increment(self, counter_id: str, by: int = 1) -> int:
        """Add `by` to a counter; returns its new value (the last of `by` new numbers)."""
        result = await self._call(
            self._client.update_item,
            TableName=self.config.user_counter_table,
            Key={"counterId": {"S": counter_id}},
            UpdateExpression="ADD currentValue :by",
            ExpressionAttributeValues={":by": {"N": str(by)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(result["Attributes"]["currentValue"]["N"])

    async def next_user_id(self) -> str:
        return str(await self._increment("userId"))

    async def next_seq(self, room: str) -> int:
        """A new seq of `room`. While a call for the room is in flight, later asks wait
        and share the next one: a busy room costs one call per batch, not per send."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        waiting = self._seq_waiters.get(room)
        if waiting is None:
            waiting = self._seq_waiters[room] = []
            if self._seq_tasks.spawn(self._allocate_seqs(room), "allocate") is None:
                del self._seq_waiters[room]
                return await self._increment(f"room#{room}")
        waiting.append(future)
        return await future

    async def _allocate_seqs(self, room: str) -> None:
        batch: list[asyncio.Future[int]] = []
        try:
            while batch := self._seq_waiters.get(room) or []:
                self._seq_waiters[room] = []
                try:
                    last = await self._increment(f"room#{room}", len(batch))
                except AwsError as error:
                    _fail(batch, error)
                    continue
                # A waiter that gave up leaves a hole, as a put that fails does.
                for seq, future in enumerate(batch, start=last - len(batch) + 1):
                    if not future.done():
                        future.set_result(seq)
        finally:
            _fail(batch + self._seq_waiters.pop(room, []), AwsError("no seq: stopping"))

    async def latest_seq(self, room: str) -> int:
        """The room's last allocated seq (0 for a room that never had a message)."""
        result = await self._call(
            self._client.get_item,
            TableName=self.config.user_counter_table,
            Key={"counterId": {"S": f"room#{room}"}},
            ConsistentRead=True,
        )
        item = result.get("Item")
        return int(item["currentValue"]["N"]) if item else 0

    # Messages --------------------------------------------------------------------

    async def put_message(
        self, room: str, seq: int, msg_id: str, user_id: str, nickname: str, text: str
    ) -> Message:
        """Store a message under a sort key no other message has; never overwrites."""
        ms = int(time.time() * 1000)
        deadline = time.monotonic() + PUT_DEADLINE_MS / 1000 - CALL_TIMEOUT
        fraction = -1
        while time.monotonic() <= deadline:
            fraction = self._next_fraction(room, ms, fraction)
            if fraction > MAX_TIEBREAK:
                break
            timestamp = str(ms) if fraction == 0 else f"{ms}.{fraction:03d}"
            item = {
                "roomId": {"S": room},
                "timestamp": {"N": timestamp},
                "userId": {"S": user_id},
                "seq": {"N": str(seq)},
                "msgId": {"S": msg_id},
                "text": {"S": text},
                "nickname": {"S": nickname},
                "colour": {"S": self.config.colour},
                "task": {"S": self.task},
            }
            try:
                await self._call(
                    self._client.put_item,
                    TableName=self.config.messages_table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(roomId)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except botocore.exceptions.ClientError as error:
                existing: Item = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
                if existing.get("seq", {}).get("N") == str(seq):
                    # Our own write, retried by the SDK after it had landed.
                    return _message(existing)
                continue  # another task's message holds it: take the next fraction
            return _message(item)
        raise AwsError(f"could not store seq {seq} of room {room} in time")

    def _next_fraction(self, room: str, ms: int, tried: int) -> int:
        """The next fraction of `ms` for a put into `room`, above `tried` and above any
        this process already took: its own puts never collide (a batch of seqs is
        stored at once), only another task's can."""
        taken_ms, taken = self._fractions.get(room, (ms, -1))
        fraction = max(tried, taken if taken_ms == ms else -1) + 1
        if len(self._fractions) >= MAX_ROOMS_TRACKED:
            self._fractions.clear()
        self._fractions[room] = (ms, fraction)
        return fraction

    def _pages(self, **kwargs: Any) -> Iterator[list[Item]]:
        """Synchronous pages of a Query (runs inside the thread pool)."""
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(**kwargs):
            yield page.get("Items", [])

    async def _query_newest(
        self, room: str, stop: Callable[[list[Message]], bool], page_size: int = PAGE_SIZE
    ) -> list[Message]:
        """Messages of `room` newest first, one page at a time, until `stop(found)`."""

        def run() -> list[Message]:
            found: list[Message] = []
            for items in self._pages(
                TableName=self.config.messages_table,
                KeyConditionExpression="roomId = :room",
                ExpressionAttributeValues={":room": {"S": room}},
                ScanIndexForward=False,
                ConsistentRead=True,
                PaginationConfig={"PageSize": page_size},
            ):
                for item in items:
                    found.append(_message(item))
                if stop(found) or len(found) >= MAX_SCAN:
                    break
            return found

        result: list[Message] = await self._call(run)
        return result

    async def messages_after(self, room: str, after: int, upto: int) -> list[Message] | None:
        """Messages with after < seq <= upto in seq order; None if more than MAX_REPLAY."""

        def enough(found: list[Message]) -> bool:
            newer = sum(1 for message in found if message.seq > after)
            if newer > MAX_REPLAY:
                return True
            older = [message for message in found if message.seq <= after]
            return bool(older) and (
                len(older) >= ORDER_SLACK_COUNT or older[0].ts - found[-1].ts > ORDER_SLACK_MS
            )

        found = await self._query_newest(room, enough)
        wanted = {m.seq: m for m in found if after < m.seq <= upto}
        if len(wanted) > MAX_REPLAY:
            return None
        return [wanted[seq] for seq in sorted(wanted)]

    async def find_seq(self, room: str, seq: int) -> Message | None:
        """The stored message with `seq`, if any (it is among the room's recent ones)."""

        def enough(found: list[Message]) -> bool:
            return any(m.seq == seq for m in found) or (
                sum(1 for m in found if m.seq < seq) >= ORDER_SLACK_COUNT
            )

        found = await self._query_newest(room, enough)
        return next((m for m in found if m.seq == seq), None)

    async def latest_messages(self, room: str, count: int) -> list[Message]:
        """The newest `count` messages in seq order."""
        found = await self._query_newest(
            room,
            lambda found: len(found) >= count + ORDER_SLACK_PAGE,
            page_size=count + ORDER_SLACK_PAGE,
        )
        newest = sorted({m.seq: m for m in found}.values(), key=lambda m: m.seq)
        return newest[-count:]

    async def messages_before(
        self, room: str, before: int | None, limit: int
    ) -> tuple[list[Message], bool]:
        """Up to `limit` messages with seq < before (newest of them), oldest first, and
        whether older ones exist."""

        def enough(found: list[Message]) -> bool:
            older = [m for m in found if before is None or m.seq < before]
            return len(older) > limit

        # A page of `limit` and a little slack, not of 100: fewer read units, a faster answer.
        found = await self._query_newest(room, enough, page_size=limit + ORDER_SLACK_PAGE)
        older = sorted(
            {m.seq: m for m in found if before is None or m.seq < before}.values(),
            key=lambda m: m.seq,
        )
        return older[-limit:], len(older) > limit

    async def messages_of_user(
        self, user_id: str, before: str | None, limit: int
    ) -> tuple[list[Message], str | None]:
        """Up to `limit` of the user's messages in every room, newest first, stored before
        the sort key `before` (epoch ms, maybe with a fraction); and the key to pass as
        `before` for the next page (None when there is none)."""
        query: dict[str, Any] = {
            "KeyConditionExpression": "userId = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
        }
        if before is not None:  # "timestamp" is a reserved word
            query["KeyConditionExpression"] += " AND #ts < :before"
            query["ExpressionAttributeNames"] = {"#ts": "timestamp"}
            query["ExpressionAttributeValues"][":before"] = {"N": before}

        def run() -> list[Item]:
            found: list[Item] = []
            for items in self._pages(
                TableName=self.config.messages_table,
                IndexName=USER_INDEX,
                ScanIndexForward=False,
                PaginationConfig={"PageSize": limit + 1, "MaxItems": limit + 1},
                **query,
            ):
                found.extend(items)
            return found[: limit + 1]

        items: list[Item] = await self._call(run)
        page = items[:limit]
        following = page[-1]["timestamp"]["N"] if len(items) > limit else None
        return [_message(item) for item in page], following

    # Connections ------------------------------------------------------------------

    async def put_connection(
        self, connection_id: str, user_id: str, nickname: str, connected_at: float
    ) -> None:
        await self._row_call(
            self._client.put_item,
            TableName=self.config.connections_table,
            Item={
                "connectionId": {"S": connection_id},
                "userId": {"S": user_id},
                "colour": {"S": self.config.colour},
                "task": {"S": self.task},
                "nickname": {"S": nickname},
                "connectedAt": {"N": str(int(connected_at * 1000))},
                "ttl": {"N": str(int(time.time()) + CONNECTION_TTL)},
            },
        )

    async def refresh_connection(self, connection_id: str) -> None:
        """Push the row's expiry CONNECTION_TTL ahead (only if the row still exists)."""
        try:
            await self._row_call(
                self._client.update_item,
                TableName=self.config.connections_table,
                Key={"connectionId": {"S": connection_id}},
                UpdateExpression="SET #ttl = :ttl",
                ConditionExpression="attribute_exists(connectionId)",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":ttl": {"N": str(int(time.time()) + CONNECTION_TTL)}},
            )
        except botocore.exceptions.ClientError:
            pass  # closed meanwhile: nothing to refresh

    async def delete_connection(self, connection_id: str) -> None:
        await self._row_call(
            self._client.delete_item,
            TableName=self.config.connections_table,
            Key={"connectionId": {"S": connection_id}},
        )
