"""The stack's security groups govern the local data plane: a rule revoked (boto3 on the
emulator, as an operator's slip would) closes its path, `chatops local status` names the
rule, and the path carries again once the rule is back.

Every rule is given back to Terraform at the end (`restored`): the API-made copy is
replaced by the one `chatops deploy` creates, so later modules plan no change.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from chatops.emulator.dataplane.state import DataplaneRecord
from tests.e2e.conftest import LocalStack
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e


@dataclass
class Groups:
    """The stack's three groups (by their Name tag) and the rules the test took away."""

    ids: dict[str, str]
    names: dict[str, str]
    reauthorized: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def label(self, key: str) -> str:
        return f"{self.ids[key]} ({self.names[key]})"


def _find_groups(stack: LocalStack) -> Groups:
    prefix = stack.outputs["name_prefix"]
    tags = [f"{prefix}-{key}" for key in ("alb", "tasks", "redis")]
    described = stack.client("ec2").describe_security_groups(
        Filters=[{"Name": "tag:Name", "Values": tags}]
    )["SecurityGroups"]
    by_key = {
        next(t["Value"] for t in g["Tags"] if t["Key"] == "Name").removeprefix(f"{prefix}-"): g
        for g in described
    }
    return Groups(
        {k: g["GroupId"] for k, g in by_key.items()},
        {k: g["GroupName"] for k, g in by_key.items()},
    )


def _ingress_from(stack: LocalStack, group: str, source: str) -> dict[str, Any]:
    """The ingress permission of `group` that references `source`, as Revoke takes it."""
    described = stack.client("ec2").describe_security_groups(GroupIds=[group])
    for permission in described["SecurityGroups"][0]["IpPermissions"]:
        pairs = [p for p in permission.get("UserIdGroupPairs", []) if p["GroupId"] == source]
        if pairs:
            return {
                "IpProtocol": permission["IpProtocol"],
                "FromPort": permission["FromPort"],
                "ToPort": permission["ToPort"],
                "UserIdGroupPairs": [
                    {"GroupId": source, "Description": pairs[0].get("Description", "")}
                ],
            }
    raise AssertionError(f"{group} has no ingress from {source}")


@pytest.fixture(scope="module")
def groups(stack: LocalStack) -> Iterator[Groups]:
    found = _find_groups(stack)
    yield found
    _give_back_to_terraform(stack, found)


def _give_back_to_terraform(stack: LocalStack, groups: Groups) -> None:
    """Replace the rules the test re-authorized by Terraform's own; while the deploy runs,
    a CIDR rule (the VPC's) keeps the ALB reaching the tasks, so nothing goes unhealthy."""
    ec2 = stack.client("ec2")
    vpc_cidr = ec2.describe_vpcs(VpcIds=[stack.outputs["vpc_id"]])["Vpcs"][0]["CidrBlock"]
    bridges = []
    for group, permission in groups.reauthorized:
        bridge = {
            **{k: permission[k] for k in ("IpProtocol", "FromPort", "ToPort")},
            "IpRanges": [{"CidrIp": vpc_cidr, "Description": "e2e bridge"}],
        }
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[bridge])
        bridges.append((group, bridge))
    for group, permission in groups.reauthorized:
        ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[permission])
    try:
        if groups.reauthorized:
            result = stack.cli("deploy", "--local", "--yes")
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    finally:
        for group, bridge in bridges:
            ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[bridge])
    wait_for(lambda: _closed(stack) == [], 15, "every path to be open again")


def _edge_only(stack: LocalStack) -> bool:
    return stack.outputs.get("alb_direct_access") is False


def _closed(stack: LocalStack) -> list[dict[str, Any]]:
    """The closed paths, but the one edge-only mode closes by design (viewers to the ALB:
    its group admits only CloudFront's origin-facing prefix list)."""
    return [
        p
        for p in stack.dataplane()["paths"]
        if not p["open"] and not (_edge_only(stack) and p["source_kind"] == "viewer")
    ]


def _status_text(stack: LocalStack) -> str:
    result = stack.cli("local", "status")
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())  # rich wraps long lines


def _get(url: str, timeout: float = 20) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _revoke(stack: LocalStack, groups: Groups, key: str, source: str) -> dict[str, Any]:
    permission = _ingress_from(stack, groups.ids[key], groups.ids[source])
    stack.client("ec2").revoke_security_group_ingress(
        GroupId=groups.ids[key], IpPermissions=[permission]
    )
    return permission


def _reauthorize(stack: LocalStack, groups: Groups, key: str, permission: dict[str, Any]) -> None:
    stack.client("ec2").authorize_security_group_ingress(
        GroupId=groups.ids[key], IpPermissions=[permission]
    )
    groups.reauthorized.append((groups.ids[key], permission))


