"""The hub: this process's connections, who is in which room, and delivery to them.

Who is subscribed where, per node (as centrifuge's hub.go): rooms map to the local
connections that joined them. Delivery encodes a frame once and writes it to every
member (`write_frame`: no per-connection task, no per-connection queue), and what one
event-loop iteration writes to a connection goes out in one write (`Writes`).
Per connection and room a `SeqTracker` remembers which seqs were delivered, so a
message arriving twice (live and replayed, or from Redis and a re-sync) goes out once.

Every write first checks the connection's unsent bytes: above MAX_BUFFERED_BYTES the
client is a slow consumer and is closed with 4009 (the transport is aborted if the
close cannot be written in time). Replays, written by the joining client's own
handler, go at the client's pace instead (`send_paced`).
"""

from __future__ import annotations

import asyncio
from collections import deque

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN

from chatapp import protocol
from chatapp.logs import log
from chatapp.protocol import Message
from chatapp.ratelimit import TokenBucket, Violations
from chatapp.tasks import TaskSet

MAX_BUFFERED_BYTES = 1 << 20
# Replays (up to 500 messages, a few MB) are written at the pace the client reads:
# each waits while more than PACED_BYTES are unsent (the server's write_limit), and a
# client that takes in nothing for PACE_TIMEOUT seconds is a slow consumer.
PACED_BYTES = 256 * 1024
PACE_TIMEOUT = 10.0
# Live messages held for a member while its replay is read (then delivered in order).
MAX_PENDING = 1000
CLOSE_WAIT = 5.0


class Writes:
    """What this process writes to its connections in one event-loop iteration.

    Frames queued during an iteration go out at its end, one transport write per
    connection: under load many messages into a room are delivered in the same
    iteration, and joining them saves a send() system call per message and member,
    the largest part of a delivery's cost. At rest a frame waits one iteration.
    A connection that started closing meanwhile gets nothing more (its client resumes
    from its last seq).
    """

    __slots__ = ("_frames", "_scheduled")

    def __init__(self) -> None:
        self._frames: dict[ServerConnection, list[bytes]] = {}
        self._scheduled = False

    def write(self, ws: ServerConnection, data: bytes) -> None:
        queued = self._frames.get(ws)
        if queued is None:
            self._frames[ws] = [data]
            if not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self.flush)
        else:
            queued.append(data)

    def flush(self) -> None:
        frames, self._frames = self._frames, {}
        self._scheduled = False
        for ws, queued in frames.items():
            _write(ws, queued)

    def flush_connection(self, ws: ServerConnection) -> None:
        """Write what is queued for `ws` now: before websockets writes to it itself
        (a paced replay, a close), so that frames keep their order."""
        queued = self._frames.pop(ws, None)
        if queued is not None:
            _write(ws, queued)


def _write(ws: ServerConnection, queued: list[bytes]) -> None:
    if ws.protocol.state is OPEN and ws.send_in_progress is None:
        ws.transport.write(queued[0] if len(queued) == 1 else b"".join(queued))


def write_frame(connections: list[ServerConnection], text: str, writes: Writes) -> None:
    """Write one text frame to each open connection, framed once for all of them.

    A server's frames are unmasked and no extension is negotiated (no compression), so
    every connection gets the same bytes (as gorilla's PreparedMessage): a large room
    costs one queued write per member instead of websockets' framing per member.
    """
    data = Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
    framed_by_websockets: list[ServerConnection] = []
    for ws in connections:
        if ws.protocol.extensions:
            framed_by_websockets.append(ws)
        else:
            writes.write(ws, data)  # whether it is still open is checked when it goes out
    if framed_by_websockets:
        broadcast(framed_by_websockets, text)


class SeqTracker:
    """The seqs delivered in one room: a contiguous watermark plus a few above it.

    `add` says whether a seq is new (and records it). The set above the watermark is
    bounded: when it grows past MAX_ABOVE, the lowest hole is given up on (a seq that
    was allocated but never stored, or a message this connection will not get live).
    """

    __slots__ = ("above", "watermark")

    MAX_ABOVE = 256

    def __init__(self, watermark: int = 0) -> None:
        self.watermark = watermark
        self.above: set[int] | None = None

    def seen(self, seq: int) -> bool:
        return seq <= self.watermark or (self.above is not None and seq in self.above)

    def add(self, seq: int) -> bool:
        if seq == self.watermark + 1 and self.above is None:
            self.watermark = seq
            return True
        if self.seen(seq):
            return False
        above = self.above if self.above is not None else set()
        above.add(seq)
        while self.watermark + 1 in above:
            self.watermark += 1
            above.discard(self.watermark)
        if len(above) > self.MAX_ABOVE:
            self.watermark = min(above)
            above.discard(self.watermark)
            while self.watermark + 1 in above:
                self.watermark += 1
                above.discard(self.watermark)
        self.above = above or None
        return True

    @property
    def highest(self) -> int:
        return max(self.above) if self.above else self.watermark


class Membership:
    """One connection in one room: what it was given, when it last typed."""

    __slots__ = ("pending", "tracker", "typed_at")

    def __init__(self, tracker: SeqTracker) -> None:
        self.tracker = tracker
        self.typed_at = 0.0
        # Not None while joining: live messages wait here until the replay is out.
        self.pending: list[Message] | None = []


