"""The chat server works with the oldest websockets app/pyproject.toml allows.

The floor is installed from the package index into a directory of its own, put first on
a real server process's PYTHONPATH, and the server's batched write path (hub.Writes and
write_frame: every message, presence and ack) carries a conversation. It needs
`ServerConnection.send_in_progress`, which websockets has from 16: below that floor
every batched write raises in the event loop and nothing is delivered.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.app.helpers import ChatClient, ChatServer
from tests.helpers import ROOT


def websockets_floor() -> str:
    """The lowest websockets version app/pyproject.toml accepts, e.g. "16.0"."""
    project = tomllib.loads((ROOT / "app" / "pyproject.toml").read_text())["project"]
    (requirement,) = [d for d in project["dependencies"] if d.startswith("websockets")]
    found = re.search(r">=\s*([0-9][0-9.]*)", requirement)
    assert found, f"{requirement!r} has no floor"
    version = found.group(1)
    return version if "." in version else f"{version}.0"


@pytest.fixture(scope="module")
def floor_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding only websockets at the floor version."""
    target = tmp_path_factory.mktemp("websockets-floor")
    version = websockets_floor()
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target"]
        + [str(target), f"websockets=={version}"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        pytest.skip(f"pip could not install websockets=={version}: {done.stderr.strip()[-300:]}")
    return target


def test_a_server_on_the_floor_version_delivers_messages(
    make_server: Callable[..., ChatServer], floor_path: Path, room: str
) -> None:
    pythonpath = os.pathsep.join(
        p for p in (str(floor_path), os.environ.get("PYTHONPATH", "")) if p
    )
    loaded = subprocess.run(
        [sys.executable, "-c", "import websockets; print(websockets.__version__)"],
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert loaded.stdout.strip() == websockets_floor(), loaded.stderr

    server = make_server("blue", PYTHONPATH=pythonpath)
    try:
        with ChatClient(server.ws, nickname="ann") as ann, ChatClient(server.ws) as bob:
            ann.join(room)
            bob.join(room)
            ack = ann.send(room, "at the floor", "floor-msg-1")
            assert ack["type"] == "ack" and ack["seq"] == 1
            message = bob.expect("message", room=room, timeout=5)
            assert message["text"] == "at the floor"
    finally:
        server.stop()
    assert "AttributeError" not in server.tail()
