"""HTTP routes, answered during the WebSocket opening handshake (`process_request`).

- ``GET /health``: 200 while the process can serve (Redis down still serves: sends are
  stored and acknowledged), 503 once draining or shutting down. The ALB's check.
- ``GET /ws``: the WebSocket (503 while draining).
- ``GET /api/info``: colour, version, task, connections, draining.
- ``GET /api/rooms/{room}/messages?before=<seq>&limit=<1..100>``: a history page,
  with ``Authorization: Bearer <resumeToken>``.
- ``GET /api/me/messages?before=<ts>&limit=<1..100>``: the token's user's messages in
  every room, newest first (the messages table's user index).
- With WEB_ROOT: the web client's files at ``/``.
"""

from __future__ import annotations

import email.utils
import http
import json
import mimetypes
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from chatapp import protocol, tokens
from chatapp.aws import AwsError
from chatapp.config import Config
from chatapp.draining import Draining
from chatapp.logs import log
from chatapp.service import ChatService

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
}
ROOM_MESSAGES = "/api/rooms/"
MY_MESSAGES = "/api/me/messages"
# A messages sort key: epoch milliseconds, with the fraction a same-ms message takes.
SORT_KEY = re.compile(r"[1-9][0-9]{0,15}(\.[0-9]{1,3})?")


def response(
    status: int, body: bytes, content_type: str, extra: list[tuple[str, str]] | None = None
) -> Response:
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
            *(extra or []),
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def json_response(status: int, data: dict[str, Any]) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return response(status, body, "application/json", [("Cache-Control", "no-store")])


def problem(status: int, code: str, message: str) -> Response:
    return json_response(status, {"error": code, "message": message})


class Routes:
    def __init__(
        self,
        config: Config,
        task: str,
        service: ChatService,
        draining: Draining,
        stopping: Callable[[], bool],
    ) -> None:
        self.config = config
        self.task = task
        self.service = service
        self.draining = draining
        self.stopping = stopping

    def refusing(self) -> bool:
        return self.draining.active or self.stopping()

    async def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/ws":
            if self.refusing():
                return json_response(503, {"status": "draining"})
            return None
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return problem(404, "not_found", "the WebSocket endpoint is /ws")
        if path == "/health":
            return self.health()
        if path == "/api/info":
            return self.info()
        if path == MY_MESSAGES:
            return await self.my_messages(request)
        if path.startswith(ROOM_MESSAGES) and path.endswith("/messages"):
            return await self.history(request, path[len(ROOM_MESSAGES) : -len("/messages")])
        if self.config.web_root is not None and not path.startswith("/api/"):
            return self.static(self.config.web_root, path)
        return problem(404, "not_found", "no such route")

    def health(self) -> Response:
        if self.refusing():
            return json_response(503, {"status": "draining"})
        return json_response(
            200,
            {
                "status": "ok",
                "colour": self.config.colour,
                "version": self.config.version,
                "connections": len(self.service.hub),
                "redis": "up" if self.service.bus.up else "down",
            },
        )

    def info(self) -> Response:
        return json_response(
            200,
            {
                "colour": self.config.colour,
                "version": self.config.version,
                "task": self.task,
                "connections": len(self.service.hub),
                "draining": self.refusing(),
            },
        )

    def identity(self, request: Request) -> tokens.Identity | Response:
        """Who the request's resume token proves, or the 401 to answer."""
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return problem(401, "auth_required", "send Authorization: Bearer <resumeToken>")
        try:
            return tokens.verify(self.config.session_secret, token.strip(), time.time())
        except tokens.TokenError as error:
            return problem(401, "invalid_token", str(error))

    async def history(self, request: Request, room: str) -> Response:
        identity = self.identity(request)
        if isinstance(identity, Response):
            return identity
        if not protocol.ROOM_PATTERN.fullmatch(unquote(room)):
            return problem(400, "invalid_room", "no such room name")
        query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
        try:
            before = _integer(query, "before", None, 1, 2**53)
            limit = _integer(
                query,
                "limit",
                protocol.HISTORY_DEFAULT_LIMIT,
                1,
                protocol.HISTORY_MAX_LIMIT,
            )
        except ValueError as error:
            return problem(400, "invalid_field", str(error))
        assert limit is not None
        try:
            messages, more = await self.service.store.messages_before(unquote(room), before, limit)
        except AwsError as error:
            log.warning("history_failed", room=room, error=str(error))
            return problem(503, "internal", "history is unavailable: retry later")
        return json_response(
            200,
            {
                "room": unquote(room),
                "messages": [message.to_dict() for message in messages],
                "more": more,
            },
        )

    async def my_messages(self, request: Request) -> Response:
        identity = self.identity(request)
        if isinstance(identity, Response):
            return identity
        query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
        values = query.get("before")
        before = values[-1] if values else None
        if before is not None and not SORT_KEY.fullmatch(before):
            return problem(
                400,
                "invalid_field",
                "before must be epoch milliseconds (e.g. 1712345678901) or a page's next",
            )
        try:
            limit = _integer(
                query, "limit", protocol.HISTORY_DEFAULT_LIMIT, 1, protocol.HISTORY_MAX_LIMIT
            )
        except ValueError as error:
            return problem(400, "invalid_field", str(error))
        assert limit is not None
        try:
            messages, following = await self.service.store.messages_of_user(
                identity.user_id, before, limit
            )
        except AwsError as error:
            log.warning("my_messages_failed", user=identity.user_id, error=str(error))
            return problem(503, "internal", "your messages are unavailable: retry later")
        return json_response(
            200,
            {
                "userId": identity.user_id,
                "messages": [message.to_dict() for message in messages],
                "next": following,
            },
        )

    @staticmethod
    def static(root: Path, path: str) -> Response:
        relative = unquote(path).lstrip("/")
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        try:
            target = (root / relative).resolve()
            if not target.is_relative_to(root) or not target.is_file():
                return problem(404, "not_found", "no such file")
            body = target.read_bytes()
        except (OSError, ValueError):
            return problem(404, "not_found", "no such file")
        content_type = CONTENT_TYPES.get(target.suffix.lower()) or (
            mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        )
        return response(200, body, content_type, [("Cache-Control", "no-cache")])


def _integer(
    query: dict[str, list[str]], name: str, default: int | None, low: int, high: int
) -> int | None:
    values = query.get(name)
    if not values:
        return default
    value = values[-1]
    if not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}")
    return int(value)
