"""Real connections through the local edge and ALB, following the traffic commands.

Runs on the session's stack (conftest.py) after test_local_stack.py (modules run in file
order); starts by putting all traffic back on blue.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.request
import uuid
from typing import Any

import pytest

from chatops.emulator.dataplane.state import process_marker
from tests.e2e.conftest import LocalStack, next_frame, open_chat, sticky_cookie
from tests.helpers import ROOT, wait_for

pytestmark = pytest.mark.e2e

# Stickiness cookies the load balancer gave clients of each colour (set by the shift test).
COOKIES: dict[str, str] = {}


def shift(stack: LocalStack, blue: int, green: int) -> None:
    result = stack.cli("shift", "--local", str(blue), str(green))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module", autouse=True)
def all_on_blue(stack: LocalStack) -> None:
    shift(stack, 100, 0)
    # test_local_stack.py's rollbacks turned stickiness off; these tests exercise it.
    stack.enable_stickiness()


def test_the_edge_serves_the_web_client(stack: LocalStack) -> None:
    source = ROOT / "app" / "web"
    published = stack.cli("site", "publish", "--local", "--json")
    assert published.returncode == 0, published.stderr
    with urllib.request.urlopen(stack.chat_url, timeout=10) as response:
        body = response.read()
        headers = response.headers
    assert body == (source / "index.html").read_bytes()
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    # The distribution's response headers policy.
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert "CloudFront" in headers["Via"]
    # /api goes to the ALB, then to a task.
    with urllib.request.urlopen(stack.chat_url + "api/info", timeout=10) as response:
        assert json.load(response)["colour"] == "blue"


async def until_new_connections_reach(url: str, colour: str, within: float = 5.0) -> float:
    """Seconds until a new connection lands on `colour` (the load balancer follows a
    ModifyListener within a second; `within` bounds the wait)."""
    changed = time.monotonic()
    while time.monotonic() - changed < within:
        probe, hello = await open_chat(url)
        await probe.close()
        if hello["colour"] == colour:
            return time.monotonic() - changed
    raise AssertionError(f"new connections did not reach {colour} within {within}s")


async def _hellos(url: str, count: int) -> list[tuple[Any, dict[str, Any]]]:
    return [await open_chat(url, nickname=f"user{i}") for i in range(count)]


async def _weights_move_new_connections_only(stack: LocalStack) -> dict[str, Any]:
    url = stack.ws_url(edge=True)
    first = await _hellos(url, 20)
    result = await asyncio.to_thread(stack.cli, "shift", "--local", "0", "100")
    assert result.returncode == 0, result.stderr
    took = await until_new_connections_reach(url, "green")
    second = await _hellos(url, 20)
    # The first twenty are still on blue and still talk.
    for index, (connection, _) in enumerate(first):
        await connection.send(json.dumps({"type": "ping", "id": str(index)}))
        assert (await next_frame(connection, "pong"))["id"] == str(index)
    colours: dict[str, Any] = {
        "first": [hello["colour"] for _, hello in first],
        "second": [hello["colour"] for _, hello in second],
    }
    colours["took"] = took
    COOKIES["blue"] = sticky_cookie(first[0][0]) or ""
    COOKIES["green"] = sticky_cookie(second[0][0]) or ""
    for connection, _ in first + second:
        await connection.close()
    return colours


def test_a_shift_moves_new_connections_and_leaves_open_ones(stack: LocalStack) -> None:
    colours = asyncio.run(_weights_move_new_connections_only(stack))
    assert colours["first"] == ["blue"] * 20
    assert colours["second"] == ["green"] * 20
    print(f"new connections followed the shift after {colours['took']:.2f} s")


async def _two_colours_one_room(
    stack: LocalStack,
) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    green, green_hello = await open_chat(stack.ws_url())  # 0/100: green
    # A client whose stickiness cookie names blue stays on blue at 0/100.
    blue, blue_hello = await open_chat(stack.ws_url(), cookie=COOKIES["blue"])
    room = f"e2e-{uuid.uuid4().hex[:8]}"
    for connection in (green, blue):
        await connection.send(json.dumps({"type": "join", "room": room}))
        await next_frame(connection, "joined")
    await blue.send(
        json.dumps({"type": "send", "room": room, "text": "from blue", "msgId": "blue-00001"})
    )
    seen_by_green = await _message(green, "from blue")
    await green.send(
        json.dumps({"type": "send", "room": room, "text": "from green", "msgId": "green-0001"})
    )
    seen_by_blue = await _message(blue, "from green")
    await green.close()
    await blue.close()
    return green_hello["colour"], blue_hello["colour"], seen_by_green, seen_by_blue


async def _message(connection: Any, text: str) -> dict[str, Any]:
    while True:
        frame = await next_frame(connection, "message")
        if frame["text"] == text:
            return frame


def _weights(stack: LocalStack) -> dict[str, int]:
    status = stack.cli("status", "--local", "--json")
    return dict(json.loads(status.stdout)["weights"])


def test_a_blue_and_a_green_client_in_one_room_see_each_others_messages(stack: LocalStack) -> None:
    green_colour, blue_colour, seen_by_green, seen_by_blue = asyncio.run(
        _two_colours_one_room(stack)
    )
    assert (green_colour, blue_colour) == ("green", "blue")
    assert (seen_by_green["text"], seen_by_green["colour"]) == ("from blue", "blue")
    assert (seen_by_blue["text"], seen_by_blue["colour"]) == ("from green", "green")


def test_stickiness_survives_weights_but_not_a_rollback(stack: LocalStack) -> None:
    """AWSALBTG names the group a client was sent to; with it, the client stays there
    whatever the weights (weight 0 included) until the stickiness duration ends; without
    it, the weights decide. A rollback turns stickiness off, so it moves pinned clients."""
    shift(stack, 100, 0)  # blue is the stable colour again
    shift(stack, 10, 90)

    async def sticky_then_rollback() -> dict[str, Any]:
        before, hello = await open_chat(stack.ws_url(), cookie=COOKIES["green"])
        await before.close()
        result = await asyncio.to_thread(stack.cli, "rollback", "--local")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Rolled back to blue" in result.stdout
        took = await until_new_connections_reach(stack.ws_url(), "blue")
        again, hello_again = await open_chat(stack.ws_url(), cookie=COOKIES["green"])
        fresh, hello_fresh = await open_chat(stack.ws_url())
        for connection in (again, fresh):
            await connection.close()
        return {
            "before": hello["colour"],
            "took": took,
            "with_cookie_after_rollback": hello_again["colour"],
            "new_client_after_rollback": hello_fresh["colour"],
        }

    seen = asyncio.run(sticky_then_rollback())
    forward = stack.traffic_action()["ForwardConfig"]
    assert seen["before"] == "green"
    # Rollback turned stickiness off in the same call: the green cookie no longer pins
    # its client, so it lands on blue like everyone else.
    assert forward["TargetGroupStickinessConfig"]["Enabled"] is False
    assert seen["with_cookie_after_rollback"] == "blue"
    assert seen["new_client_after_rollback"] == "blue"
    print(f"new connections followed the rollback after {seen['took']:.2f} s")
    assert _weights(stack) == {"blue": 100, "green": 0}


def test_a_killed_task_is_replaced(stack: LocalStack) -> None:
    victim = stack.tasks("blue")[0]
    os.kill(victim["pid"], signal.SIGKILL)

    def replaced() -> list[dict[str, Any]] | None:
        blue = stack.tasks("blue")
        fresh = [t for t in blue if t["pid"] != victim["pid"] and t["health"] == "healthy"]
        return fresh if len(blue) == 1 and fresh else None

    wait_for(replaced, 30, "a healthy replacement of the killed blue task")
    status = json.loads(stack.cli("status", "--local", "--json").stdout)
    assert status["colours"]["blue"]["tasks"] == {"running": 1, "desired": 1, "pending": 0}
    with urllib.request.urlopen(stack.alb_url + "health", timeout=10) as response:
        assert json.load(response)["colour"] == "blue"


def _target_states(stack: LocalStack, colour: str) -> dict[int, str]:
    health = stack.client("elbv2").describe_target_health(
        TargetGroupArn=stack.outputs[f"{colour}_target_group_arn"]
    )["TargetHealthDescriptions"]
    return {int(d["Target"]["Port"]): d["TargetHealth"]["State"] for d in health}


def test_an_unhealthy_task_gets_no_new_connections(stack: LocalStack) -> None:
    outputs = stack.outputs
    ecs, elbv2 = stack.client("ecs"), stack.client("elbv2")
    group = outputs["blue_target_group_arn"]
    ecs.update_service(
        cluster=outputs["ecs_cluster_name"], service=outputs["blue_service_name"], desiredCount=2
    )
    wait_for(
        lambda: list(_target_states(stack, "blue").values()) == ["healthy", "healthy"],
        30,
        "two healthy blue targets",
    )
    # Faster checks than the stack's (15 s x 3), so the test does not wait a minute.
    elbv2.modify_target_group(
        TargetGroupArn=group,
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        UnhealthyThresholdCount=2,
    )
    frozen = stack.tasks("blue")[0]
    os.kill(frozen["pid"], signal.SIGSTOP)
    try:
        frozen_port = int(frozen["address"].rsplit(":", 1)[1])
        wait_for(
            lambda: _target_states(stack, "blue").get(frozen_port) == "unhealthy",
            30,
            "the frozen task's target to turn unhealthy",
        )

        async def connect_ten() -> list[str]:
            hellos = await _hellos(stack.ws_url(), 10)
            for connection, _ in hellos:
                await connection.close()
            return [hello["task"] for _, hello in hellos]

        tasks = asyncio.run(connect_ten())
        assert len(tasks) == 10 and not any(
            t.endswith(frozen["key"].split(":", 1)[1]) for t in tasks
        )
    finally:
        os.kill(frozen["pid"], signal.SIGCONT)
        elbv2.modify_target_group(
            TargetGroupArn=group,
            HealthCheckIntervalSeconds=15,
            HealthCheckTimeoutSeconds=5,
            UnhealthyThresholdCount=3,
        )
        ecs.update_service(
            cluster=outputs["ecs_cluster_name"],
            service=outputs["blue_service_name"],
            desiredCount=1,
        )
    wait_for(lambda: len(stack.tasks("blue")) == 1, 60, "blue back to one task")


def _marked_pids(instance_prefix: str) -> dict[int, str]:
    """Every process on the machine carrying this data plane's marker."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            marker = process_marker(int(entry))
            if marker and marker.startswith(instance_prefix):
                found[int(entry)] = marker
    return found


def test_a_killed_supervisor_is_restarted_and_adopts_its_tasks(stack: LocalStack) -> None:
    before = stack.dataplane()
    tasks_before = {p["key"]: p["pid"] for p in before["processes"] if p["role"] == "task"}
    os.kill(before["supervisor_pid"], signal.SIGKILL)
    result = stack.cli("status", "--local", "--json")  # any --local command notices
    assert result.returncode == 0, result.stderr
    after = stack.dataplane()
    assert after["supervisor_pid"] and after["supervisor_pid"] != before["supervisor_pid"]
    time.sleep(2)
    after = stack.dataplane()
    assert {p["key"]: p["pid"] for p in after["processes"] if p["role"] == "task"} == tasks_before
    instance = json.loads((stack.home / "local" / "emulator.json").read_text())["instance_id"]
    marked = _marked_pids(f"{instance}/task:")
    assert sorted(marked) == sorted(tasks_before.values())  # no duplicates, no orphans
