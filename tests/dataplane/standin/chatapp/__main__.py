"""A stand-in chat server for the data plane's tests: the process contract, no chat.

Honours PORT, HOST, COLOR, APP_VERSION, DRAIN_SECONDS and ECS_CONTAINER_METADATA_URI_V4;
serves GET /health (503 once draining), GET /api/info, and /ws, which sends a `hello`
frame (colour, version, task) and then echoes every text frame. SIGTERM drains: /health
answers 503 and the process exits once its WebSockets are closed (or DRAIN_SECONDS + 5).
Run with `PYTHONPATH=<this directory's parent> python -m chatapp`.
"""

from __future__ import annotations

import asyncio
import http
import json
import os
import signal
import urllib.request

from websockets.asyncio.server import ServerConnection, serve
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
    open_connections: set[ServerConnection] = set()

    def health(connection: ServerConnection, request: Request) -> Response | None:
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
        if request.path != "/ws":
            return connection.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        if draining.is_set():
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
        return None

    async def chat(connection: ServerConnection) -> None:
        open_connections.add(connection)
        try:
            await connection.send(
                json.dumps({"type": "hello", "colour": colour, "version": version, "task": task})
            )
            async for message in connection:
                await connection.send(message)
        finally:
            open_connections.discard(connection)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, draining.set)
    host, port = os.environ.get("HOST", "0.0.0.0"), int(os.environ["PORT"])
    async with serve(chat, host, port, process_request=health, ping_interval=20):
        print(json.dumps({"event": "listening", "port": port, "colour": colour}), flush=True)
        await draining.wait()
        print(json.dumps({"event": "draining"}), flush=True)
        deadline = loop.time() + drain_seconds + 5
        for connection in list(open_connections):
            await connection.close(1012, "service restart")
        while open_connections and loop.time() < deadline:
            await asyncio.sleep(0.1)


if __name__ == "__main__":
    asyncio.run(main())
