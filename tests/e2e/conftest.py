"""One deployment of the whole stack on the embedded AWS, shared by every e2e module.

`stack` (session) deploys it through the CLI, as a user would, in its own chatops home,
and waits until it serves; modules read and change it in file order, and
`test_zz_destroy.py` destroys it last. Use it from any module:

    def test_something(stack: LocalStack) -> None:
        result = stack.cli("shift", "--local", "0", "100")
        hello = asyncio.run(hello_frame(stack.ws_url(edge=True)))

What it offers: `home` (CHATOPS_HOME), `cli(*args)` (the CLI in a subprocess),
`outputs`, `client(service)` (boto3 on the emulator), `chat_url` (the local edge),
`alb_url` (the ALB as the edge reaches it: its origin-facing side, with the origin
secret added to every request, so tests can pick a colour's connection without the
edge), `alb_origin_side_url` (that side without the secret: 403 edge-only),
`alb_viewer_url` (the ALB as the internet reaches it: dropped by its security group
edge-only),
`traffic_action()` (the forward action holding the weights), `dataplane()`
(`chatops local status --json`'s data plane), and the variables the stack is deployed
with (`E2E_ENVIRONMENT`): a 10 s deregistration delay, so draining and scale-in finish
within a test.

A second stack (acme-prod, its own home and emulator) deploys, plans and destroys in
parallel; `test_zz_destroy.py` checks its report.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from chatops.emulator.dataplane import http as plumbing
from chatops.emulator.manager import EmulatorManager
from chatops.inventory import StackId, find_resources
from chatops.project import STATE_DIR_ENV
from tests.helpers import ROOT

REGION = "ap-northeast-2"

# Every CLI run of the e2e stack sees these (Terraform reads TF_VAR_*, so plans match).
E2E_ENVIRONMENT = {"TF_VAR_deregistration_delay": "10"}


def run_cli(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, with its own state directory."""
    env = {**os.environ, STATE_DIR_ENV: str(home), **E2E_ENVIRONMENT}
    return subprocess.run(
        [sys.executable, "-m", "chatops", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def client_factory(home: Path, region: str = REGION) -> Callable[[str], Any]:
    emulator = EmulatorManager(home / "local").require_running()
    return lambda service: boto3.client(
        service,
        endpoint_url=emulator.endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def state_resources(home: Path) -> int:
    state = json.loads((home / "local" / "terraform.tfstate").read_text())
    return sum(len(r["instances"]) for r in state["resources"] if r["mode"] == "managed")


def traffic_action(elbv2: Any, outputs: dict[str, Any]) -> dict[str, Any]:
    """The forward action holding the weights: the traffic rule's (edge-only) or the
    listener's default action (direct access)."""
    if outputs.get("traffic_rule_arn"):
        rule = elbv2.describe_rules(RuleArns=[outputs["traffic_rule_arn"]])["Rules"][0]
        return dict(rule["Actions"][0])
    listener = elbv2.describe_listeners(ListenerArns=[outputs["listener_arn"]])["Listeners"][0]
    return dict(listener["DefaultActions"][0])


def set_traffic_action(elbv2: Any, outputs: dict[str, Any], forward: dict[str, Any]) -> None:
    """Change the forward action as an operator would in the console."""
    actions = [{"Type": "forward", "ForwardConfig": forward}]
    if outputs.get("traffic_rule_arn"):
        elbv2.modify_rule(RuleArn=outputs["traffic_rule_arn"], Actions=actions)
    else:
        elbv2.modify_listener(ListenerArn=outputs["listener_arn"], DefaultActions=actions)


class OriginSide:
    """What CloudFront does to a request before the ALB, for tests that bypass the edge:
    a local port that adds the origin secret to each request and relays it to the ALB's
    origin-facing side (one request per connection, or one WebSocket)."""

    def __init__(self, upstream: tuple[str, int], headers: dict[str, str]) -> None:
        self.upstream = upstream
        self.headers = headers
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, limit=plumbing.MAX_HEAD)
        )
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()
        server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await plumbing.read_head(reader)
            if raw is None:
                return
            head = plumbing.parse_head(raw, response=False)
            for name, value in self.headers.items():
                head.set(name, value)
            if not head.is_upgrade:
                head.set("Connection", "close")
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            up_writer.write(head.render())
            await plumbing.splice((reader, writer), (up_reader, up_writer), plumbing.Activity())
        except (OSError, plumbing.ProtocolError, ValueError):
            pass
        finally:
            plumbing.close_writer(writer)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@dataclass
class LocalStack:
    """The deployed e2e stack and the ways to reach it."""

    home: Path
    deploy_stdout: str
    outputs: dict[str, Any]
    _clients: dict[str, Any] = field(default_factory=dict)
    _origin_side: OriginSide | None = None

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run_cli(self.home, *args, timeout=timeout)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client_factory(self.home)(service)
        return self._clients[service]

    def enable_stickiness(self) -> None:
        """Target group stickiness back on (rollback and retire turn it off), straight on
        the listener, as an operator would before exercising it."""
        elbv2 = self.client("elbv2")
        forward = dict(traffic_action(elbv2, self.outputs)["ForwardConfig"])
        forward["TargetGroupStickinessConfig"] = {
            **forward.get("TargetGroupStickinessConfig", {}),
            "Enabled": True,
            "DurationSeconds": 3600,
        }
        set_traffic_action(elbv2, self.outputs, forward)

    def traffic_action(self) -> dict[str, Any]:
        return traffic_action(self.client("elbv2"), self.outputs)

    def origin_secret(self) -> str | None:
        name = self.outputs.get("origin_secret_parameter")
        if not name:
            return None
        got = self.client("ssm").get_parameter(Name=name, WithDecryption=True)
        return str(got["Parameter"]["Value"])

    def dataplane(self) -> dict[str, Any]:
        result = self.cli("local", "status", "--json")
        assert result.returncode == 0, result.stderr
        dataplane: dict[str, Any] = json.loads(result.stdout)["dataplane"]
        return dataplane

    def tasks(self, colour: str | None = None) -> list[dict[str, Any]]:
        return [
            p
            for p in self.dataplane()["processes"]
            if p["role"] == "task" and (colour is None or p["colour"] == colour)
        ]

    @property
    def chat_url(self) -> str:
        return str(self._urls()["chat"])

    @property
    def alb_viewer_url(self) -> str:
        return str(self._urls()["alb"])

    @property
    def alb_origin_side_url(self) -> str:
        """The ALB's origin-facing side as such: what reaches it without the secret."""
        return str(self._urls()["alb-origin"])

    @property
    def alb_url(self) -> str:
        urls = self._urls()
        secret = self.origin_secret()
        if secret is None:
            return str(urls["alb"])
        if self._origin_side is None:
            host, _, port = urls["alb-origin"].rstrip("/").rpartition(":")
            upstream = (host.removeprefix("http://"), int(port))
            self._origin_side = OriginSide(upstream, {"X-Origin-Verify": secret})
        return f"http://127.0.0.1:{self._origin_side.port}/"

    def close(self) -> None:
        if self._origin_side is not None:
            self._origin_side.stop()

    def ws_url(self, *, edge: bool = False) -> str:
        base = self.chat_url if edge else self.alb_url
        return base.replace("http://", "ws://").rstrip("/") + "/ws"

    def _urls(self) -> dict[str, str]:
        urls = self.dataplane()["urls"]
        return {
            "chat": next(v for k, v in urls.items() if k.startswith("chat:")),
            "alb": next(v for k, v in urls.items() if k.startswith("alb:")),
            "alb-origin": next((v for k, v in urls.items() if k.startswith("alb-origin:")), ""),
        }


def other_stack_lifecycle(home: Path, var_file: Path) -> dict[str, Any]:
    """Deploy, plan and destroy a stack named acme-prod; report what happened."""
    report: dict[str, Any] = {}
    deploy = run_cli(home, "deploy", "--local", "--yes", "--var-file", str(var_file))
    report["deploy"] = (deploy.returncode, deploy.stderr[-2000:])
    if deploy.returncode != 0:
        return report
    outputs = json.loads(run_cli(home, "outputs", "--local", "--json").stdout)
    report["outputs"] = outputs
    client = client_factory(home, outputs["aws_region"])
    report["held"] = find_resources(client, StackId("acme", "prod"))
    plan = run_cli(home, "plan", "--local", "--var-file", str(var_file))
    report["plan"] = (plan.returncode, plan.stdout[-2000:])
    destroy = run_cli(home, "destroy", "--local", "--yes", "--var-file", str(var_file))
    report["destroy"] = (destroy.returncode, destroy.stdout[-2000:] + destroy.stderr[-2000:])
    report["left"] = find_resources(client, StackId("acme", "prod"))
    return report


@pytest.fixture(scope="session")
def other_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future[dict[str, Any]]]:
    home = tmp_path_factory.mktemp("acme-prod")
    var_file = home / "acme.tfvars"
    # No tasks: this stack is about names; the main stack runs the data plane.
    var_file.write_text(
        'project_name = "acme"\nenvironment  = "prod"\n'
        "blue_desired_count = 0\ngreen_desired_count = 0\n"
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(other_stack_lifecycle, home, var_file)
        yield future
        future.result(timeout=900)
    EmulatorManager(home / "local").stop()


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, other_stack: Future[dict[str, Any]]
) -> Iterator[LocalStack]:
    home = tmp_path_factory.mktemp("chatapp-dev")
    try:
        result = run_cli(home, "deploy", "--local", "--yes")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        outputs = json.loads(run_cli(home, "outputs", "--local", "--json").stdout)
        local = LocalStack(home, result.stdout, outputs)
        yield local
        local.close()
    finally:
        EmulatorManager(home / "local").stop()


# --- talking to the chat ------------------------------------------------------------------


async def open_chat(
    url: str, cookie: str | None = None, nickname: str = "e2e"
) -> tuple[Any, dict[str, Any]]:
    """A WebSocket that has sent `auth` and received `hello`; (connection, hello)."""
    from websockets.asyncio.client import connect

    headers = {"Cookie": cookie} if cookie else None
    connection = await connect(url, additional_headers=headers, open_timeout=10)
    await connection.send(json.dumps({"type": "auth", "nickname": nickname}))
    while True:
        frame = json.loads(await asyncio.wait_for(connection.recv(), 10))
        if frame["type"] == "hello":
            return connection, frame


async def next_frame(connection: Any, kind: str, timeout: float = 10) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = json.loads(await connection.recv())
            if frame["type"] == kind:
                return frame

    return await asyncio.wait_for(wait(), timeout)


def sticky_cookie(connection: Any) -> str | None:
    """The AWSALBTG cookie the load balancer set on a WebSocket handshake."""
    for value in connection.response.headers.get_all("Set-Cookie"):
        if value.startswith("AWSALBTG="):
            return str(value.split(";", 1)[0])
    return None
