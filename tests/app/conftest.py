"""Fixtures of the chat server tests: its tables on the emulator, shared server processes.

The tables are created exactly as terraform/modules/dynamodb defines them. Two server
processes (blue and green) against the session's Redis serve every test that does not
need a process of its own; each test uses its own rooms.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chatops.emulator.dataplane.elasticache import RedisProcess
from chatops.emulator.manager import EmulatorManager
from tests.app.helpers import SECRET, ChatServer
from tests.conftest import REDIS_PASSWORD

REGION = "ap-northeast-2"


def aws_client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def create_tables(dynamodb: Any, prefix: str) -> dict[str, str]:
    """The messages, connections and user-counter tables of the seed schema."""
    names = {kind: f"{prefix}-{kind}" for kind in ("messages", "connections", "user-counter")}
    dynamodb.create_table(
        TableName=names["messages"],
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "roomId", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "roomId", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "N"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "userId-timestamp-index",
                "KeySchema": [
                    {"AttributeName": "userId", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.create_table(
        TableName=names["connections"],
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "connectionId", "AttributeType": "S"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "userId-index",
                "KeySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.update_time_to_live(
        TableName=names["connections"],
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )
    dynamodb.create_table(
        TableName=names["user-counter"],
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "counterId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "counterId", "AttributeType": "S"}],
    )
    return names


@pytest.fixture(scope="session")
def emulator_endpoint(session_emulator: EmulatorManager) -> str:
    return session_emulator.require_running().endpoint


@pytest.fixture(scope="session")
def dynamodb(emulator_endpoint: str) -> Any:
    return aws_client(emulator_endpoint, "dynamodb")


@pytest.fixture(scope="session")
def chat_tables(dynamodb: Any) -> dict[str, str]:
    return create_tables(dynamodb, f"chattest-{uuid.uuid4().hex[:8]}")


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
