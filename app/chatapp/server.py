"""The server: wiring, the per-connection handler, lifecycle and shutdown.

One `websockets.asyncio.server.serve` listener: HTTP routes in `process_request`,
`/ws` handled by `App.handle`, one coroutine per connection (as websockets'
tutorial app). No compression (it costs ~50-100 KiB per connection), frames of at
most 16 KiB, a bounded receive queue, a protocol ping every 20 s.

Lifecycle: SIGTERM drains (see draining.py) and exits once every client has gone, or
DRAIN_SECONDS + 5 s after the signal, with exit code 0; SIGINT closes everyone with
1001 at once. Background tasks belong to the object that started them and are
cancelled on the way out.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import time
import traceback
import uuid

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from chatapp import protocol, tokens
from chatapp.aws import Aws, AwsError
from chatapp.config import Config
from chatapp.draining import Draining, task_identity
from chatapp.hub import PACED_BYTES, Client
from chatapp.logs import log
from chatapp.metrics import Metrics
from chatapp.protocol import Auth, ProtocolError
from chatapp.routes import Routes
from chatapp.service import ChatService, Flooding
from chatapp.store import Store
from chatapp.tasks import TaskSet

AUTH_TIMEOUT = 10.0
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0
CLOSE_TIMEOUT = 5.0
MAX_RECEIVE_QUEUE = 16
# The kernel's send buffer per connection (Linux doubles it). Fixed instead of
# autotuned (up to 4 MB): the peer is the ALB, close by, and unsent frames should
# wait in the process, where the 1 MiB slow-consumer limit sees them.
SOCKET_SEND_BUFFER = 128 * 1024
SHUTDOWN_GRACE = 5.0


def _send(ws: ServerConnection, frame: str) -> None:
    """Write a frame to a connection that has no Client yet (during `auth`)."""
    broadcast((ws,), frame)


class App:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.stop = asyncio.Event()
        self.stop_signal: str | None = None
        self.tasks = TaskSet("app")

    async def run(self) -> int:
        config = self.config
        loop = asyncio.get_running_loop()
        identity = await task_identity(config, f"{socket.gethostname()}-{os.getpid()}")
        self.task = identity.task_id
        self.aws = Aws(config.aws_region)
        self.service = ChatService(
            config,
            self.task,
            origin=f"{self.task}-{secrets.token_hex(4)}",
            store=Store(config, self.aws, task=self.task),
        )
        self.draining = Draining(config, self.service.hub)
        routes = Routes(config, self.task, self.service, self.draining, self.stop.is_set)
        self.service.start()
        metrics = None
        if config.metrics_namespace:
            metrics = Metrics(
                config,
                self.aws,
                self.task,
                lambda: len(self.service.hub),
                draining=lambda: self.draining.active,
            )
            self.tasks.spawn(metrics.run(), "metrics")
        if config.target_group_arn and identity.ip:
            self.tasks.spawn(self.draining.watch_target(self.aws, identity.ip), "target-watch")
        else:
            log.info("target_watch_off", reason="no TARGET_GROUP_ARN or task metadata")

        loop.add_signal_handler(signal.SIGTERM, self._signal, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self._signal, "SIGINT")
        try:
            server = await serve(
                self.handle,
                config.host,
                config.port,
                process_request=routes,
                compression=None,
                max_size=protocol.MAX_FRAME_BYTES,
                max_queue=MAX_RECEIVE_QUEUE,
                ping_interval=PING_INTERVAL,
                ping_timeout=PING_TIMEOUT,
                close_timeout=CLOSE_TIMEOUT,
                write_limit=PACED_BYTES,
                server_header=None,
            )
        except OSError as error:
            log.error("listen_failed", host=config.host, port=config.port, error=str(error))
            await self._stop_background(None)
            return 1
        log.info(
            "listening",
            host=config.host,
            port=config.port,
            colour=config.colour,
            version=config.version,
            task=self.task,
        )
        await self.stop.wait()
        if self.stop_signal == "SIGTERM":
            self.draining.start("sigterm")
            await self._wait_for_clients(config.drain_seconds + SHUTDOWN_GRACE)
        self.service.hub.writes.flush()
        server.close(close_connections=True)  # whoever is left: 1001 going away
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT + SHUTDOWN_GRACE):
                await server.wait_closed()
        except TimeoutError:
            log.warning("shutdown_timeout", connections=len(self.service.hub))
        await self._stop_background(metrics)
        log.info("stopped", signal=self.stop_signal)
        return 0

    async def _stop_background(self, metrics: Metrics | None) -> None:
        await self.tasks.cancel_all()
        await self.draining.tasks.cancel_all()
        if metrics is not None:
            await metrics.put(0)
        await self.service.close()
        self.aws.close()

    def _signal(self, name: str) -> None:
        log.info("signal", signal=name, connections=len(self.service.hub))
        if self.stop_signal is None or name == "SIGINT":
            self.stop_signal = name
        self.stop.set()

    async def _wait_for_clients(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.service.hub) and time.monotonic() < deadline:
            if self.stop_signal == "SIGINT":
                return
            await asyncio.sleep(0.1)

    # One connection ---------------------------------------------------------------

    async def handle(self, ws: ServerConnection) -> None:
        sock = ws.transport.get_extra_info("socket") if ws.transport else None
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER)
        if self.draining.active or self.stop.is_set():
            _send(ws, protocol.reconnect(1000))
            await refuse(ws, protocol.CLOSE_SERVICE_RESTART, "service restart")
            return
        auth = await self._first_frame(ws)
        if auth is None:
            return
        connection_id = uuid.uuid4().hex
        try:
            user_id, nickname, resumed = await self.service.authenticate(auth)
        except tokens.TokenError as error:
            log.info("token_refused", connectionId=connection_id, reason=error.reason)
            _send(ws, protocol.error("invalid_token", str(error)))
            await refuse(ws, protocol.CLOSE_TOKEN, "invalid token")
            return
        except AwsError as error:
            log.error("user_id_failed", connectionId=connection_id, error=str(error))
            _send(ws, protocol.error("internal", "cannot sign you in now: reconnect later"))
            await refuse(ws, protocol.CLOSE_INTERNAL, "internal error")
            return
        if self.draining.active or self.stop.is_set():
            # Draining began while this client was signing in: send it on its way too.
            _send(ws, protocol.reconnect(1000))
            await refuse(ws, protocol.CLOSE_SERVICE_RESTART, "service restart")
            return
        client = self.service.connect(ws, connection_id, user_id, nickname, resumed)
        log.info(
            "connected",
            connectionId=connection_id,
            userId=user_id,
            resumed=resumed,
            connections=len(self.service.hub),
        )
        try:
            await self._serve(client)
        finally:
            await self.service.disconnect(client)
            log.info(
                "disconnected",
                connectionId=connection_id,
                userId=user_id,
                code=ws.close_code,
                connections=len(self.service.hub),
            )

    async def _first_frame(self, ws: ServerConnection) -> Auth | None:
        """The `auth` frame, or None once the connection is closed (4001 if not auth)."""
        deadline = asyncio.get_running_loop().time() + AUTH_TIMEOUT
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    raw = await ws.recv()
            except TimeoutError:
                _send(ws, protocol.error("auth_required", "send auth first, within 10 s"))
                break
            except ConnectionClosed:
                return None
            if isinstance(raw, bytes):
                _send(ws, protocol.error("binary_not_supported", "frames are JSON text"))
                continue
            try:
                frame = protocol.parse(raw)
            except ProtocolError as error:
                _send(ws, protocol.error_frame(error))
                break
            if isinstance(frame, Auth):
                return frame
            _send(ws, protocol.error("auth_required", "the first frame must be auth"))
            break
        await refuse(ws, protocol.CLOSE_AUTH, "auth required")
        return None

    async def _serve(self, client: Client) -> None:
        """Read the client's frames until the connection closes.

        Closing (flooding, a slow consumer, draining, an internal error) goes through
        `client.close`; this loop keeps reading meanwhile and ignores what comes, so
        the peer's close frame is read even behind a queue of frames.
        """
        ws = client.ws
        loop = asyncio.get_running_loop()
        try:
            async for raw in ws:
                if client.closing:
                    continue
                now = loop.time()
                try:
                    await self._frame(client, raw, now)
                except Flooding:
                    log.warning(
                        "flooding", connectionId=client.connection_id, userId=client.user_id
                    )
                    client.close(protocol.CLOSE_FLOODING, "rate limit exceeded")
                except Exception as error:
                    log.error(
                        "connection_failed",
                        connectionId=client.connection_id,
                        error=repr(error),
                        trace=traceback.format_exc(limit=8),
                    )
                    client.send(protocol.error("internal", "internal error"))
                    client.close(protocol.CLOSE_INTERNAL, "internal error")
        except ConnectionClosed:
            pass

    async def _frame(self, client: Client, raw: str | bytes, now: float) -> None:
        if not client.frames.take(now):
            self.service.rate_limited(client, now, "frames")
            return
        if isinstance(raw, bytes):
            client.send(protocol.error("binary_not_supported", "frames are JSON text"))
            return
        try:
            frame = protocol.parse(raw)
        except ProtocolError as error:
            client.send(protocol.error_frame(error))
            return
        await self.service.handle(client, frame, now)


async def refuse(ws: ServerConnection, code: int, reason: str) -> None:
    """Close a connection that has no Client (yet), reading and dropping its frames
    meanwhile so its close frame is seen; abort it if that takes too long."""
    closing = asyncio.ensure_future(ws.close(code, reason))
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed:
                pass
            await closing
    except TimeoutError:
        closing.cancel()
        if ws.transport is not None:
            ws.transport.abort()


async def run(config: Config) -> int:
    return await App(config).run()
