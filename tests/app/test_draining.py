"""Draining: on SIGTERM, and when the task's own target leaves its target group, clients
are moved off with `reconnect` + close 1012, spread over DRAIN_SECONDS."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chatops.processes import free_port
from tests.app.helpers import ChatClient, ChatServer, aws_client, get, get_json


def moved_off(client: ChatClient) -> tuple[dict[str, Any], int | None, float]:
    """The `reconnect` frame a draining server sends, its close code, and when it came."""
    frame = client.expect("reconnect", timeout=15)
    at = time.monotonic()
    return frame, client.close_code(timeout=10), at


def test_sigterm_moves_clients_off_over_the_drain_window_then_exits_0(
    make_server: Callable[..., ChatServer],
) -> None:
    server = make_server("green", DRAIN_SECONDS="2")
    clients = [ChatClient(server.ws) for _ in range(4)]
    try:
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        # Each client waits on its own thread: the moment is when its frame arrived.
        with ThreadPoolExecutor(len(clients)) as pool:
            results = list(pool.map(moved_off, clients))
        for frame, code, _ in results:
            assert frame["reason"] == "draining" and 100 <= frame["afterMs"] <= 1000
            assert code == 1012
        moments = sorted(at - started for _, _, at in results)
        # Spread over the window (2 s): not all at once, all within it.
        assert moments[-1] - moments[0] >= 0.8, moments
        assert moments[-1] < 4, moments
        assert server.wait(timeout=10) == 0
        assert server.wait_log("stopped")["signal"] == "SIGTERM"
    finally:
        for client in clients:
            client.close()
        server.stop()


def test_while_draining_health_and_new_websockets_answer_503(
    make_server: Callable[..., ChatServer],
) -> None:
    server = make_server("blue", DRAIN_SECONDS="3")
    client = ChatClient(server.ws)
    try:
        server.signal(signal.SIGTERM)
        server.wait_log("draining")
        assert get_json(server.http + "/health") == (503, {"status": "draining"})
        status, _ = get(server.http + "/ws", {"Upgrade": "websocket", "Connection": "Upgrade"})
        assert status == 503
        assert get_json(server.http + "/api/info")[1]["draining"] is True
        client.expect("reconnect", timeout=10)
        assert server.wait(timeout=10) == 0
    finally:
        client.close()
        server.stop()


class Metadata(ThreadingHTTPServer):
    """The ECS task metadata endpoint (v4) of one task: `GET /task`."""

    def __init__(self, ip: str) -> None:
        body = json.dumps(
            {
                "TaskARN": "arn:aws:ecs:ap-northeast-2:123456789012:task/chat/0123abcd",
                "Containers": [{"Name": "app", "Networks": [{"IPv4Addresses": [ip]}]}],
            }
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server interface
                status = 200 if self.path == "/task" else 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body if status == 200 else b"{}")

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def metadata() -> Iterator[Metadata]:
    server = Metadata("127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_task_drains_itself_when_its_target_is_deregistered(
    make_server: Callable[..., ChatServer], emulator_endpoint: str, metadata: Metadata
) -> None:
    ec2 = aws_client(emulator_endpoint, "ec2")
    elbv2 = aws_client(emulator_endpoint, "elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    group = elbv2.create_target_group(
        Name=f"chat-drain-{free_port()}",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckPath="/health",
    )["TargetGroups"][0]["TargetGroupArn"]
    port = free_port()
    target = {"Id": "127.0.0.1", "Port": port}
    elbv2.register_targets(TargetGroupArn=group, Targets=[target])
    server = make_server(
        "blue",
        port=port,
        TARGET_GROUP_ARN=group,
        ECS_CONTAINER_METADATA_URI_V4=metadata.uri,
        DRAIN_SECONDS="2",
    )
    client = ChatClient(server.ws)
    try:
        assert client.hello["task"] == "0123abcd"
        server.wait_log("target_health", state="healthy")
        elbv2.deregister_targets(TargetGroupArn=group, Targets=[target])
        frame, code, _ = moved_off(client)
        assert (frame["reason"], code) == ("draining", 1012)
        assert server.wait_log("draining")["reason"] == "target_draining"
        assert get_json(server.http + "/health")[0] == 503
        # It keeps running (ECS sends SIGTERM later), then exits at once: nobody is left.
        time.sleep(0.5)
        assert server.process is not None and server.process.poll() is None
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    finally:
        client.close()
        server.stop()
