"""The chat itself: identity, join and recovery, send, typing, presence, re-sync.

It ties the hub (local members), the store (DynamoDB, the record) and the bus (Redis,
between tasks) together. Order of a send: claim the msgId, allocate the seq, store
the message (conditional put), ack, deliver to local members, publish to the others.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque

from websockets.asyncio.server import ServerConnection

from chatapp import protocol, tokens
from chatapp.aws import CALL_TIMEOUT, AwsError
from chatapp.bus import Bus, BusDown, Claim, Event
from chatapp.config import Config
from chatapp.hub import Client, Hub, SeqTracker
from chatapp.logs import log
from chatapp.protocol import Join, Leave, Message, Ping, Send, Typing
from chatapp.recovery import settled_seq
from chatapp.store import Store
from chatapp.tasks import TaskSet

# Presence snapshots of a room go out at most every 200 ms, and less often in big
# rooms (a snapshot is O(members) to every member): +0.2 s per 100 local members, up to 5 s.
PRESENCE_DEBOUNCE = 0.2
PRESENCE_DEBOUNCE_MAX = 5.0
PRESENCE_REFRESH = 20.0
PRESENCE_BATCH = 500
CONNECTION_REFRESH = 240.0
CONNECTION_BATCH = 16
# msgId -> (seq, ts) remembered in process, beside Redis' 24 h record.
SENT_CACHE = 10_000
# Stored while Redis was down: their dedupe records are written once it is back.
UNRECORDED = 10_000

# Sends of one connection accepted but not stored yet (the rate limit keeps it lower).
MAX_QUEUED_SENDS = 20

SendKey = tuple[str, str, str]  # room, userId, msgId


class Flooding(Exception):
    """The client broke the rate limit too often: close it with 4008."""


class ChatService:
    def __init__(self, config: Config, task: str, origin: str, store: Store) -> None:
        self.config = config
        self.task = task
        self.store = store
        self.hub = Hub()
        self.bus = Bus(config, origin, self._on_event, self._on_bus_up)
        self.tasks = TaskSet("service")
        self._sent: OrderedDict[SendKey, tuple[int, int]] = OrderedDict()
        # Sends whose put failed after their seq was allocated: a retry reuses it.
        self._failed: OrderedDict[SendKey, int] = OrderedDict()
        self._in_flight: dict[SendKey, asyncio.Future[tuple[int, int] | None]] = {}
        self._unrecorded: deque[tuple[SendKey, int, int]] = deque(maxlen=UNRECORDED)
        self._presence_due: set[str] = set()
        self._row_writes: dict[str, asyncio.Task[None]] = {}

    def start(self) -> None:
        self.bus.start()
        self.tasks.spawn(self._refresh_presence(), "presence-refresh")
        self.tasks.spawn(self._refresh_connections(), "connections-refresh")

    async def close(self) -> None:
        await self.tasks.cancel_all()
        await self.hub.tasks.cancel_all()
        await self.bus.close()
        await self.store.close()

    # Connections -----------------------------------------------------------------

    async def authenticate(self, auth: protocol.Auth) -> tuple[str, str, bool]:
        """(userId, nickname, resumed) for an `auth` frame; TokenError or AwsError."""
        if auth.token:
            identity = tokens.verify(self.config.session_secret, auth.token, time.time())
            return identity.user_id, auth.nickname or identity.nickname, True
        user_id = await self.store.next_user_id()
        return user_id, auth.nickname or f"guest-{user_id}", False

    def connect(
        self,
        ws: ServerConnection,
        connection_id: str,
        user_id: str,
        nickname: str,
        resumed: bool,
    ) -> Client:
        client = Client(self.hub, ws, connection_id, user_id, nickname, time.monotonic())
        self.hub.add(client)
        token = tokens.issue(self.config.session_secret, user_id, nickname, time.time())
        client.send(
            protocol.hello(
                user_id=user_id,
                nickname=nickname,
                resume_token=token,
                resumed=resumed,
                colour=self.config.colour,
                version=self.config.version,
                task=self.task,
                connection_id=connection_id,
            )
        )
        # The row is bookkeeping: written in the background, the client reads on.
        task = self.tasks.spawn(self._put_row(client), "connection-row")
        if task is not None:
            self._row_writes[connection_id] = task
            task.add_done_callback(lambda _: self._row_writes.pop(connection_id, None))
        return client

    async def _put_row(self, client: Client) -> None:
        try:
            await self.store.put_connection(
                client.connection_id, client.user_id, client.nickname, time.time()
            )
        except AwsError as error:
            log.warning(
                "connection_row_failed", connectionId=client.connection_id, error=str(error)
            )

    async def disconnect(self, client: Client) -> None:
        client.closing = True
        rooms = self.hub.remove(client)
        if rooms:
            try:
                await self.bus.presence_remove([(room, client.connection_id) for room in rooms])
            except BusDown:
                pass
            for room in rooms:
                self._schedule_presence(room)
        writing = self._row_writes.get(client.connection_id)
        if writing is not None:
            await asyncio.wait([writing], timeout=CALL_TIMEOUT)  # delete after the put
        try:
            await self.store.delete_connection(client.connection_id)
        except AwsError as error:
            log.warning(
                "connection_row_failed", connectionId=client.connection_id, error=str(error)
            )

    # Frames ----------------------------------------------------------------------

    async def handle(self, client: Client, frame: protocol.ClientFrame, now: float) -> None:
        """Act on one frame of an authenticated client; raises Flooding."""
        if isinstance(frame, Send):
            self.queue_send(client, frame, now)
        elif isinstance(frame, Join):
            await self.join(client, frame)
        elif isinstance(frame, Leave):
            await self.leave(client, frame)
        elif isinstance(frame, Typing):
            await self.typing(client, frame, now)
        elif isinstance(frame, Ping):
            client.send(protocol.pong(frame.id))
        else:
            client.send(protocol.error("already_authenticated", "this connection is signed in"))

    def rate_limited(
        self,
        client: Client,
        now: float,
        what: str,
        msg_id: str | None = None,
        room: str | None = None,
    ) -> None:
        """Tell the client it is over a limit; raises Flooding when it keeps at it."""
        message = f"too many {what}: slow down"
        client.send(protocol.error("rate_limited", message, msg_id=msg_id, room=room))
        if client.violation(now):
            raise Flooding()

    async def join(self, client: Client, frame: Join) -> None:
        room, after = frame.room, frame.after
        if room not in client.rooms and len(client.rooms) >= protocol.MAX_ROOMS:
            client.send(
                protocol.error(
                    "too_many_rooms", f"at most {protocol.MAX_ROOMS} rooms at once", room=room
                )
            )
            return
        membership = self.hub.begin_join(client, room, after or 0)
        try:
            upto = await self.store.latest_seq(room)
            replay, recovered, source = await self._recover(room, after, upto)
        except AwsError as error:
            log.warning(
                "join_failed", connectionId=client.connection_id, room=room, error=str(error)
            )
            self.hub.leave(client, room)
            client.send(protocol.error("internal", "history unavailable: join again", room=room))
            return
        if client.rooms.get(room) is not membership:
            return  # left, closed or joined again meanwhile
        base = after if recovered and after is not None else (replay[0].seq - 1 if replay else 0)
        if not recovered:
            membership.tracker = SeqTracker(base)
        seq = settled_seq(base, replay, upto, int(time.time() * 1000))
        client.send(protocol.joined(room, seq, recovered=recovered, reset=not recovered))
        for message in replay:
            if membership.tracker.add(message.seq):
                if not await client.send_paced(protocol.message_frame(message, replay=True)):
                    return
        try:
            await self.bus.presence_set(
                [(room, client.connection_id, client.user_id, client.nickname)], announce=True
            )
        except BusDown:
            pass
        members = await self._presence_members(room)
        if client.rooms.get(room) is not membership:
            return
        client.send(protocol.presence(room, members))
        self.hub.finish_join(client, room)
        self._schedule_presence(room)
        log.info(
            "joined",
            connectionId=client.connection_id,
            userId=client.user_id,
            room=room,
            after=after,
            seq=seq,
            latest=upto,
            replayed=len(replay),
            recovered=recovered,
            source=source,
        )

    async def _recover(
        self, room: str, after: int | None, upto: int
    ) -> tuple[list[Message], bool, str]:
        """What a joining client missed, whether that is exactly it (else: a reset to
        the latest page), and where it was read: "log" (Redis) or "dynamodb"."""
        if after is not None and after <= upto and upto - after <= protocol.MAX_REPLAY:
            missed: list[Message] | None = None
            if self.bus.up:
                try:
                    missed = await self.bus.read_log(room, after, upto)
                except BusDown:
                    missed = None
            if missed is not None:
                return missed, True, "log"
            missed = await self.store.messages_after(room, after, upto)
            if missed is not None:
                return missed, True, "dynamodb"
        if self.bus.up and upto > 0:
            try:
                page = await self.bus.read_log(room, max(0, upto - protocol.RESET_PAGE), upto)
                if page is not None:
                    return page, False, "log"
            except BusDown:
                pass
        return await self.store.latest_messages(room, protocol.RESET_PAGE), False, "dynamodb"

    async def leave(self, client: Client, frame: Leave) -> None:
        if not self.hub.leave(client, frame.room):
            client.send(protocol.error("not_joined", "you are not in this room", room=frame.room))
            return
        client.send(protocol.left(frame.room))
        try:
            await self.bus.presence_remove([(frame.room, client.connection_id)])
        except BusDown:
            pass
        self._schedule_presence(frame.room)

    async def typing(self, client: Client, frame: Typing, now: float) -> None:
        membership = client.rooms.get(frame.room)
        if membership is None:
            client.send(protocol.error("not_joined", "join the room first", room=frame.room))
            return
        if now - membership.typed_at < protocol.TYPING_INTERVAL:
            return  # at most one a second per room; extra ones are ignored
        membership.typed_at = now
        self.hub.broadcast(
            frame.room, protocol.typing(frame.room, client.user_id, client.nickname), client
        )
        try:
            await self.bus.publish_typing(frame.room, client.user_id, client.nickname)
        except BusDown:
            pass

    def queue_send(self, client: Client, frame: Send, now: float) -> None:
        """Check a `send` as it arrives (joined, rate limit) and queue it for storing.

        Each connection's sends are stored one after the other, in order, by a worker
        that lives while there is something to store; the connection meanwhile goes on
        reading (pings, typing, its close frame). Raises Flooding.
        """
        room, msg_id = frame.room, frame.msg_id
        if room not in client.rooms:
            client.send(
                protocol.error("not_joined", "join the room first", msg_id=msg_id, room=room)
            )
            return
        if not client.sends.take(now) or (
            client.outbox is not None and len(client.outbox) >= MAX_QUEUED_SENDS
        ):
            self.rate_limited(client, now, "messages", msg_id, room)
            return
        if client.outbox is None:
            client.outbox = deque()
            if self.tasks.spawn(self._store_sends(client), "sends") is None:
                client.outbox = None
                client.send(
                    protocol.error(
                        "store_failed", "busy: retry with the same msgId", msg_id=msg_id, room=room
                    )
                )
                return
        client.outbox.append(frame)

    async def _store_sends(self, client: Client) -> None:
        try:
            while client.outbox:
                await self.send(client, client.outbox[0])
                client.outbox.popleft()
        finally:
            client.outbox = None

    async def send(self, client: Client, frame: Send) -> None:
        """Store one message and acknowledge it (a retried msgId: acknowledge the original)."""
        room, msg_id = frame.room, frame.msg_id
        key: SendKey = (room, client.user_id, msg_id)
        known = self._sent.get(key) or await self._wait_in_flight(key)
        claim = None
        if known is None:
            claim = await self.bus.claim(room, client.user_id, msg_id)
            if claim.state == "duplicate":
                known = (claim.seq, claim.ts)
                self._remember(key, claim.seq, claim.ts)
            elif claim.state == "pending":
                client.send(
                    protocol.error(
                        "store_failed",
                        "this message is still being stored: retry with the same msgId",
                        msg_id=msg_id,
                        room=room,
                    )
                )
                return
        if known is not None:
            client.send(protocol.ack(room, msg_id, known[0], known[1], duplicate=True))
            return
        assert claim is not None
        # A seq an earlier attempt got but may not have stored under: reuse it, so that
        # a put whose answer was lost can never become a second message.
        retry_seq = claim.seq if claim.state == "retry" else self._failed.pop(key, None)
        future: asyncio.Future[tuple[int, int] | None] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        seq: int | None = retry_seq
        duplicate = False
        try:
            existing = await self.store.find_seq(room, seq) if seq is not None else None
            if existing is not None and existing.msg_id == msg_id:
                message, duplicate = existing, True
            else:
                if seq is None:
                    seq = await self.store.next_seq(room)
                message = await self.store.put_message(
                    room, seq, msg_id, client.user_id, client.nickname, frame.text
                )
        except AwsError as error:
            future.set_result(None)
            log.warning(
                "store_failed", connectionId=client.connection_id, room=room, error=str(error)
            )
            await self._store_failed(key, claim, seq)
            client.send(
                protocol.error(
                    "store_failed",
                    "not stored: retry with the same msgId",
                    msg_id=msg_id,
                    room=room,
                )
            )
            return
        finally:
            self._in_flight.pop(key, None)
        future.set_result((message.seq, message.ts))
        self._remember(key, message.seq, message.ts)
        client.send(protocol.ack(room, msg_id, message.seq, message.ts, duplicate=duplicate))
        self.hub.deliver(message)
        try:
            await self.bus.publish_message(message)
        except BusDown:
            # Other tasks catch up when Redis is back (re-sync from DynamoDB).
            self._unrecorded.append((key, message.seq, message.ts))

    async def _store_failed(self, key: SendKey, claim: Claim, seq: int | None) -> None:
        """Leave what a retry needs: the seq it must reuse, or a free msgId."""
        room, user_id, msg_id = key
        try:
            if seq is None:
                if claim.state == "new":
                    await self.bus.release(room, user_id, msg_id)
                return
            self._failed[key] = seq
            while len(self._failed) > SENT_CACHE:
                self._failed.popitem(last=False)
            if claim.state != "unavailable":
                await self.bus.retry_later(room, user_id, msg_id, seq)
        except BusDown:
            pass

    async def _wait_in_flight(self, key: SendKey) -> tuple[int, int] | None:
        """The outcome of the same send still being stored on this process, if any."""
        future = self._in_flight.get(key)
        if future is None:
            return None
        try:
            async with asyncio.timeout(CALL_TIMEOUT * 2):
                return await asyncio.shield(future)
        except TimeoutError:
            return None

    def _remember(self, key: SendKey, seq: int, ts: int) -> None:
        self._sent[key] = (seq, ts)
        self._sent.move_to_end(key)
        while len(self._sent) > SENT_CACHE:
            self._sent.popitem(last=False)

    # Presence --------------------------------------------------------------------

    async def _presence_members(self, room: str) -> list[tuple[str, str]]:
        members: dict[str, str] = {}
        try:
            for user_id, nickname in (await self.bus.presence(room)).values():
                members[user_id] = nickname
        except BusDown:
            pass
        for client in self.hub.members(room):
            members[client.user_id] = client.nickname
        return sorted(members.items(), key=lambda item: (len(item[0]), item[0]))

    def _schedule_presence(self, room: str) -> None:
        """Send the room's members a fresh snapshot soon (changes meanwhile merge)."""
        if room in self._presence_due or room not in self.hub.rooms:
            return
        self._presence_due.add(room)
        self.tasks.spawn(self._send_presence(room), "presence")

    async def _send_presence(self, room: str) -> None:
        local = self.hub.count(room)
        delay = min(PRESENCE_DEBOUNCE_MAX, PRESENCE_DEBOUNCE * (1 + local // 100))
        try:
            await asyncio.sleep(delay)
        finally:
            self._presence_due.discard(room)
        members = await self._presence_members(room)
        self.hub.broadcast(room, protocol.presence(room, members))

    def _presence_entries(self) -> list[tuple[str, str, str, str]]:
        return [
            (room, client.connection_id, client.user_id, client.nickname)
            for client in list(self.hub.clients.values())
            for room in client.rooms
        ]

    async def _refresh_presence(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_REFRESH)
            entries = self._presence_entries()
            for start in range(0, len(entries), PRESENCE_BATCH):
                try:
                    await self.bus.presence_set(
                        entries[start : start + PRESENCE_BATCH], announce=False
                    )
                except BusDown:
                    break

    async def _refresh_connections(self) -> None:
        while True:
            await asyncio.sleep(CONNECTION_REFRESH)
            ids = list(self.hub.clients)
            for start in range(0, len(ids), CONNECTION_BATCH):
                batch = ids[start : start + CONNECTION_BATCH]
                results = await asyncio.gather(
                    *(self.store.refresh_connection(cid) for cid in batch), return_exceptions=True
                )
                failed = [r for r in results if isinstance(r, Exception)]
                if failed:
                    log.warning("connection_refresh_failed", error=str(failed[0]))
                    break

    # Events from other tasks, and re-sync after an outage ------------------------

    def _on_event(self, event: Event) -> None:
        if event.room not in self.hub.rooms:
            return
        if event.kind == "m" and event.message is not None:
            self.hub.deliver(event.message)
        elif event.kind == "t":
            self.hub.broadcast(
                event.room, protocol.typing(event.room, event.user_id, event.nickname)
            )
        elif event.kind == "p":
            self._schedule_presence(event.room)

    async def _on_bus_up(self) -> None:
        self.tasks.spawn(self._resync(), "resync")

    async def _resync(self) -> None:
        """After (re)connecting to Redis: restore presence and dedupe records, and give
        every local member what other tasks stored while this one could not hear them."""
        try:
            entries = self._presence_entries()
            for start in range(0, len(entries), PRESENCE_BATCH):
                await self.bus.presence_set(entries[start : start + PRESENCE_BATCH], announce=True)
            while self._unrecorded:
                (room, user_id, msg_id), seq, ts = self._unrecorded[0]
                await self.bus.record(room, user_id, msg_id, seq, ts)
                self._unrecorded.popleft()
        except BusDown:
            return
        delivered = 0
        rooms = list(self.hub.rooms)
        for room in rooms:
            after = self.hub.resync_point(room)
            if after is None:
                continue
            try:
                upto = await self.store.latest_seq(room)
                if upto <= after:
                    continue
                missed = await self.store.messages_after(room, after, upto)
                if missed is None:
                    missed = await self.store.latest_messages(room, protocol.MAX_REPLAY)
            except AwsError as error:
                log.warning("resync_failed", room=room, error=str(error))
                continue
            for message in missed:
                delivered += self.hub.deliver(message)
            self._schedule_presence(room)
        if rooms:
            log.info("resynced", rooms=len(rooms), delivered=delivered)
