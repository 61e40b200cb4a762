"""One benchmark client connection per server kind, behind the same small interface.

`ChatappSession` speaks the chat server's protocol (app/PROTOCOL.md): `auth` then
`hello`, `join` then `joined` + replay + `presence`, `send` then `ack`.
`SocketioSession` speaks Socket.IO v5 over Engine.IO v4 on a raw WebSocket (what the
socket.io-client does with `transports: ["websocket"]`): open packet `0{...}`,
namespace connect `40`, events `42[...]`, acks `43<id>[...]`, ping `2` answered `3`.

Both recognise a delivered benchmark message by its text, `bench <step> <sent ns> ...`,
without decoding the frame: the hot path is one regular-expression search per frame.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from .ws import WebSocketClient, connect

DELIVERY = re.compile(rb"bench (\d+) (\d+) ")
FRAME_TYPE = re.compile(rb'"type"\s*:\s*"([a-z_]+)"')


@dataclass
class StepStats:
    index: int
    rate: float
    senders: int
    started_ns: int = 0
    stopped_ns: int = 0
    sent: int = 0
    acked: int = 0
    deliveries: int = 0
    first_delivery_ns: int = 0
    last_delivery_ns: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    ack_latencies_ns: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


class Stats:
    """What every session reports into: deliveries per step, acks, errors, closes."""

    def __init__(self) -> None:
        self.steps: dict[int, StepStats] = {}
        self.closes: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()

    def delivered(self, step: int, sent_ns: int) -> None:
        stats = self.steps.get(step)
        if stats is None:
            return
        now = time.perf_counter_ns()
        stats.deliveries += 1
        stats.latencies_ns.append(now - sent_ns)
        if not stats.first_delivery_ns:
            stats.first_delivery_ns = now
        stats.last_delivery_ns = now

    def acked(self, step: int, sent_ns: int | None) -> None:
        stats = self.steps.get(step)
        if stats is not None:
            stats.acked += 1
            if sent_ns is not None:
                stats.ack_latencies_ns.append(time.perf_counter_ns() - sent_ns)

    def error(self, step: int | None, code: str) -> None:
        stats = self.steps.get(step) if step is not None else None
        (stats.errors if stats is not None else self.errors)[code] += 1


def step_of(msg_id: str) -> int | None:
    """Benchmark msgIds are `s<step>x<connection>x<n>`."""
    head = msg_id.split("x", 1)[0]
    return int(head[1:]) if head.startswith("s") and head[1:].isdigit() else None


class Session:
    """The interface the scenario uses; one instance per connection."""

    path = "/"

    def __init__(self, base_url: str, index: int, stats: Stats, nickname: str) -> None:
        self.url = base_url.rstrip("/") + self.path
        self.index = index
        self.stats = stats
        self.nickname = nickname
        self.ws: WebSocketClient | None = None
        self.closed_code: int | None = None
        self.closing = False
        self.sent_at: dict[str, int] = {}  # msgId -> send time, until acknowledged
        self.done_closing: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def open(self, timeout: float) -> None:
        raise NotImplementedError

    async def join(self, room: str, timeout: float) -> None:
        raise NotImplementedError

    def send(self, room: str, text: str, msg_id: str) -> None:
        raise NotImplementedError

    async def _connect(self) -> None:
        await connect(self.url, self.on_text, self.on_close, created=self.bind)

    def bind(self, ws: WebSocketClient) -> None:
        self.ws = ws

    def on_text(self, payload: bytes) -> None:
        raise NotImplementedError

    def on_close(self, code: int) -> None:
        self.closed_code = code
        if not self.closing:
            self.stats.closes[code] += 1
        if not self.done_closing.done():
            self.done_closing.set_result(code)
        self.closed()

    def closed(self) -> None:
        """Fail whatever waits on this connection."""

    @property
    def is_open(self) -> bool:
        return self.ws is not None and self.closed_code is None

    async def close(self, timeout: float = 5.0) -> None:
        if not self.is_open or self.ws is None:
            return
        self.closing = True
        self.ws.close(1000)
        try:
            await asyncio.wait_for(asyncio.shield(self.done_closing), timeout)
        except TimeoutError:
            self.ws.finish()


class ChatappSession(Session):
    path = "/ws"

    def __init__(
        self, base_url: str, index: int, stats: Stats, nickname: str, token: str | None = None
    ) -> None:
        super().__init__(base_url, index, stats, nickname)
        self.token = token
        loop = asyncio.get_running_loop()
        self.hello: asyncio.Future[dict[str, object]] = loop.create_future()
        self.joining: dict[str, asyncio.Future[None]] = {}
        self.joined_rooms: set[str] = set()

    async def open(self, timeout: float) -> None:
        await asyncio.wait_for(self._connect(), timeout)
        auth: dict[str, str] = {"type": "auth", "nickname": self.nickname}
        if self.token:
            auth["token"] = self.token
        assert self.ws is not None
        self.ws.send_text(json.dumps(auth))
        hello = await asyncio.wait_for(asyncio.shield(self.hello), timeout)
        self.token = str(hello["resumeToken"])

    async def join(self, room: str, timeout: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self.joining[room] = waiter
        assert self.ws is not None
        self.ws.send_text(json.dumps({"type": "join", "room": room}))
        try:
            await asyncio.wait_for(waiter, timeout)
        finally:
            self.joining.pop(room, None)

    def send(self, room: str, text: str, msg_id: str) -> None:
        if self.ws is not None:
            frame = {"type": "send", "room": room, "text": text, "msgId": msg_id}
            self.sent_at[msg_id] = time.perf_counter_ns()
            self.ws.send_text(json.dumps(frame))

    def on_text(self, payload: bytes) -> None:
        match = DELIVERY.search(payload)
        if match is not None:
            self.stats.delivered(int(match[1]), int(match[2]))
            return
        found = FRAME_TYPE.search(payload)
        kind = found[1] if found else b""
        if kind == b"presence":
            if self.joining:
                room = json.loads(payload).get("room")
                waiter = self.joining.get(room)
                if waiter is not None and room in self.joined_rooms and not waiter.done():
                    waiter.set_result(None)
        elif kind == b"joined":
            self.joined_rooms.add(json.loads(payload)["room"])
        elif kind == b"ack":
            frame = json.loads(payload)
            msg_id = str(frame.get("msgId", ""))
            step = step_of(msg_id)
            if step is not None:
                self.stats.acked(step, self.sent_at.pop(msg_id, None))
        elif kind == b"hello":
            if not self.hello.done():
                self.hello.set_result(json.loads(payload))
        elif kind == b"error":
            frame = json.loads(payload)
            step = step_of(str(frame.get("msgId") or ""))
            self.stats.error(step, str(frame.get("code")))
            room = frame.get("room")
            waiter = self.joining.get(room) if isinstance(room, str) else None
            if waiter is not None and not waiter.done():
                waiter.set_exception(RuntimeError(f"join refused: {frame.get('code')}"))

    def closed(self) -> None:
        error = ConnectionError(f"closed with code {self.closed_code}")
        if not self.hello.done():
            self.hello.set_exception(error)
        for waiter in self.joining.values():
            if not waiter.done():
                waiter.set_exception(error)


class SocketioSession(Session):
    path = "/socket.io/?EIO=4&transport=websocket"

    def __init__(self, base_url: str, index: int, stats: Stats, nickname: str) -> None:
        super().__init__(base_url, index, stats, nickname)
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.next_ack = 0
        # ack id -> (event, who waits for the reply, msgId of a send)
        self.acks: dict[int, tuple[str, asyncio.Future[object] | None, str | None]] = {}

    async def open(self, timeout: float) -> None:
        await asyncio.wait_for(self._connect(), timeout)
        await asyncio.wait_for(asyncio.shield(self.connected), timeout)

    def emit(self, event: str, data: object, *, step: int | None = None) -> asyncio.Future[object]:
        self.next_ack += 1
        waiter: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.acks[self.next_ack] = (event, waiter, step)
        assert self.ws is not None
        self.ws.send_text(f"42{self.next_ack}" + json.dumps([event, data]))
        return waiter

    async def join(self, room: str, timeout: float) -> None:
        reply = await asyncio.wait_for(self.emit("join", room), timeout)
        if isinstance(reply, dict) and "error" in reply:
            raise RuntimeError(f"join refused: {reply['error']}")

    def send(self, room: str, text: str, msg_id: str) -> None:
        if self.ws is None:
            return
        self.next_ack += 1
        self.acks[self.next_ack] = ("send", None, msg_id)
        self.sent_at[msg_id] = time.perf_counter_ns()
        data = {"room": room, "text": text, "msgId": msg_id}
        self.ws.send_text(f"42{self.next_ack}" + json.dumps(["send", data]))

    def on_text(self, payload: bytes) -> None:
        kind = payload[:2]
        if kind == b"42":
            match = DELIVERY.search(payload)
            if match is not None:
                self.stats.delivered(int(match[1]), int(match[2]))
        elif kind == b"43":
            bracket = payload.find(b"[")
            ack_id = int(payload[2:bracket])
            entry = self.acks.pop(ack_id, None)
            if entry is None:
                return
            event, waiter, msg_id = entry
            args = json.loads(payload[bracket:])
            reply = args[0] if args else None
            if waiter is not None and not waiter.done():
                waiter.set_result(reply)
            step = step_of(msg_id) if msg_id is not None else None
            if event == "send" and msg_id is not None and step is not None:
                sent_ns = self.sent_at.pop(msg_id, None)
                if isinstance(reply, dict) and "error" in reply:
                    self.stats.error(step, str(reply["error"]))
                else:
                    self.stats.acked(step, sent_ns)
        elif payload[:1] == b"2":
            assert self.ws is not None
            self.ws.send_text("3")
        elif payload[:1] == b"0":
            assert self.ws is not None
            self.ws.send_text("40" + json.dumps({"nickname": self.nickname}))
        elif kind == b"40":
            if not self.connected.done():
                self.connected.set_result(None)
        elif kind == b"44":
            self.stats.error(None, "connect_error")
            if not self.connected.done():
                self.connected.set_exception(ConnectionError(payload.decode(errors="replace")))

    def closed(self) -> None:
        error = ConnectionError(f"closed with code {self.closed_code}")
        if not self.connected.done():
            self.connected.set_exception(error)
        for _, waiter, _ in self.acks.values():
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)
