"""Test helpers for the chat server: a server process and a WebSocket test client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import pytest
from chatapp.config import Config
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from chatops.processes import free_port
from tests.helpers import REDIS_PASSWORD, ROOT

SECRET = "test-session-secret-0123456789abcdef"
Frame = dict[str, Any]


def seed_messages(
    dynamodb: Any, tables: dict[str, str], room: str, count: int, text: str = "old {seq}"
) -> None:
    """Store `count` messages in `room` as the server stores them, and its seq counter
    (the send path, rate-limited, would take minutes)."""
    for seq in range(1, count + 1):
        dynamodb.put_item(
            TableName=tables["messages"],
            Item={
                "roomId": {"S": room},
                "timestamp": {"N": str(1_700_000_000_000 + seq)},
                "userId": {"S": "1"},
                "seq": {"N": str(seq)},
                "msgId": {"S": f"seeded-{seq:05d}"},
                "text": {"S": text.format(seq=seq)},
                "nickname": {"S": "seed"},
                "colour": {"S": "blue"},
                "task": {"S": "seed"},
            },
        )
    dynamodb.put_item(
        TableName=tables["user-counter"],
        Item={"counterId": {"S": f"room#{room}"}, "currentValue": {"N": str(count)}},
    )


def stored(dynamodb: Any, table: str, room: str) -> list[dict[str, Any]]:
    """The items of `room` in the messages table."""
    return list(
        dynamodb.query(
            TableName=table,
            KeyConditionExpression="roomId = :r",
            ExpressionAttributeValues={":r": {"S": room}},
        )["Items"]
    )


class ChatServer:
    """`python -m chatapp` as a subprocess, logging to a file; stopped by pid."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = {**env, "PORT": str(self.port)}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 20.0) -> ChatServer:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "chatapp"],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"chatapp exited ({self.process.returncode}):\n{self.tail()}")
            status, _ = get(self.http + "/health")
            if status == 200:
                return self
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"chatapp did not answer /health in {timeout} s:\n{self.tail()}")

    def signal(self, signum: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signum)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (the server drains, then exits), SIGKILL after `timeout`."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            return None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def logs(self) -> list[Frame]:
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def wait_log(self, event: str, timeout: float = 10.0, **fields: Any) -> Frame:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in self.logs():
                if record.get("event") == event and all(
                    record.get(k) == v for k, v in fields.items()
                ):
                    return record
            time.sleep(0.05)
        raise AssertionError(f"no {event} {fields} in the log:\n{self.tail()}")

    def info(self) -> Frame:
        status, body = get(self.http + "/api/info")
        assert status == 200, body
        return dict(json.loads(body))


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, Frame]:
    status, body = get(url, headers)
    return status, (json.loads(body) if body else {})


