"""The HTTP surface beside /ws: the web client's files (WEB_ROOT) and refused routes."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys

import pytest

from tests.app.helpers import ChatServer, get
from tests.helpers import ROOT


def raw_get(server: ChatServer, path: str) -> tuple[int, str, bytes]:
    """GET `path` exactly as written (no client-side normalisation of `..`)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/", "text/html; charset=utf-8", b"<!doctype html><title>chat</title>"),
        ("/index.html", "text/html; charset=utf-8", b"<!doctype html><title>chat</title>"),
        ("/js/app.js", "text/javascript; charset=utf-8", b"export const answer = 42;\n"),
        ("/style.css", "text/css; charset=utf-8", b"body { margin: 0 }\n"),
    ],
)
def test_the_web_client_is_served_from_web_root(
    blue: ChatServer, path: str, content_type: str, body: bytes
) -> None:
    assert raw_get(blue, path) == (200, content_type, body)


@pytest.mark.parametrize(
    "path",
    [
        "/missing.js",
        "/../secret.txt",
        "/js/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/escape.txt",
        "/js/",
        "/%00",
    ],
)
def test_nothing_outside_web_root_is_served(blue: ChatServer, path: str) -> None:
    status, _, body = raw_get(blue, path)
    assert status == 404 and b"not for the web" not in body


def test_without_web_root_only_the_api_answers(green: ChatServer) -> None:
    assert get(green.http + "/")[0] == 404
    assert get(green.http + "/index.html")[0] == 404


def test_a_websocket_elsewhere_than_ws_is_refused(blue: ChatServer) -> None:
    status, _ = get(blue.http + "/chat", {"Upgrade": "websocket", "Connection": "Upgrade"})
    assert status == 404


def test_a_port_already_in_use_is_an_error_and_exit_1(blue: ChatServer) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chatapp"],
        cwd=ROOT,
        env=blue.env,  # the same PORT as the running blue server
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    [failure] = [json.loads(line) for line in result.stdout.splitlines() if "listen_failed" in line]
    assert failure["level"] == "error" and failure["port"] == blue.port
