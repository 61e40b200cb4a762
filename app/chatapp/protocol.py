"""The WebSocket protocol: frames in (parsed and validated), frames out (encoded). No I/O.

Every frame is a JSON object with a `type`. Client frames become small frozen
dataclasses; anything wrong becomes a `ProtocolError` carrying the error code the
client receives. Server frames are built here and encoded once (compact JSON, UTF-8
text as is: HTML in a message stays text, the web client renders it with textContent).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Limits, announced to every client in `hello`.
MAX_FRAME_BYTES = 16 * 1024
MAX_TEXT_LENGTH = 2000
MAX_NICKNAME_LENGTH = 24
MAX_ROOMS = 10
SENDS_PER_SECOND = 5
SEND_BURST = 10
# All frames of a connection, whatever their type: a ceiling far above any real client.
FRAMES_PER_SECOND = 30.0
FRAME_BURST = 60
# 20 rate-limit violations within 10 s close the connection (4008).
MAX_VIOLATIONS = 20
VIOLATION_WINDOW = 10.0
TYPING_INTERVAL = 1.0
# `join` with a gap larger than this resets the room to its latest page.
MAX_REPLAY = 500
RESET_PAGE = 50
HISTORY_MAX_LIMIT = 100
HISTORY_DEFAULT_LIMIT = 50

ROOM_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MSG_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_PING_ID_LENGTH = 64
MAX_TOKEN_LENGTH = 2048

# Close codes.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_AUTH = 4001
CLOSE_TOKEN = 4003
CLOSE_FLOODING = 4008
CLOSE_SLOW_CONSUMER = 4009

ERROR_CODES = frozenset(
    {
        "invalid_json",
        "unknown_type",
        "invalid_field",
        "text_too_long",
        "empty_text",
        "invalid_room",
        "not_joined",
        "too_many_rooms",
        "rate_limited",
        "auth_required",
        "already_authenticated",
        "invalid_token",
        "binary_not_supported",
        "store_failed",
        "internal",
    }
)


class ProtocolError(Exception):
    """A frame the server refuses; `code` is one of ERROR_CODES."""

    def __init__(
        self, code: str, message: str, *, msg_id: str | None = None, room: str | None = None
    ) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
        self.msg_id = msg_id
        self.room = room


# Frames in -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Auth:
    token: str | None
    nickname: str | None


@dataclass(frozen=True, slots=True)
class Join:
    room: str
    after: int | None


@dataclass(frozen=True, slots=True)
class Leave:
    room: str


@dataclass(frozen=True, slots=True)
class Send:
    room: str
    text: str
    msg_id: str


@dataclass(frozen=True, slots=True)
class Typing:
    room: str


@dataclass(frozen=True, slots=True)
class Ping:
    id: str | int | None


ClientFrame = Auth | Join | Leave | Send | Typing | Ping


def parse(raw: str) -> ClientFrame:
    """The client frame in `raw`, validated; raises ProtocolError."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProtocolError("invalid_json", "the frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_json", "a frame must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_field", "type is required and must be a string")
    parser: Callable[[dict[str, Any]], ClientFrame] | None = _PARSERS.get(kind)
    if parser is None:
        raise ProtocolError("unknown_type", f"unknown frame type {kind[:32]!r}")
    return parser(data)


def _auth(data: dict[str, Any]) -> Auth:
    token = data.get("token")
    if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH):
        raise ProtocolError("invalid_field", "token must be a string (the resumeToken)")
    nickname = data.get("nickname")
    return Auth(
        token=token or None, nickname=None if nickname is None else clean_nickname(nickname)
    )


def clean_nickname(value: object) -> str:
    """A nickname trimmed and checked: 1-24 characters, no control characters."""
    if not isinstance(value, str):
        raise ProtocolError("invalid_field", "nickname must be a string")
    nickname = value.strip()
    if not 1 <= len(nickname) <= MAX_NICKNAME_LENGTH:
        raise ProtocolError(
            "invalid_field", f"nickname must be 1-{MAX_NICKNAME_LENGTH} characters after trimming"
        )
    if any(unicodedata.category(char) == "Cc" for char in nickname):
        raise ProtocolError("invalid_field", "nickname must not contain control characters")
    return nickname


def room_name(value: object) -> str:
    """A valid room name, or ProtocolError (invalid_field for a non-string)."""
    if not isinstance(value, str):
        raise ProtocolError("invalid_field", "room is required and must be a string")
    if not ROOM_PATTERN.fullmatch(value):
        raise ProtocolError(
            "invalid_room",
            "room must be 1-32 characters of a-z, 0-9, '_' or '-', starting with a letter or digit",
            room=value[:64],
        )
    return value


def _join(data: dict[str, Any]) -> Join:
    room = room_name(data.get("room"))
    after = data.get("after")
    if after is not None and (type(after) is not int or after < 0):
        raise ProtocolError("invalid_field", "after must be a non-negative integer", room=room)
    return Join(room=room, after=after)


def _leave(data: dict[str, Any]) -> Leave:
    return Leave(room=room_name(data.get("room")))