class Client:
    """An authenticated connection. Kept small: thousands live in one process."""

    __slots__ = (
        "closing",
        "connected_at",
        "connection_id",
        "frames",
        "hub",
        "nickname",
        "outbox",
        "rooms",
        "sends",
        "user_id",
        "violations",
        "ws",
    )

    def __init__(
        self,
        hub: Hub,
        ws: ServerConnection,
        connection_id: str,
        user_id: str,
        nickname: str,
        now: float,
    ) -> None:
        self.hub = hub
        self.ws = ws
        self.connection_id = connection_id
        self.user_id = user_id
        self.nickname = nickname
        self.connected_at = now
        self.rooms: dict[str, Membership] = {}
        self.sends = TokenBucket(protocol.SENDS_PER_SECOND, protocol.SEND_BURST, now)
        self.frames = TokenBucket(protocol.FRAMES_PER_SECOND, protocol.FRAME_BURST, now)
        self.violations: Violations | None = None
        # Sends waiting to be stored, in order; None while there are none.
        self.outbox: deque[protocol.Send] | None = None
        self.closing = False

    def violation(self, now: float) -> bool:
        """Record a rate-limit violation; True when the client is flooding."""
        if self.violations is None:
            self.violations = Violations(protocol.MAX_VIOLATIONS, protocol.VIOLATION_WINDOW)
        return self.violations.add(now)

    def writable(self) -> bool:
        """Whether a frame may be written now; closes a slow consumer (4009)."""
        if self.closing:
            return False
        transport = self.ws.transport
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            log.warning(
                "slow_consumer",
                connectionId=self.connection_id,
                userId=self.user_id,
                buffered=transport.get_write_buffer_size(),
            )
            self.close(protocol.CLOSE_SLOW_CONSUMER, "slow consumer")
            return False
        return True

    def send(self, frame: str) -> bool:
        if not self.writable():
            return False
        write_frame([self.ws], frame, self.hub.writes)
        return True

    async def send_paced(self, frame: str) -> bool:
        """Write `frame`, waiting while the client is behind (see PACED_BYTES)."""
        if not self.writable():
            return False
        self.hub.writes.flush_connection(self.ws)
        try:
            async with asyncio.timeout(PACE_TIMEOUT):
                await self.ws.send(frame)
        except TimeoutError:
            log.warning("slow_consumer", connectionId=self.connection_id, userId=self.user_id)
            self.close(protocol.CLOSE_SLOW_CONSUMER, "slow consumer")
            return False
        except ConnectionClosed:
            return False
        return True

    def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self.hub.writes.flush_connection(self.ws)
        self.hub.tasks.spawn(close_connection(self.ws, code, reason), f"close-{code}")


async def close_connection(ws: ServerConnection, code: int, reason: str) -> None:
    """Close with `code`; abort the transport if the close cannot complete in time."""
    try:
        async with asyncio.timeout(CLOSE_WAIT):
            await ws.close(code, reason)
    except TimeoutError:
        if ws.transport is not None:
            ws.transport.abort()


class Room:
    __slots__ = ("members", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: dict[Client, Membership] = {}


class Hub:
    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.rooms: dict[str, Room] = {}
        self.tasks = TaskSet("hub")
        self.writes = Writes()

    def __len__(self) -> int:
        return len(self.clients)

    def add(self, client: Client) -> None:
        self.clients[client.connection_id] = client

    def remove(self, client: Client) -> list[str]:
        """Forget `client`; returns the rooms it was in."""
        self.clients.pop(client.connection_id, None)
        rooms = list(client.rooms)
        for name in rooms:
            self.leave(client, name)
        return rooms

    def begin_join(self, client: Client, name: str, watermark: int) -> Membership:
        """Make `client` a member that buffers live messages until `finish_join`."""
        self.leave(client, name)
        membership = Membership(SeqTracker(watermark))
        client.rooms[name] = membership
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = Room(name)
        room.members[client] = membership
        return membership

    def finish_join(self, client: Client, name: str) -> None:
        """Deliver what arrived during the replay (in seq order) and go live."""
        membership = client.rooms.get(name)
        if membership is None or membership.pending is None:
            return
        pending, membership.pending = membership.pending, None
        for message in sorted(pending, key=lambda m: m.seq):
            if membership.tracker.add(message.seq):
                client.send(protocol.message_frame(message, replay=False))

    def leave(self, client: Client, name: str) -> bool:
        membership = client.rooms.pop(name, None)
        room = self.rooms.get(name)
        if room is not None:
            room.members.pop(client, None)
            if not room.members:
                del self.rooms[name]
        return membership is not None

    def members(self, name: str) -> list[Client]:
        room = self.rooms.get(name)
        return list(room.members) if room else []

    def count(self, name: str) -> int:
        room = self.rooms.get(name)
        return len(room.members) if room else 0

    def deliver(self, message: Message) -> int:
        """Send `message` to every local member that has not had its seq; returns how many."""
        room = self.rooms.get(message.room)
        if room is None:
            return 0
        targets: list[ServerConnection] = []
        for client, membership in room.members.items():
            if membership.pending is not None:
                if len(membership.pending) >= MAX_PENDING:
                    client.close(protocol.CLOSE_SLOW_CONSUMER, "slow consumer")
                else:
                    membership.pending.append(message)
                continue
            if client.writable() and membership.tracker.add(message.seq):
                targets.append(client.ws)
        if targets:
            write_frame(targets, protocol.message_frame(message, replay=False), self.writes)
        return len(targets)

    def broadcast(self, name: str, frame: str, exclude: Client | None = None) -> int:
        """Send `frame` to the live members of room `name` (but `exclude`)."""
        room = self.rooms.get(name)
        if room is None:
            return 0
        targets = [
            client.ws
            for client, membership in room.members.items()
            if client is not exclude and membership.pending is None and client.writable()
        ]
        if targets:
            write_frame(targets, frame, self.writes)
        return len(targets)

    def resync_point(self, name: str) -> int | None:
        """The lowest watermark among the room's members: where a re-sync starts."""
        room = self.rooms.get(name)
        if room is None or not room.members:
            return None
        return min(membership.tracker.watermark for membership in room.members.values())
