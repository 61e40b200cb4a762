"""A minimal WebSocket client (RFC 6455) on asyncio.Protocol, for generating load.

Thousands of connections in one process, each costing a protocol object and a buffer:
frames are parsed in `data_received` without a task per connection, text payloads are
handed over as bytes (the caller decides what to decode), pings are answered at once.
Client frames are masked as the RFC requires. No extensions (no compression), no
fragmented sends; fragmented receives are reassembled.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable
from urllib.parse import urlsplit

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

HANDSHAKE_LIMIT = 16 * 1024


class HandshakeError(Exception):
    """The server did not switch protocols."""


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR `payload` with the repeated 4-byte `key` (as whole integers: fast enough)."""
    size = len(payload)
    if not size:
        return b""
    repeated = (key * (size // 4 + 1))[:size]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")
    return value.to_bytes(size, "little")


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    key = os.urandom(4)
    return header + key + mask(payload, key)


class WebSocketClient(asyncio.Protocol):
    """One connection. `on_text(payload)` gets each text message; `on_close(code)` once."""

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        on_text: Callable[[bytes], None],
        on_close: Callable[[int], None],
    ) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            f"Origin: http://{host}:{port}\r\n"
            "\r\n"
        ).encode()
        self.on_text = on_text
        self.on_close = on_close
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.fragments: list[bytes] = []
        self.fragments_binary = False
        self.upgraded = False
        self.closed = False
        self.close_code = 1006
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # ---- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > HANDSHAKE_LIMIT:
                    self.fail(HandshakeError("handshake response too large"))
                return
            status = bytes(self.buffer[: self.buffer.find(b"\r\n")]).decode("latin-1")
            if " 101 " not in status + " ":
                self.fail(HandshakeError(status or "no status line"))
                return
            del self.buffer[: end + 4]
            self.upgraded = True
            if not self.opened.done():
                self.opened.set_result(None)
        self.parse()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed:
            self.closed = True
            self.on_close(self.close_code)

    # ---- frames ---------------------------------------------------------------------------

    def parse(self) -> None:
        buffer = self.buffer
        offset = 0
        size = len(buffer)
        while size - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1]
            length = second & 0x7F
            start = offset + 2
            if length == 126:
                if size - start < 2:
                    break
                (length,) = struct.unpack_from("!H", buffer, start)
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                (length,) = struct.unpack_from("!Q", buffer, start)
                start += 8
            if second & 0x80:  # a masked server frame is a protocol error
                self.abort(1002)
                return
            end = start + length
            if end > size:
                break
            payload = bytes(buffer[start:end])
            offset = end
            self.handle(first & 0x80, first & 0x0F, payload)
            if self.closed:
                return
        if offset:
            del buffer[:offset]

    def handle(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode == OP_TEXT or opcode == OP_BINARY:
            if fin:
                if opcode == OP_TEXT:
                    self.on_text(payload)
            else:
                self.fragments = [payload] if opcode == OP_TEXT else []
                self.fragments_binary = opcode == OP_BINARY
        elif opcode == OP_CONTINUATION:
            self.fragments.append(payload)
            if fin:
                whole = b"".join(self.fragments)
                self.fragments = []
                if not self.fragments_binary:
                    self.on_text(whole)
        elif opcode == OP_PING:
            self.write(frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self.write(frame(OP_CLOSE, payload[:2]))
            self.finish()

    # ---- sending and closing ------------------------------------------------------------

    def send_text(self, text: str) -> None:
        self.write(frame(OP_TEXT, text.encode()))

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake; the server's close frame ends the connection."""
        self.write(frame(OP_CLOSE, struct.pack("!H", code)))

    def abort(self, code: int) -> None:
        self.close_code = code
        self.finish()

    def finish(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def fail(self, error: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(error)
        self.finish()


async def connect(
    url: str,
    on_text: Callable[[bytes], None],
    on_close: Callable[[int], None],
    created: Callable[[WebSocketClient], None] | None = None,
) -> WebSocketClient:
    """Open `url` (ws://host:port/path?query) and wait for the upgrade.

    `created` gets the protocol before any data arrives: frames that come with the
    upgrade response are handled before this coroutine returns.
    """
    parts = urlsplit(url)
    if parts.scheme != "ws" or parts.hostname is None:
        raise ValueError(f"only ws:// URLs are supported, not {url!r}")
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    loop = asyncio.get_running_loop()

    def factory() -> WebSocketClient:
        protocol = WebSocketClient(parts.hostname or "", port, path, on_text, on_close)
        if created is not None:
            created(protocol)
        return protocol

    _, protocol = await loop.create_connection(factory, parts.hostname, port)
    await protocol.opened
    return protocol
