"""Fixtures of the chat server tests: two shared server processes, blue and green.

They run against the session's Redis and tables (tests/conftest.py: `make_server`) and
serve every test that does not need a process of its own; each test uses its own rooms.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.app.helpers import ChatServer


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
