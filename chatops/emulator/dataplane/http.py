"""HTTP/1.1 plumbing shared by the local ALB and edge: heads, bodies, splicing.

Only what a reverse proxy needs: parse and render request and response heads, relay a
body by its framing (Content-Length, chunked, or until the connection closes), and
splice an upgraded connection byte for byte. The splice hands both sockets to small
protocols that write what one side receives straight to the other (with flow control),
so a WebSocket message costs two callbacks in the proxy and no coroutine switch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024
HOP_BY_HOP = frozenset({"keep-alive", "proxy-connection", "te", "trailer", "proxy-authenticate"})
REASONS = {
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.1."""


@dataclass
class Head:
    """A request or response head. `first` is the start line; headers keep their order."""

    first: tuple[str, str, str]
    headers: list[tuple[str, str]] = field(default_factory=list)

    # Request view
    @property
    def method(self) -> str:
        return self.first[0]

    @property
    def target(self) -> str:
        return self.first[1]

    @property
    def path(self) -> str:
        return self.first[1].split("?", 1)[0]

    # Response view
    @property
    def status(self) -> int:
        return int(self.first[1])

    def get(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]

    def remove(self, name: str) -> None:
        lowered = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lowered]

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self.headers.append((name, value))

    def tokens(self, name: str) -> frozenset[str]:
        values = self.get_all(name)
        return frozenset(token.strip().lower() for value in values for token in value.split(","))

    @property
    def is_upgrade(self) -> bool:
        return "upgrade" in self.tokens("connection") and self.get("upgrade") is not None

    def keep_alive(self) -> bool:
        connection = self.tokens("connection")
        if self.first[2] == "HTTP/1.0" or self.first[0] == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection

    def render(self) -> bytes:
        lines = [" ".join(self.first)] + [f"{k}: {v}" for k, v in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_head(raw: bytes, *, response: bool) -> Head:
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as error:  # pragma: no cover - latin-1 decodes anything
        raise ProtocolError(str(error)) from None
    lines = text.rstrip("\r\n").split("\r\n")
    parts = lines[0].split(" ", 2)
    if response:
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {lines[0]!r}")
        first = (parts[0], parts[1], parts[2] if len(parts) > 2 else "")
    else:
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise ProtocolError(f"bad request line {lines[0]!r}")
        first = (parts[0], parts[1], parts[2])
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(f"bad header line {line!r}")
        headers.append((name, value.strip()))
    return Head(first, headers)


async def read_head(reader: asyncio.StreamReader) -> bytes | None:
    """The next head, or None when the peer closed before sending one."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if error.partial.strip():
            raise ProtocolError("connection closed in the middle of a head") from None
        return None
    except asyncio.LimitOverrunError:
        raise ProtocolError("head too large") from None


def response(
    status: int,
    body: bytes = b"",
    content_type: str = "text/html",
    extra: list[tuple[str, str]] | None = None,
    *,
    server: str = "awselb/2.0",
    close: bool = False,
) -> bytes:
    headers = [
        ("Server", server),
        ("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())),
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        *(extra or []),
    ]
    if close:
        headers.append(("Connection", "close"))
    head = Head(("HTTP/1.1", str(status), REASONS.get(status, "")), headers)
    return head.render() + body


def error_page(status: int) -> bytes:
    title = f"{status} {REASONS.get(status, '')}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()


Touch = Callable[[], None]


async def relay_body(
    head: Head,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    request_method: str | None = None,
    touch: Touch | None = None,
) -> bool:
    """Copy the body that follows `head` from `reader` to `writer`.

    For a response, `request_method` is the method it answers. Returns False when the
    body ends with the connection (the connection cannot be reused).
    """
    is_response = request_method is not None
    if is_response:
        status = head.status
        if request_method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return True
    if "chunked" in head.tokens("transfer-encoding"):
        while True:
            size_line = await reader.readuntil(b"\r\n")
            writer.write(size_line)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    line = await reader.readuntil(b"\r\n")
                    writer.write(line)
                    if line == b"\r\n":
                        break
                break
            await _copy(reader, writer, size + 2, touch)
        await writer.drain()
        return True
    length = head.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ProtocolError(f"bad Content-Length {length!r}")
        await _copy(reader, writer, int(length), touch)
        return True
    if not is_response:
        return True  # a request without a length has no body
    while chunk := await reader.read(CHUNK):
        writer.write(chunk)
        if touch:
            touch()
        await writer.drain()
    return False


async def _copy(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, size: int, touch: Touch | None
) -> None:
    while size > 0:
        chunk = await reader.read(min(size, CHUNK))
        if not chunk:
            raise ProtocolError("connection closed in the middle of a body")
        writer.write(chunk)
        size -= len(chunk)
        if touch:
            touch()
        await writer.drain()


# --- splicing ---------------------------------------------------------------------------


class _Pipe(asyncio.Protocol):
    """Receives on one transport and writes to its peer; stops reading when the peer
    cannot keep up."""

    def __init__(self, activity: Activity, done: asyncio.Future[None]) -> None:
        self.peer: asyncio.Transport | None = None
        self.activity = activity
        self.done = done

    def data_received(self, data: bytes) -> None:
        self.activity.last = time.monotonic()
        if self.peer is not None:
            self.peer.write(data)

    def eof_received(self) -> bool:
        if self.peer is not None and self.peer.can_write_eof() and not self.peer.is_closing():
            self.peer.write_eof()
            return True  # keep the other direction open (half close)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.close()
        if not self.done.done():
            self.done.set_result(None)

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and not self.peer.is_closing():
            self.peer.resume_reading()


@dataclass
class Activity:
    """When bytes last moved on a connection (for the idle timeout)."""

    last: float = field(default_factory=time.monotonic)

    def touch(self) -> None:
        self.last = time.monotonic()


async def splice(
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    activity: Activity,
) -> None:
    """Relay bytes both ways until both sides are closed."""
    loop = asyncio.get_running_loop()
    client_transport = _transport(client[1])
    upstream_transport = _transport(upstream[1])
    done_client: asyncio.Future[None] = loop.create_future()
    done_upstream: asyncio.Future[None] = loop.create_future()
    from_client = _Pipe(activity, done_client)
    from_upstream = _Pipe(activity, done_upstream)
    from_client.peer = upstream_transport
    from_upstream.peer = client_transport
    # Bytes the stream readers already hold go first.
    for (reader, _), peer in ((client, upstream_transport), (upstream, client_transport)):
        buffered: bytearray = reader._buffer  # type: ignore[attr-defined]
        if buffered:
            peer.write(bytes(buffered))
            buffered.clear()
    for transport, pipe, reader in (
        (client_transport, from_client, client[0]),
        (upstream_transport, from_upstream, upstream[0]),
    ):
        if transport.is_closing():
            pipe.connection_lost(None)
            continue
        transport.set_protocol(pipe)
        if reader.at_eof():
            pipe.eof_received()
        transport.resume_reading()
    await asyncio.wait([done_client, done_upstream], return_when=asyncio.ALL_COMPLETED)


def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a stream unless it is already closing (a peer gone, or a splice that ended)."""
    if not _transport(writer).is_closing():
        writer.close()


def _transport(writer: asyncio.StreamWriter) -> asyncio.Transport:
    transport: Any = writer.transport
    return transport  # type: ignore[no-any-return]