class ChatClient:
    """A WebSocket client speaking the chat protocol, for tests.

    Every frame received is kept in `received`; `expect` consumes frames from an inbox
    in order, keeping the ones it skips for later calls.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        nickname: str | None = None,
        auth: bool = True,
    ) -> None:
        self._stack = ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(url, open_timeout=10, close_timeout=3, max_size=None)
        )
        self.inbox: deque[Frame] = deque()
        self.received: list[Frame] = []
        self.hello: Frame = {}
        if auth:
            frame: Frame = {"type": "auth"}
            if token is not None:
                frame["token"] = token
            if nickname is not None:
                frame["nickname"] = nickname
            self.send_json(frame)
            self.hello = self.expect("hello")

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    @property
    def user_id(self) -> str:
        return str(self.hello["userId"])

    @property
    def token(self) -> str:
        return str(self.hello["resumeToken"])

    def send_json(self, frame: Frame) -> None:
        self.ws.send(json.dumps(frame, ensure_ascii=False))

    def send_raw(self, data: str | bytes) -> None:
        self.ws.send(data)

    def recv(self, timeout: float) -> Frame:
        raw = self.ws.recv(timeout=timeout)
        frame = dict(json.loads(raw))
        self.received.append(frame)
        return frame

    def expect(
        self,
        kind: str,
        timeout: float = 10.0,
        where: Callable[[Frame], bool] | None = None,
        **fields: Any,
    ) -> Frame:
        """The next frame of type `kind` (with `fields`, passing `where`)."""

        def matches(frame: Frame) -> bool:
            return (
                frame.get("type") == kind
                and all(frame.get(k) == v for k, v in fields.items())
                and (where is None or where(frame))
            )

        for frame in list(self.inbox):
            if matches(frame):
                self.inbox.remove(frame)
                return frame
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no {kind} {fields} within {timeout} s; inbox: {list(self.inbox)[-5:]}"
                )
            try:
                frame = self.recv(left)
            except TimeoutError:
                continue
            if matches(frame):
                return frame
            self.inbox.append(frame)

    def drain(self, quiet: float = 0.3) -> list[Frame]:
        """Everything that arrives until `quiet` seconds pass without a frame."""
        frames = list(self.inbox)
        self.inbox.clear()
        while True:
            try:
                frames.append(self.recv(quiet))
            except TimeoutError:
                return frames
            except ConnectionClosed:
                return frames

    def join(self, room: str, after: int | None = None) -> tuple[Frame, list[Frame], Frame]:
        """Join: (`joined`, the replayed messages, the `presence` that ends the replay)."""
        frame: Frame = {"type": "join", "room": room}
        if after is not None:
            frame["after"] = after
        self.send_json(frame)
        joined = self.expect("joined", room=room)
        replay: list[Frame] = []
        while True:
            next_frame = self.next_of_room(room)
            if next_frame["type"] == "presence":
                return joined, replay, next_frame
            if next_frame["type"] == "message" and next_frame["replay"]:
                replay.append(next_frame)
            else:
                self.inbox.append(next_frame)

    def next_of_room(self, room: str, timeout: float = 10.0) -> Frame:
        """The next message or presence frame of `room`."""
        deadline = time.monotonic() + timeout
        while True:
            for frame in list(self.inbox):
                if frame.get("room") == room and frame.get("type") in ("message", "presence"):
                    self.inbox.remove(frame)
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"nothing from {room} within {timeout} s")
            try:
                frame = self.recv(left)
            except TimeoutError:
                continue
            if frame.get("room") == room and frame.get("type") in ("message", "presence"):
                return frame
            self.inbox.append(frame)

    def send(self, room: str, text: str, msg_id: str) -> Frame:
        """Send and wait for its ack (or error)."""
        self.send_json({"type": "send", "room": room, "text": text, "msgId": msg_id})
        return self.expect("ack", where=lambda f: f.get("msgId") == msg_id)

    def messages(self, room: str) -> list[Frame]:
        """Every message frame of `room` received so far."""
        return [f for f in self.received if f.get("type") == "message" and f.get("room") == room]

    def wait_messages(self, room: str, count: int, timeout: float = 10.0) -> list[Frame]:
        deadline = time.monotonic() + timeout
        while len(self.messages(room)) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{len(self.messages(room))} of {count} messages of {room} within {timeout} s"
                )
            try:
                self.inbox.append(self.recv(left))
            except TimeoutError:
                continue
        return self.messages(room)

    def close_code(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes the connection; its close code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.inbox.append(self.recv(max(0.05, deadline - time.monotonic())))
            except TimeoutError:
                continue
            except ConnectionClosed:
                break
        return self.ws.close_code


# --- the server's world: tables, clients, environment ---------------------------------


REGION = "ap-northeast-2"


def aws_client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def server_env(
    endpoint: str, tables: dict[str, str], redis_port: int, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REDIS_"))}
    env.update(
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true",
        MESSAGES_TABLE=tables["messages"],
        CONNECTIONS_TABLE=tables["connections"],
        USER_COUNTER_TABLE=tables["user-counter"],
        REDIS_HOST="127.0.0.1",
        REDIS_READER_HOST="127.0.0.1",
        REDIS_PORT=str(redis_port),
        REDIS_TLS="false",
        REDIS_AUTH_TOKEN=REDIS_PASSWORD,
        SESSION_SECRET=SECRET,
        COLOR="blue",
        HOST="127.0.0.1",
        APP_VERSION="test",
        DRAIN_SECONDS="2",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def store_config(monkeypatch: pytest.MonkeyPatch, endpoint: str, tables: dict[str, str]) -> Config:
    """A server's configuration for a `Store` in this process, its SDK on the emulator."""
    env = server_env(endpoint, tables, redis_port=6379, PORT="8080")
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, env[name])
    return Config.from_env(env)