def _send(data: dict[str, Any]) -> Send:
    raw_id = data.get("msgId")
    msg_id = raw_id if isinstance(raw_id, str) and MSG_ID_PATTERN.fullmatch(raw_id) else None
    try:
        room = room_name(data.get("room"))
    except ProtocolError as error:
        error.msg_id = msg_id
        raise
    if msg_id is None:
        raise ProtocolError(
            "invalid_field", "msgId must be 8-64 characters of A-Z, a-z, 0-9, '_' or '-'", room=room
        )
    text = data.get("text")
    if not isinstance(text, str):
        raise ProtocolError("invalid_field", "text must be a string", msg_id=msg_id, room=room)
    text = text.strip()
    if not text:
        raise ProtocolError("empty_text", "text is empty", msg_id=msg_id, room=room)
    if len(text) > MAX_TEXT_LENGTH:
        raise ProtocolError(
            "text_too_long",
            f"text is longer than {MAX_TEXT_LENGTH} characters",
            msg_id=msg_id,
            room=room,
        )
    return Send(room=room, text=text, msg_id=msg_id)


def _typing(data: dict[str, Any]) -> Typing:
    return Typing(room=room_name(data.get("room")))


def _ping(data: dict[str, Any]) -> Ping:
    ping_id = data.get("id")
    if ping_id is None:
        return Ping(id=None)
    if type(ping_id) is int or (isinstance(ping_id, str) and len(ping_id) <= MAX_PING_ID_LENGTH):
        return Ping(id=ping_id)
    raise ProtocolError("invalid_field", "id must be an integer or a string of at most 64 chars")


_PARSERS: dict[str, Callable[[dict[str, Any]], ClientFrame]] = {
    "auth": _auth,
    "join": _join,
    "leave": _leave,
    "send": _send,
    "typing": _typing,
    "ping": _ping,
}


# Messages --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """A stored chat message, as the messages table and every frame carry it."""

    room: str
    seq: int
    msg_id: str
    user_id: str
    nickname: str
    text: str
    ts: int  # epoch milliseconds
    colour: str

    def to_dict(self) -> dict[str, Any]:
        """The message object of frames, the history API, the Redis stream and channel."""
        return {
            "room": self.room,
            "seq": self.seq,
            "msgId": self.msg_id,
            "userId": self.user_id,
            "nickname": self.nickname,
            "text": self.text,
            "ts": self.ts,
            "colour": self.colour,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: str | bytes) -> Message:
        """The message in a stream entry; ValueError if malformed."""
        return cls.from_dict(json.loads(raw))

    @classmethod
    def from_dict(cls, data: Any) -> Message:
        """The message object of a channel event; ValueError if malformed."""
        try:
            message = cls(
                room=data["room"],
                seq=data["seq"],
                msg_id=data["msgId"],
                user_id=data["userId"],
                nickname=data["nickname"],
                text=data["text"],
                ts=data["ts"],
                colour=data["colour"],
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed message: {error}") from None
        if type(message.seq) is not int or type(message.ts) is not int:
            raise ValueError("malformed message: seq and ts must be integers")
        return message


# Frames out ------------------------------------------------------------------------


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def message_frame(message: Message, *, replay: bool) -> str:
    body = message.to_json()
    return '{"type":"message",' + body[1:-1] + (',"replay":true}' if replay else ',"replay":false}')


def limits() -> dict[str, Any]:
    return {
        "maxTextLength": MAX_TEXT_LENGTH,
        "maxFrameBytes": MAX_FRAME_BYTES,
        "sendsPerSecond": SENDS_PER_SECOND,
        "burst": SEND_BURST,
        "maxRooms": MAX_ROOMS,
    }


def hello(
    *,
    user_id: str,
    nickname: str,
    resume_token: str,
    resumed: bool,
    colour: str,
    version: str,
    task: str,
    connection_id: str,
) -> str:
    return _dumps(
        {
            "type": "hello",
            "userId": user_id,
            "nickname": nickname,
            "resumeToken": resume_token,
            "resumed": resumed,
            "colour": colour,
            "version": version,
            "task": task,
            "connectionId": connection_id,
            "limits": limits(),
        }
    )


def joined(room: str, seq: int, *, recovered: bool, reset: bool) -> str:
    return _dumps(
        {"type": "joined", "room": room, "seq": seq, "recovered": recovered, "reset": reset}
    )


def left(room: str) -> str:
    return _dumps({"type": "left", "room": room})


def ack(room: str, msg_id: str, seq: int, ts: int, *, duplicate: bool) -> str:
    return _dumps(
        {
            "type": "ack",
            "room": room,
            "msgId": msg_id,
            "seq": seq,
            "ts": ts,
            "duplicate": duplicate,
        }
    )


def presence(room: str, members: list[tuple[str, str]]) -> str:
    return _dumps(
        {
            "type": "presence",
            "room": room,
            "members": [{"userId": user, "nickname": nick} for user, nick in members],
        }
    )


def typing(room: str, user_id: str, nickname: str) -> str:
    return _dumps({"type": "typing", "room": room, "userId": user_id, "nickname": nickname})


def pong(ping_id: str | int | None) -> str:
    return _dumps({"type": "pong", "id": ping_id})


def reconnect(after_ms: int) -> str:
    return _dumps({"type": "reconnect", "reason": "draining", "afterMs": after_ms})


def error(code: str, message: str, *, msg_id: str | None = None, room: str | None = None) -> str:
    assert code in ERROR_CODES, code
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if msg_id is not None:
        frame["msgId"] = msg_id
    if room is not None:
        frame["room"] = room
    return _dumps(frame)


def error_frame(problem: ProtocolError) -> str:
    return error(problem.code, problem.message, msg_id=problem.msg_id, room=problem.room)