def test_every_path_of_the_stack_is_open_as_deployed(stack: LocalStack, groups: Groups) -> None:
    paths = stack.dataplane()["paths"]
    kinds = {(p["source_kind"], p["destination_kind"]) for p in paths}
    assert {("viewer", "alb"), ("edge", "alb"), ("alb", "tasks"), ("tasks", "redis")} <= kinds
    closed = [(p["source_kind"], p["destination_kind"]) for p in paths if not p["open"]]
    assert _closed(stack) == []
    if _edge_only(stack):
        assert closed == [("viewer", "alb")] * len(closed) and closed
        text = _status_text(stack)
        assert f"{len(paths) - len(closed)} of {len(paths)} paths open;" in text
        assert "(the internet)" in text  # the rule it lacks names the viewers' range
    else:
        assert closed == []
        assert f"{len(paths)} of {len(paths)} paths open." in _status_text(stack)


def test_without_the_tasks_ingress_from_the_alb_requests_get_504(
    stack: LocalStack, groups: Groups
) -> None:
    assert _get(stack.alb_url + "api/info")[0] == 200
    permission = _revoke(stack, groups, "tasks", "alb")
    port = permission["FromPort"]
    missing = f"{groups.label('tasks')} has no ingress on tcp {port} from {groups.label('alb')}"
    try:
        closed = wait_for(lambda: _closed(stack), 15, "the ALB to tasks paths to close")
        assert {p["missing"] for p in closed} == {missing}
        assert {(p["source_kind"], p["destination_kind"]) for p in closed} == {("alb", "tasks")}
        text = _status_text(stack)
        assert "paths open; closed (the rule each lacks):" in text
        assert missing in text
        started = time.monotonic()
        assert _get(stack.alb_url + "api/info")[0] == 504
        assert time.monotonic() - started >= 9  # the ALB's connect timeout: no answer
    finally:
        _reauthorize(stack, groups, "tasks", permission)
    wait_for(lambda: _closed(stack) == [], 15, "the path to open again")
    assert _get(stack.alb_url + "api/info")[0] == 200


def _redis_client(stack: LocalStack) -> redis.Redis:
    process = next(p for p in stack.dataplane()["processes"] if p["role"] == "redis")
    token = stack.client("ssm").get_parameter(
        Name=stack.outputs["redis_auth_token_parameter"], WithDecryption=True
    )["Parameter"]["Value"]
    host, port = process["address"].split(":")
    return redis.Redis(host=host, port=int(port), password=token, socket_timeout=5)


def _task_logs(stack: LocalStack) -> dict[str, Any]:
    local = stack.home / "local"
    record = DataplaneRecord.load(local)
    return {
        key: local / "logs" / p.detail["service_name"] / f"{key.split(':', 1)[1]}.log"
        for key, p in record.processes.items()
        if p.role == "task" and p.detail.get("desired_status", "RUNNING") == "RUNNING"
    }


def test_without_the_caches_ingress_from_the_tasks_they_lose_redis_until_it_is_back(
    stack: LocalStack, groups: Groups
) -> None:
    logs = _task_logs(stack)
    assert logs, "no running task"
    offsets = {key: path.stat().st_size for key, path in logs.items()}

    def since(key: str) -> str:
        with logs[key].open() as log:
            log.seek(offsets[key])
            return log.read()

    permission = _revoke(stack, groups, "redis", "tasks")
    port = permission["FromPort"]
    missing = f"{groups.label('redis')} has no ingress on tcp {port} from {groups.label('tasks')}"
    try:
        closed = wait_for(lambda: _closed(stack), 15, "the tasks to Redis paths to close")
        assert {p["missing"] for p in closed} == {missing}
        assert missing in _status_text(stack)
        # Open connections are tracked and carry on, as on AWS; a failover drops them,
        # and the tasks' reconnections are refused.
        cache = _redis_client(stack)
        cache.client_kill_filter(_type="normal")
        cache.client_kill_filter(_type="pubsub")
        wait_for(
            lambda: all("redis_down" in since(key) for key in logs),
            20,
            "every task to log redis_down",
        )
        health = json.loads(_get(stack.alb_url + "health")[1])
        assert health["redis"] == "down"
    finally:
        _reauthorize(stack, groups, "redis", permission)
    wait_for(
        lambda: all("redis_up" in since(key).split("redis_down", 1)[1] for key in logs),
        30,
        "every task to reconnect to Redis",
    )
    assert json.loads(_get(stack.alb_url + "health")[1])["redis"] == "up"
