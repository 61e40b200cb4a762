"""Fixtures of the chat server tests: its tables on the emulator, shared server processes.

The tables are created exactly as terraform/modules/dynamodb defines them. Two server
processes (blue and green) against the session's Redis serve every test that does not
need a process of its own; each test uses its own rooms.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chatapp.tables import create_tables

from chatops.emulator.dataplane.elasticache import RedisProcess
from chatops.emulator.manager import EmulatorManager
from tests.app.helpers import ChatServer, aws_client, server_env


@pytest.fixture(scope="session")
def emulator_endpoint(session_emulator: EmulatorManager) -> str:
    return session_emulator.require_running().endpoint


@pytest.fixture(scope="session")
def dynamodb(emulator_endpoint: str) -> Any:
    return aws_client(emulator_endpoint, "dynamodb")


@pytest.fixture(scope="session")
def chat_tables(dynamodb: Any) -> dict[str, str]:
    return create_tables(dynamodb, f"chattest-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def make_server(
    tmp_path_factory: pytest.TempPathFactory,
    emulator_endpoint: str,
    chat_tables: dict[str, str],
    redis_server: RedisProcess,
) -> Iterator[Callable[..., ChatServer]]:
    """Start chat servers (stopped at the end of the session at the latest)."""
    started: list[ChatServer] = []
    logs = tmp_path_factory.mktemp("chatapp-logs")

    def make(
        colour: str = "blue",
        *,
        redis_port: int | None = None,
        port: int | None = None,
        **extra: str,
    ) -> ChatServer:
        env = server_env(
            emulator_endpoint,
            chat_tables,
            redis_port or redis_server.port,
            COLOR=colour,
            **extra,
        )
        server = ChatServer(env, logs / f"{colour}-{len(started)}.log", port=port)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def web_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A web client's files (and one outside them) for the shared blue server."""
    base = tmp_path_factory.mktemp("site")
    root = base / "web"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>chat</title>")
    (root / "js" / "app.js").write_text("export const answer = 42;\n")
    (root / "style.css").write_text("body { margin: 0 }\n")
    (base / "secret.txt").write_text("not for the web")
    (root / "escape.txt").symlink_to(base / "secret.txt")
    return root


@pytest.fixture(scope="session")
def blue(make_server: Callable[..., ChatServer], web_root: Path) -> ChatServer:
    return make_server("blue", WEB_ROOT=str(web_root))


@pytest.fixture(scope="session")
def green(make_server: Callable[..., ChatServer]) -> ChatServer:
    return make_server("green")


@pytest.fixture
def room() -> str:
    """A room of this test's own."""
    return f"r-{uuid.uuid4().hex[:12]}"
