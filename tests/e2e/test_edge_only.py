"""Edge-only mode (the default): the ALB serves only what comes through CloudFront.

A connection straight to the ALB's internet side is dropped (its security group admits
only CloudFront's origin-facing prefix list); what reaches the origin-facing side
without the origin secret is answered 403 by the listener; the chat works through the
edge, which adds the secret as an origin custom header. Rotating the secret (`--var
origin_secret_generation=2`) keeps an open WebSocket connected and chatting, and new
connections keep working; the previous generation stays accepted until the next
rotation.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import LocalStack, next_frame, open_chat


def status_of(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def dropped(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=10)
    except urllib.error.HTTPError:
        return False  # answered: the groups let it through
    except (urllib.error.URLError, ConnectionError, http.client.HTTPException, TimeoutError):
        return True
    return False


def test_a_direct_request_to_the_alb_is_refused(stack: LocalStack) -> None:
    assert dropped(stack.alb_viewer_url + "api/info")  # the security group
    origin_side = stack.alb_origin_side_url  # where CloudFront's addresses arrive
    assert status_of(origin_side + "api/info") == 403
    assert status_of(origin_side + "health") == 403
    assert status_of(origin_side + "api/info", {"X-Origin-Verify": "a-guess"}) == 403
    secret = stack.origin_secret()
    assert secret and status_of(origin_side + "api/info", {"X-Origin-Verify": secret}) == 200

    async def upgrade() -> int:
        try:
            async with connect(origin_side.replace("http://", "ws://") + "ws", open_timeout=10):
                return 101
        except InvalidStatus as refused:
            return int(refused.response.status_code)

    assert asyncio.run(upgrade()) == 403


def test_the_edge_sends_the_secret_and_serves_its_own_404(stack: LocalStack) -> None:
    assert status_of(stack.chat_url + "api/info") == 200
    request = urllib.request.Request(stack.chat_url + "no/such/page")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=10)
    body = missing.value.read().decode()
    assert missing.value.code == 404 and "Page not found" in body and "<Error>" not in body


async def chat_once(connection: Any, room: str, msg_id: str) -> dict[str, Any]:
    await connection.send(json.dumps({"type": "send", "room": room, "text": "hi", "msgId": msg_id}))
    return await next_frame(connection, "ack", timeout=15)


def test_rotating_the_secret_keeps_an_open_websocket_chatting(stack: LocalStack) -> None:
    edge = stack.ws_url(edge=True)
    first_secret = stack.origin_secret()
    with_first_secret = stack.alb_url  # the origin side, sending generation 1's secret

    async def scenario() -> dict[str, Any]:
        connection, _ = await open_chat(edge, nickname="rotation")
        await connection.send(json.dumps({"type": "join", "room": "rotation"}))
        await next_frame(connection, "joined")
        before = await chat_once(connection, "rotation", "rotate-before-1")
        deploy = await asyncio.to_thread(
            stack.cli, "deploy", "--local", "--yes", "--var", "origin_secret_generation=2"
        )
        during = await chat_once(connection, "rotation", "rotate-after-01")
        fresh, _ = await open_chat(edge, nickname="fresh")  # the edge sends generation 2
        await fresh.close()
        previous = await asyncio.to_thread(status_of, with_first_secret + "api/info")
        # Back to generation 1 only so the later modules find the stack as deployed.
        back = await asyncio.to_thread(stack.cli, "deploy", "--local", "--yes")
        after_back = await chat_once(connection, "rotation", "rotate-back-001")
        await connection.close()
        return {
            "deploy": (deploy.returncode, deploy.stdout[-2000:] + deploy.stderr[-2000:]),
            "back": (back.returncode, back.stdout[-2000:] + back.stderr[-2000:]),
            "acks": [before["msgId"], during["msgId"], after_back["msgId"]],
            "previous_secret": previous,
        }

    outputs_before = stack.outputs["origin_secret_parameter"]
    seen = asyncio.run(scenario())
    assert seen["deploy"][0] == 0, seen["deploy"][1]
    assert seen["back"][0] == 0, seen["back"][1]
    # One WebSocket, open through both rotations, had every send acknowledged.
    assert seen["acks"] == ["rotate-before-1", "rotate-after-01", "rotate-back-001"]
    assert seen["previous_secret"] == 200  # generation 1 still accepted during generation 2
    # Back on generation 1: the same parameter and secret as before the rotation.
    assert outputs_before == "/chatapp-dev/edge/origin-secret-1"
    assert stack.origin_secret() == first_secret
    ssm = stack.client("ssm")
    names = {
        p["Name"]
        for p in ssm.describe_parameters()["Parameters"]
        if p["Name"].startswith("/chatapp-dev/edge/")
    }
    assert names == {"/chatapp-dev/edge/origin-secret-1"}
    plan = stack.cli("plan", "--local")
    assert plan.returncode == 0 and "No changes." in plan.stdout, plan.stdout + plan.stderr
