"""Redis: the bus between tasks. Fan-out, the replay log, presence and send dedupe.

Keys (the room in braces is a hash tag: a room's keys stay on one slot):

- ``chat:{room}:log``       stream, one entry per message: ``seq`` and ``m`` (JSON),
                            ``MAXLEN ~ 1000``, expires after a week without messages
- ``chat:{room}:events``    channel: messages, presence changes and typing, as
                            ``{"k": kind, "o": origin, "r": room, "d": data}``
- ``chat:{room}:presence``  hash, connectionId -> ``{"u", "n", "x"}`` (x: expiry, ms)
- ``chat:{room}:msgid:{userId}:{msgId}``  ``pending`` while a send is being stored,
                            then ``<seq>:<ts>`` for 24 h (retries are acked once), or
                            ``retry:<seq>`` after a failed put (a retry reuses the seq)

One Lua script appends to the log and publishes in one step (as centrifuge's
broker_redis.go does), so a message is never in one and not the other. Each process
holds one pattern subscription, ``chat:*:events``, and ignores its own publications.

Redis is a cache here, never the record: when it fails the bus says so (`up` turns
False, operations raise `BusDown` at once instead of waiting), reconnects with
backoff, and calls `on_up` once it is back so the service can re-sync from DynamoDB.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatapp.config import Config
from chatapp.logs import log
from chatapp.protocol import Message
from chatapp.tasks import TaskSet

LOG_MAXLEN = 1000
LOG_TTL = 7 * 24 * 3600
LOG_PAGE = 200
# Entries below `after` read before giving up on finding more above it: concurrent
# tasks append to a room's log in roughly, not exactly, seq order.
LOG_ORDER_SLACK = 20
DEDUPE_TTL = 24 * 3600
CLAIM_TTL = 30
PRESENCE_TTL_MS = 60_000
PRESENCE_KEY_TTL = 120
COMMAND_TIMEOUT = 2.0
HEALTH_INTERVAL = 5.0
BACKOFF_MIN = 0.25
BACKOFF_MAX = 10.0
MAX_CONNECTIONS = 64
PATTERN = "chat:*:events"

PUBLISH_SCRIPT = """
-- KEYS[1] the room's log stream, KEYS[2] the room's channel, KEYS[3] the msgId record
-- ARGV[1] seq, ARGV[2] message JSON, ARGV[3] channel envelope, ARGV[4] log length,
-- ARGV[5] log expiry (s), ARGV[6] the record ("<seq>:<ts>"), ARGV[7] its expiry (s)
redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'seq', ARGV[1], 'm', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return redis.call('PUBLISH', KEYS[2], ARGV[3])
"""

T = TypeVar("T")


def log_key(room: str) -> str:
    return f"chat:{{{room}}}:log"


def channel(room: str) -> str:
    return f"chat:{{{room}}}:events"


def presence_key(room: str) -> str:
    return f"chat:{{{room}}}:presence"


def msgid_key(room: str, user_id: str, msg_id: str) -> str:
    return f"chat:{{{room}}}:msgid:{user_id}:{msg_id}"


class BusDown(Exception):
    """Redis is unavailable; the caller goes on without it."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something another task published: a message, a presence change, typing."""

    kind: str  # "m", "p" or "t"
    room: str
    message: Message | None = None
    user_id: str = ""
    nickname: str = ""


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of claiming a msgId before storing it."""

    state: str  # "new", "retry", "duplicate", "pending" or "unavailable"
    seq: int = 0
    ts: int = 0


def _envelope(kind: str, origin: str, room: str, data: str) -> str:
    return f'{{"k":"{kind}","o":"{origin}","r":"{room}","d":{data}}}'


class Bus:
    def __init__(
        self,
        config: Config,
        origin: str,
        on_event: Callable[[Event], None],
        on_up: Callable[[], Awaitable[None]],
    ) -> None:
        self.origin = origin
        self._on_event = on_event
        self._on_up = on_up
        self._primary = self._client(config, config.redis_host)
        self._reader = (
            self._primary
            if config.redis_reader_host == config.redis_host
            else self._client(config, config.redis_reader_host)
        )
        self._publish = self._primary.register_script(PUBLISH_SCRIPT)
        self._broken = asyncio.Event()
        self.up = False
        self.tasks = TaskSet("bus")

    @staticmethod
    def _client(config: Config, host: str) -> aioredis.Redis:
        pool = aioredis.BlockingConnectionPool(
            host=host,
            port=config.redis_port,
            password=config.redis_auth_token,
            connection_class=aioredis.SSLConnection if config.redis_tls else aioredis.Connection,
            max_connections=MAX_CONNECTIONS,
            timeout=COMMAND_TIMEOUT,
            socket_timeout=COMMAND_TIMEOUT,
            socket_connect_timeout=COMMAND_TIMEOUT,
            # One immediate retry: a connection the server dropped while idle (a
            # restart) is replaced at once; a server that is gone fails fast.
            retry=Retry(NoBackoff(), 1),
            decode_responses=True,
        )
        return aioredis.Redis(connection_pool=pool)

    def start(self) -> None:
        self.tasks.spawn(self._run(), "subscriber")

    async def close(self) -> None:
        await self.tasks.cancel_all()
        for client in {id(self._primary): self._primary, id(self._reader): self._reader}.values():
            try:
                await asyncio.wait_for(client.aclose(), COMMAND_TIMEOUT)
            except (RedisError, OSError, TimeoutError):
                pass

    # Connection lifecycle ---------------------------------------------------------

    async def _drop_connections(self) -> None:
        """Forget pooled connections from before an outage (the server closed them)."""
        for client in {id(self._primary): self._primary, id(self._reader): self._reader}.values():
            try:
                await asyncio.wait_for(client.connection_pool.disconnect(), COMMAND_TIMEOUT)
            except (RedisError, OSError, TimeoutError):
                pass

    def _mark_down(self, error: BaseException) -> None:
        if self.up:
            log.warning("redis_down", error=f"{type(error).__name__}: {error}")
        self.up = False
        self._broken.set()

    async def _run(self) -> None:
        attempt = 0
        while True:
            pubsub: PubSub | None = None
            try:
                if attempt:
                    await self._drop_connections()
                pubsub = self._primary.pubsub(ignore_subscribe_messages=True)
                async with asyncio.timeout(COMMAND_TIMEOUT):
                    await self._primary.ping()
                    await pubsub.psubscribe(PATTERN)
                self._broken.clear()
                self.up = True
                attempt = 0
                log.info("redis_up")
                await self._on_up()
                await self._listen(pubsub)
            except (RedisError, OSError, TimeoutError) as error:
                self._mark_down(error)
            finally:
                if pubsub is not None:
                    try:
                        await asyncio.wait_for(pubsub.aclose(), COMMAND_TIMEOUT)  # type: ignore[no-untyped-call, unused-ignore]
                    except (RedisError, OSError, TimeoutError):
                        pass
            self.up = False
            delay = min(BACKOFF_MAX, BACKOFF_MIN * 2**attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            await asyncio.sleep(delay)

    async def _listen(self, pubsub: PubSub) -> None:
        next_check = time.monotonic() + HEALTH_INTERVAL
        while not self._broken.is_set():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None and message.get("type") == "pmessage":
                self._dispatch(message["data"])
            if time.monotonic() >= next_check:
                async with asyncio.timeout(COMMAND_TIMEOUT):
                    await self._primary.ping()
                next_check = time.monotonic() + HEALTH_INTERVAL

    def _dispatch(self, raw: str) -> None:
        try:
            envelope = json.loads(raw)
            if envelope.get("o") == self.origin:
                return
            kind, room, data = envelope["k"], envelope["r"], envelope["d"]
            if kind == "m":
                event = Event("m", room, message=Message.from_dict(data))
            elif kind == "t":
                event = Event("t", room, user_id=str(data["u"]), nickname=str(data["n"]))
            else:
                event = Event("p", room)
        except (ValueError, KeyError, TypeError) as error:
            log.warning("bus_event_malformed", error=repr(error))
            return
        self._on_event(event)

    async def _command(self, call: Callable[[], Awaitable[T]]) -> T:
        if not self.up:
            raise BusDown("redis is down")
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                return await call()
        except (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError) as error:
            self._mark_down(error)
            raise BusDown(repr(error)) from error
        except RedisError as error:
            log.error("redis_command_failed", error=f"{type(error).__name__}: {error}")
            raise BusDown(repr(error)) from error

    # Messages --------------------------------------------------------------------

    async def publish_message(self, message: Message) -> None:
        """Record the stored message's msgId, append it to the room's log and publish
        it, in one script (one round trip per message)."""
        body = message.to_json()
        envelope = _envelope("m", self.origin, message.room, body)
        record = msgid_key(message.room, message.user_id, message.msg_id)

        async def call() -> Any:
            return await self._publish(
                keys=[log_key(message.room), channel(message.room), record],
                args=[
                    message.seq,
                    body,
                    envelope,
                    LOG_MAXLEN,
                    LOG_TTL,
                    f"{message.seq}:{message.ts}",
                    DEDUPE_TTL,
                ],
            )

        await self._command(call)

    async def publish_typing(self, room: str, user_id: str, nickname: str) -> None:
        data = json.dumps({"u": user_id, "n": nickname}, ensure_ascii=False)
        envelope = _envelope("t", self.origin, room, data)
        await self._command(lambda: self._primary.publish(channel(room), envelope))

    async def read_log(self, room: str, after: int, upto: int) -> list[Message] | None:
        """Messages with after < seq <= upto from the room's log, in seq order; None if
        the log does not hold every one of them (trimmed, or holes from an outage)."""
        needed = upto - after
        if needed <= 0:
            return []
        found: dict[int, str] = {}
        below = 0
        end = "+"
        while len(found) < needed and below < LOG_ORDER_SLACK:

            async def page(bound: str = end) -> Any:
                return await self._reader.xrevrange(
                    log_key(room), max=bound, min="-", count=LOG_PAGE
                )

            entries = await self._command(page)
            for _entry_id, fields in entries:
                seq = int(fields.get("seq", 0))
                if after < seq <= upto:
                    found[seq] = fields["m"]
                elif seq <= after:
                    below += 1
            if len(entries) < LOG_PAGE:
                break
            end = "(" + entries[-1][0]
        if len(found) < needed:
            return None
        try:
            return [Message.from_json(found[seq]) for seq in sorted(found)]
        except ValueError as error:
            log.warning("log_entry_malformed", room=room, error=repr(error))
            return None

    # Send dedupe -----------------------------------------------------------------

    async def claim(self, room: str, user_id: str, msg_id: str) -> Claim:
        """Claim a msgId before storing it.

        "new": store it. "retry": an earlier attempt got this seq but may not have
        stored it: store it under the same seq (unless it is there). "duplicate": it
        is stored (seq, ts). "pending": another attempt is storing it right now.
        "unavailable": Redis is down.
        """
        key = msgid_key(room, user_id, msg_id)

        async def take() -> bool:
            return bool(await self._primary.set(key, "pending", nx=True, ex=CLAIM_TTL))

        try:
            if await self._command(take):
                return Claim("new")
            value = str(await self._command(lambda: self._primary.get(key)) or "")
            if not value:  # it expired in between
                return Claim("new") if await self._command(take) else Claim("pending")
            if value.startswith("pending"):
                return Claim("pending")
            if value.startswith("retry:"):
                seq = int(value.partition(":")[2])
                pending = f"pending:{seq}"
                await self._command(lambda: self._primary.set(key, pending, ex=CLAIM_TTL))
                return Claim("retry", seq)
            seq_text, _, ts = value.partition(":")
            return Claim("duplicate", int(seq_text), int(ts or 0))
        except (BusDown, ValueError):
            return Claim("unavailable")

    async def retry_later(self, room: str, user_id: str, msg_id: str, seq: int) -> None:
        """Storing under `seq` failed (or its outcome is unknown): a retry reuses `seq`."""
        key = msgid_key(room, user_id, msg_id)
        await self._command(lambda: self._primary.set(key, f"retry:{seq}", ex=DEDUPE_TTL))

    async def record(self, room: str, user_id: str, msg_id: str, seq: int, ts: int) -> None:
        key = msgid_key(room, user_id, msg_id)
        await self._command(lambda: self._primary.set(key, f"{seq}:{ts}", ex=DEDUPE_TTL))

    async def release(self, room: str, user_id: str, msg_id: str) -> None:
        key = msgid_key(room, user_id, msg_id)
        await self._command(lambda: self._primary.delete(key))

    # Presence --------------------------------------------------------------------

    @staticmethod
    def _presence_entry(user_id: str, nickname: str) -> str:
        expires = int(time.time() * 1000) + PRESENCE_TTL_MS
        return json.dumps({"u": user_id, "n": nickname, "x": expires}, ensure_ascii=False)

    async def presence_set(
        self, entries: list[tuple[str, str, str, str]], *, announce: bool
    ) -> None:
        """Write (room, connectionId, userId, nickname) entries; `announce` publishes a
        presence change on each room's channel."""
        if not entries:
            return

        async def call() -> Any:
            pipe = self._primary.pipeline(transaction=False)
            rooms = set()
            for room, connection_id, user_id, nickname in entries:
                entry = self._presence_entry(user_id, nickname)
                pipe.hset(presence_key(room), connection_id, entry)
                rooms.add(room)
            for room in rooms:
                pipe.expire(presence_key(room), PRESENCE_KEY_TTL)
                if announce:
                    pipe.publish(channel(room), _envelope("p", self.origin, room, "{}"))
            return await pipe.execute()

        await self._command(call)

    async def presence_remove(self, entries: list[tuple[str, str]]) -> None:
        """Remove (room, connectionId) entries and announce the change."""
        if not entries:
            return

        async def call() -> Any:
            pipe = self._primary.pipeline(transaction=False)
            for room, connection_id in entries:
                pipe.hdel(presence_key(room), connection_id)
            for room in {room for room, _ in entries}:
                pipe.publish(channel(room), _envelope("p", self.origin, room, "{}"))
            return await pipe.execute()

        await self._command(call)

    async def presence(self, room: str) -> dict[str, tuple[str, str]]:
        """connectionId -> (userId, nickname) of the room's live entries, all tasks."""
        raw: dict[Any, Any] = await self._command(lambda: self._reader.hgetall(presence_key(room)))
        now = int(time.time() * 1000)
        live: dict[str, tuple[str, str]] = {}
        stale: list[str] = []
        for connection_id, value in raw.items():
            try:
                entry = json.loads(value)
                if int(entry["x"]) >= now:
                    live[connection_id] = (str(entry["u"]), str(entry["n"]))
                    continue
            except (ValueError, KeyError, TypeError):
                pass
            stale.append(connection_id)
        if stale:
            # Left behind by a task that stopped without cleaning up.
            await self._command(lambda: self._primary.hdel(presence_key(room), *stale))
        return live
