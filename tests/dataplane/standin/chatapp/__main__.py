"""A stand-in chat server for the data plane's tests: the process contract and a small
subset of the chat protocol, nothing more.

Honours PORT, HOST, COLOR, APP_VERSION, DRAIN_SECONDS, REDIS_HOST/REDIS_PORT/
REDIS_AUTH_TOKEN and ECS_CONTAINER_METADATA_URI_V4. Serves GET /health (503 once
draining), GET /api/info, and /ws: `auth` -> `hello` (colour, version, task), `join` ->
`joined`, `send` -> `ack` and a `message` to every member of the room on any task (Redis
pub/sub), `ping` -> `pong`. SIGTERM drains: /health answers 503, connections are closed
with 1012, and the process exits. Run with `PYTHONPATH=<parent dir> python -m chatapp`.
"""

from __future__ import annotations

import asyncio
import http
import itertools
import json
import os
import signal
import time
import urllib.request
from collections import defaultdict

from redis import asyncio as aioredis
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response


def task_arn() -> str:
    uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if not uri:
        return "local"
    with urllib.request.urlopen(uri + "/task", timeout=5) as answer:
        return str(json.load(answer)["TaskARN"])


async def main() -> None:
    colour = os.environ.get("COLOR", "blue")
    version = os.environ.get("APP_VERSION", "0.0.0-dev")
    drain_seconds = float(os.environ.get("DRAIN_SECONDS", "60"))
    task = await asyncio.to_thread(task_arn)
    draining = asyncio.Event()
    members: dict[str, set[ServerConnection]] = defaultdict(set)
    open_connections: set[ServerConnection] = set()
    ids = itertools.count(1)
    redis = None
    if os.environ.get("REDIS_HOST"):
        redis = aioredis.Redis(
            host=os.environ["REDIS_HOST"],
            port=int(os.environ.get("REDIS_PORT", "6379")),
            password=os.environ.get("REDIS_AUTH_TOKEN") or None,
        )

    def respond(connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/health":
            if draining.is_set():
                return connection.respond(
                    http.HTTPStatus.SERVICE_UNAVAILABLE, '{"status":"draining"}\n'
                )
            body = {
                "status": "ok",
                "colour": colour,
                "version": version,
                "connections": len(open_connections),
                "redis": "up",
            }
            return connection.respond(http.HTTPStatus.OK, json.dumps(body) + "\n")
        if request.path == "/api/info":
            body = {
                "colour": colour,
                "version": version,
                "task": task,
                "connections": len(open_connections),
                "draining": draining.is_set(),
            }
            return connection.respond(http.HTTPStatus.OK, json.dumps(body) + "\n")
        if request.path == "/api/headers":  # the stand-in only: what the proxies sent
            return connection.respond(
                http.HTTPStatus.OK, json.dumps(dict(request.headers.raw_items()))
            )
        if request.path != "/ws":
            return connection.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        if draining.is_set():
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
        return None

    async def deliver(room: str, frame: str) -> None:
        for member in list(members.get(room, ())):
            try:
                await member.send(frame)
            except ConnectionClosed:
                pass

    async def listen() -> None:
        if redis is None:
            return
        pubsub = redis.pubsub()
        await pubsub.psubscribe("chat:*")
        async for event in pubsub.listen():
            if event["type"] == "pmessage":
                room = event["channel"].decode().split(":", 1)[1]
                await deliver(room, event["data"].decode())

    async def chat(connection: ServerConnection) -> None:
        open_connections.add(connection)
        user = str(next(ids))
        joined: set[str] = set()
        try:
            async for raw in connection:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "auth":
                    nickname = frame.get("nickname") or f"user{user}"
                    await connection.send(
                        json.dumps(
                            {
                                "type": "hello",
                                "userId": user,
                                "nickname": nickname,
                                "resumeToken": "standin",
                                "resumed": False,
                                "colour": colour,
                                "version": version,
                                "task": task,
                                "connectionId": f"{task}/{user}",
                            }
                        )
                    )
                elif kind == "join":
                    joined.add(frame["room"])
                    members[frame["room"]].add(connection)
                    await connection.send(
                        json.dumps(
                            {
                                "type": "joined",
                                "room": frame["room"],
                                "seq": 0,
                                "recovered": False,
                                "reset": True,
                            }
                        )
                    )
                elif kind == "send":
                    room = frame["room"]
                    seq = int(await redis.incr(f"seq:{room}")) if redis else 1
                    now = int(time.time() * 1000)
                    await connection.send(
                        json.dumps(
                            {
                                "type": "ack",
                                "room": room,
                                "msgId": frame["msgId"],
                                "seq": seq,
                                "ts": now,
                                "duplicate": False,
                            }
                        )
                    )
                    message = json.dumps(
                        {
                            "type": "message",
                            "room": room,
                            "seq": seq,
                            "msgId": frame["msgId"],
                            "userId": user,
                            "nickname": f"user{user}",
                            "text": frame["text"],
                            "ts": now,
                            "colour": colour,
                            "replay": False,
                        }
                    )
                    if redis is not None:
                        await redis.publish(f"chat:{room}", message)
                    else:
                        await deliver(room, message)
                elif kind == "ping":
                    await connection.send(json.dumps({"type": "pong", "id": frame.get("id")}))
        except ConnectionClosed:
            pass
        finally:
            open_connections.discard(connection)
            for room in joined:
                members[room].discard(connection)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, draining.set)
    listener = asyncio.create_task(listen())
    host, port = os.environ.get("HOST", "0.0.0.0"), int(os.environ["PORT"])
    async with serve(chat, host, port, process_request=respond, ping_interval=20):
        print(
            json.dumps(
                {
                    "ts": time.time(),
                    "level": "info",
                    "event": "listening",
                    "port": port,
                    "colour": colour,
                }
            ),
            flush=True,
        )
        await draining.wait()
        print(json.dumps({"ts": time.time(), "level": "info", "event": "draining"}), flush=True)
        deadline = loop.time() + drain_seconds + 5
        for connection in list(open_connections):
            await connection.send(
                json.dumps({"type": "reconnect", "reason": "draining", "afterMs": 100})
            )
            await connection.close(1012, "service restart")
        while open_connections and loop.time() < deadline:
            await asyncio.sleep(0.1)
    listener.cancel()


if __name__ == "__main__":
    asyncio.run(main())
