"""A simulated chat user: the web client's connection logic (app/web/js/connection.js)
in Python, writing everything it does into the rehearsal's ledger.

Like the web client it authenticates with its resume token, joins its rooms with
`after` = the highest sequence it has shown with none missing, keeps unacknowledged
sends in an outbox and sends them again with the same msgId after a reconnect, drops
what it has already shown, honours the server's `reconnect` hint (close 1012), and
otherwise reconnects with jittered exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from chatops.rehearse.ledger import Ledger, Reconnect

SERVICE_RESTART = 1012
GOING_AWAY = 1001
BACKOFF_BASE = 0.25
BACKOFF_CAP = 5.0
OPEN_TIMEOUT = 10.0
HELLO_TIMEOUT = 10.0
# A send not acknowledged within this is sent again (same msgId) on the next connection.
ACK_TIMEOUT = 10.0
# A join the server could not serve (`internal`: history unavailable) is asked again
# after a jittered delay of up to this many seconds, as app/PROTOCOL.md says.
JOIN_RETRY = 2.0


HTTP_TIMEOUT = 10.0


def http_base(ws_url: str) -> str:
    """The page origin a WebSocket URL belongs to: ws://h:p/ws -> http://h:p."""
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}"


async def http_get(url: str, headers: dict[str, str], timeout: float = HTTP_TIMEOUT) -> int | None:
    """The status of one GET (the body is read and dropped); None if it failed."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer = None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                parts.hostname, port, ssl=ssl.create_default_context() if secure else None
            ),
            timeout,
        )
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = await asyncio.wait_for(reader.readline(), timeout)
        await asyncio.wait_for(reader.read(1 << 20), timeout)
        return int(status_line.split()[1])
    except (OSError, TimeoutError, ValueError, IndexError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@dataclass
class RoomState:
    watermark: int = 0  # highest seq shown with none missing before it
    above: set[int] = field(default_factory=set)
    joined: bool = False
    known: bool = False  # the room was joined at least once

    def show(self, seq: int) -> None:
        if seq <= self.watermark:
            return
        self.above.add(seq)
        while self.watermark + 1 in self.above:
            self.watermark += 1
            self.above.discard(self.watermark)

    def reset(self, seq: int) -> None:
        self.watermark, self.above = seq, set()


@dataclass
class Pending:
    room: str
    text: str
    msg_id: str
    first_sent: float
    last_sent: float | None = None


class SimUser:
    def __init__(
        self,
        index: int,
        url: str,
        rooms: list[str],
        ledger: Ledger,
        *,
        rng: random.Random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.index = index
        self.url = url
        self.rooms = {room: RoomState() for room in rooms}
        self.ledger = ledger
        self.rng = rng
        self.clock = clock
        self.nickname = f"sim{index}"
        self.token: str | None = None
        self.user_id: str | None = None
        self.colour: str | None = None
        self.outbox: dict[str, Pending] = {}
        self.sent_count = 0
        self.ws: ClientConnection | None = None
        self.ready = asyncio.Event()  # connected and every room joined
        self.stopping = False
        self.attempt = 0
        self.next_delay: float | None = None
        self.errors: dict[str, int] = {}
        self._rejoins: set[asyncio.Task[None]] = set()

    # --- sending -------------------------------------------------------------------

    async def send(self, room: str) -> None:
        self.sent_count += 1
        msg_id = f"u{self.index}m{self.sent_count}r{self.rng.randrange(1 << 30):08x}"
        now = self.clock()
        pending = Pending(room, f"{self.nickname} says {self.sent_count}", msg_id, now)
        self.outbox[msg_id] = pending
        self.ledger.sending(msg_id, room, self.index, now)
        await self._transmit(pending)

    async def _transmit(self, pending: Pending) -> None:
        ws = self.ws
        if ws is None or not self.rooms[pending.room].joined:
            return  # the outbox sends it once the room is joined again
        pending.last_sent = self.clock()
        frame = {"type": "send", "room": pending.room, "text": pending.text}
        frame["msgId"] = pending.msg_id
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(frame))

    async def fetch_history(self) -> int | None:
        """One history page of the user's first room over HTTP, as the web client loads it."""
        if not self.token:
            return None
        room = next(iter(self.rooms))
        url = f"{http_base(self.url)}/api/rooms/{room}/messages?limit=20"
        return await http_get(url, {"Authorization": f"Bearer {self.token}"})

    async def retry_overdue(self) -> None:
        """Send again what was not acknowledged in time (same msgId)."""
        now = self.clock()
        for pending in list(self.outbox.values()):
            if pending.last_sent is None or now - pending.last_sent > ACK_TIMEOUT:
                await self._transmit(pending)

    # --- the connection ------------------------------------------------------------

    async def run(self) -> None:
        ended_at: float | None = None
        previous_colour: str | None = None
        expected = True
        while not self.stopping:
            try:
                async with connect(
                    self.url,
                    open_timeout=OPEN_TIMEOUT,
                    close_timeout=2,
                    ping_interval=20,
                    ping_timeout=20,
                    compression=None,
                    max_size=1 << 20,
                ) as ws:
                    await self._session(ws, ended_at, previous_colour, expected)
                    code = ws.close_code
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
            except (OSError, TimeoutError, InvalidHandshake, InvalidStatus, ValueError):
                code = None
            was_connected = self.ws is not None
            previous_colour = self.colour or previous_colour
            self.ws = None
            self.ready.clear()
            for state in self.rooms.values():
                state.joined = False
            if self.stopping:
                break
            now = self.clock()
            if was_connected:
                expected = code in (SERVICE_RESTART, GOING_AWAY)
                self.ledger.disconnected(self.index, now, code, expected=expected)
                ended_at = now
                self.attempt = 0
            elif ended_at is None:
                ended_at = now  # never connected yet: time the first connection too
            await asyncio.sleep(self._delay())

    def _delay(self) -> float:
        if self.next_delay is not None:
            delay, self.next_delay = self.next_delay, None
            return delay
        self.attempt += 1
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (self.attempt - 1))
        return self.rng.uniform(0, ceiling)

    async def _session(
        self,
        ws: ClientConnection,
        ended_at: float | None,
        previous_colour: str | None,
        expected: bool,
    ) -> None:
        auth: dict[str, Any] = {"type": "auth", "nickname": self.nickname}
        if self.token:
            auth["token"] = self.token
        await ws.send(json.dumps(auth))
        hello = json.loads(await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT))
        if hello.get("type") != "hello":
            raise ValueError(f"expected hello, got {hello.get('type')}")
        self.token = hello["resumeToken"]
        self.user_id = str(hello["userId"])
        self.colour = hello.get("colour")
        self.ws = ws
        self.ledger.connected(self.index, self.colour, self.clock())
        for room in self.rooms:
            await ws.send(json.dumps(self._join_frame(room)))
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message":
                self._on_message(frame)
            elif kind == "joined":
                await self._on_joined(frame, ended_at, previous_colour, expected)
            elif kind == "ack":
                pending = self.outbox.pop(frame["msgId"], None)
                if pending is not None:
                    self.ledger.acked(pending.msg_id, int(frame["seq"]), self.clock())
            elif kind == "reconnect":
                self.next_delay = max(0.0, float(frame.get("afterMs", 0)) / 1000)
            elif kind == "error":
                code = str(frame.get("code"))
                self.errors[code] = self.errors.get(code, 0) + 1
                room = frame.get("room")
                if code == "internal" and "msgId" not in frame and room in self.rooms:
                    self._rejoin_later(ws, room)

    def _join_frame(self, room: str) -> dict[str, Any]:
        state = self.rooms[room]
        join: dict[str, Any] = {"type": "join", "room": room}
        if state.known:
            join["after"] = state.watermark
        return join

    def _rejoin_later(self, ws: ClientConnection, room: str) -> None:
        async def rejoin() -> None:
            await asyncio.sleep(self.rng.uniform(JOIN_RETRY / 2, JOIN_RETRY))
            if self.ws is ws and not self.rooms[room].joined:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(json.dumps(self._join_frame(room)))

        task = asyncio.create_task(rejoin())
        self._rejoins.add(task)
        task.add_done_callback(self._rejoins.discard)

    def _on_message(self, frame: dict[str, Any]) -> None:
        room = frame["room"]
        state = self.rooms.get(room)
        if state is None:
            return
        seq = int(frame["seq"])
        self.ledger.delivered(
            self.index,
            room,
            seq,
            frame["msgId"],
            str(frame.get("userId")),
            self.clock(),
            live=not frame.get("replay"),
        )
        state.show(seq)

    async def _on_joined(
        self,
        frame: dict[str, Any],
        ended_at: float | None,
        previous_colour: str | None,
        expected: bool,
    ) -> None:
        state = self.rooms.get(frame["room"])
        if state is None:
            return
        if frame.get("reset"):
            # Messages that follow replace the view; older ones are history, not missed.
            state.reset(max(0, int(frame.get("seq", 0)) - 50))
        state.joined = state.known = True
        self.ledger.joined(self.index, frame["room"])
        if all(s.joined for s in self.rooms.values()):
            self.ready.set()
            if ended_at is not None and previous_colour is not None:
                self.ledger.resumed(
                    Reconnect(
                        self.index, ended_at, self.clock(), expected, previous_colour, self.colour
                    )
                )
            for pending in list(self.outbox.values()):
                await self._transmit(pending)

    async def stop(self) -> None:
        self.stopping = True
        for task in list(self._rejoins):
            task.cancel()
        ws = self.ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
