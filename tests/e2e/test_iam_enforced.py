"""IAM is real locally: the chat tasks act as their task role, and a permission taken
from the role fails the chat the way it fails on AWS.

On the session's stack (see conftest.py): the tasks hold no keys of their own, only the
container credentials endpoint; removing `dynamodb:PutItem` on the messages table from
the task role's policy makes every send answered with an error and never acknowledged,
with the AccessDenied in `chatops logs`; putting it back makes the same send go through.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LocalStack, next_frame, open_chat


def task_environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def task_role(stack: LocalStack) -> tuple[str, str]:
    """The blue service's task role and the name of its inline policy."""
    ecs = stack.client("ecs")
    service = ecs.describe_services(
        cluster=stack.outputs["ecs_cluster_name"], services=[stack.outputs["blue_service_name"]]
    )["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    role = str(definition["taskDefinition"]["taskRoleArn"]).rsplit("/", 1)[1]
    (policy,) = stack.client("iam").list_role_policies(RoleName=role)["PolicyNames"]
    return role, str(policy)


@pytest.fixture
def without_message_writes(stack: LocalStack) -> Iterator[str]:
    """The task role's policy without PutItem on the messages table, restored afterwards."""
    iam = stack.client("iam")
    role, name = task_role(stack)
    original = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    document = json.loads(original) if isinstance(original, str) else original
    table = stack.client("dynamodb").describe_table(TableName=stack.outputs["messages_table_name"])[
        "Table"
    ]["TableArn"]
    reduced = json.loads(json.dumps(document))
    for statement in reduced["Statement"]:
        if statement.get("Resource") == table:
            statement["Action"] = [a for a in statement["Action"] if a != "dynamodb:PutItem"]
    assert reduced != document, "no statement grants PutItem on the messages table"
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(reduced))
    try:
        yield name
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def test_tasks_act_as_their_task_role_not_with_the_emulators_keys(stack: LocalStack) -> None:
    role, _ = task_role(stack)
    tasks = stack.tasks()
    assert tasks
    for task in tasks:
        env = task_environment(task["pid"])
        assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env
        assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:")
        assert env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert stack.client("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]


async def send_and_wait(url: str, room: str, msg_id: str) -> dict[str, Any]:
    """Join `room`, send one message, and return the answer to it (ack or error)."""
    connection, _ = await open_chat(url)
    try:
        await connection.send(json.dumps({"type": "join", "room": room}))
        await next_frame(connection, "joined")
        await connection.send(
            json.dumps({"type": "send", "room": room, "text": "hello", "msgId": msg_id})
        )

        async def answer() -> dict[str, Any]:
            while True:
                frame: dict[str, Any] = json.loads(await connection.recv())
                if frame["type"] in ("ack", "error") and frame.get("msgId") == msg_id:
                    return frame

        first = await asyncio.wait_for(answer(), 20)
        if first["type"] == "error":
            # Nothing acknowledges it later either.
            try:
                late = await asyncio.wait_for(next_frame(connection, "ack"), 3)
                first["late_ack"] = late
            except TimeoutError:
                pass
        return first
    finally:
        await connection.close()


def test_a_send_the_task_role_may_not_store_fails_as_on_aws(
    stack: LocalStack, without_message_writes: str
) -> None:
    room = f"iam-{uuid.uuid4().hex[:8]}"
    msg_id = f"iam-{uuid.uuid4().hex[:8]}"
    started = time.time()
    refused = asyncio.run(send_and_wait(stack.ws_url(edge=True), room, msg_id))
    assert refused["type"] == "error" and refused["code"] == "store_failed", refused
    assert "late_ack" not in refused
    stored = stack.client("dynamodb").query(
        TableName=stack.outputs["messages_table_name"],
        KeyConditionExpression="roomId = :r",
        ExpressionAttributeValues={":r": {"S": room}},
    )
    assert stored["Items"] == []
    logs = stack.cli("logs", "--local", "--since", f"{int(time.time() - started) + 60}s")
    assert logs.returncode == 0, logs.stderr
    denied = [line for line in logs.stdout.splitlines() if "AccessDeniedException" in line]
    assert denied, logs.stdout[-3000:]
    assert any(
        "is not authorized to perform: dynamodb:PutItem" in line and room in line for line in denied
    ), denied


def test_restoring_the_permission_makes_sends_work_again(stack: LocalStack) -> None:
    room = f"iam-{uuid.uuid4().hex[:8]}"
    answer = asyncio.run(send_and_wait(stack.ws_url(edge=True), room, uuid.uuid4().hex[:12]))
    assert answer["type"] == "ack", answer
