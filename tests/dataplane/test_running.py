"""The data plane against a small stack made through the AWS API (no Terraform, seconds):
one load balancer, one forward listener, a target group and a service of two stand-in
tasks, with fast health checks and a 3 s deregistration delay.

The tests share the stack and leave it as they found it (two healthy tasks).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from chatops.emulator.dataplane.state import DataplaneRecord
from chatops.emulator.manager import EmulatorManager
from chatops.processes import alive
from tests.helpers import create_network, wait_for

STANDIN = Path(__file__).resolve().parent / "standin"
REGION = "ap-northeast-2"


VIEWER_RULE: dict[str, Any] = {
    "IpProtocol": "tcp",
    "FromPort": 80,
    "ToPort": 80,
    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
}


def _task_rule(group: str) -> dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": 8080,
        "ToPort": 8080,
        "UserIdGroupPairs": [{"GroupId": group}],
    }


@dataclass
class MiniStack:
    local: Path
    manager: EmulatorManager
    client: Callable[[str], Any]
    balancer: str
    group: str
    definition: str
    security_group: str

    def record(self) -> DataplaneRecord:
        return DataplaneRecord.load(self.local)

    def tasks(self) -> list[Any]:
        return [p for p in self.record().processes.values() if p.role == "task"]

    def states(self) -> dict[int, str]:
        health = self.client("elbv2").describe_target_health(TargetGroupArn=self.group)
        return {
            int(d["Target"]["Port"]): d["TargetHealth"]["State"]
            for d in health["TargetHealthDescriptions"]
        }

    def alb(self, name: str = "mini") -> str:
        process = self.record().processes[f"alb:{name}"]
        return f"http://127.0.0.1:{process.port}"

    def settle(self) -> None:
        """Back to two healthy tasks and nothing else."""
        wait_for(
            lambda: len(self.tasks()) == 2 and sorted(self.states().values()) == ["healthy"] * 2,
            30,
            "two healthy tasks",
        )


def _get(url: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
    except OSError:  # not listening (yet)
        return 0, {}, b""


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniStack]:
    local = tmp_path_factory.mktemp("mini") / "local"
    (local / "images").mkdir(parents=True)
    shutil.copytree(STANDIN, local / "images" / "standin")
    manager = EmulatorManager(local)
    emulator, _ = manager.start()
    try:

        def client(service: str) -> Any:
            return boto3.client(
                service,
                endpoint_url=emulator.endpoint,
                region_name=REGION,
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )

        ec2, elbv2, ecs = client("ec2"), client("elbv2"), client("ecs")
        vpc, subnets, security_group = create_network(ec2)
        # One group for the ALB and the tasks, as small stacks have: viewers on 80, the
        # ALB to the tasks on 8080 (egress: the default, all traffic).
        ec2.authorize_security_group_ingress(
            GroupId=security_group, IpPermissions=[VIEWER_RULE, _task_rule(security_group)]
        )
        balancer = elbv2.create_load_balancer(
            Name="mini", Subnets=subnets, SecurityGroups=[security_group]
        )["LoadBalancers"][0]["LoadBalancerArn"]
        group = elbv2.create_target_group(
            Name="mini-blue",
            Protocol="HTTP",
            Port=8080,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/health",
            HealthCheckIntervalSeconds=5,
            HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=2,
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.modify_target_group_attributes(
            TargetGroupArn=group,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "3"}],
        )
        elbv2.create_listener(
            LoadBalancerArn=balancer,
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        )
        ecs.create_cluster(clusterName="mini")
        definition = ecs.register_task_definition(
            family="mini",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": "localhost/chatapp:standin",
                    "essential": True,
                    "stopTimeout": 5,
                    "environment": [
                        {"name": "COLOR", "value": "blue"},
                        {"name": "PORT", "value": "8080"},
                        {"name": "DRAIN_SECONDS", "value": "1"},
                    ],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster="mini",
            serviceName="mini-blue",
            taskDefinition=definition,
            desiredCount=2,
            healthCheckGracePeriodSeconds=600,
            loadBalancers=[
                {"targetGroupArn": group, "containerName": "app", "containerPort": 8080}
            ],
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": subnets, "securityGroups": [security_group]}
            },
        )
        stack = MiniStack(local, manager, client, balancer, group, definition, security_group)
        stack.settle()
        wait_for(lambda: _get(stack.alb() + "/health")[0] == 200, 15, "the ALB to serve")
        yield stack
    finally:
        manager.stop()


def test_tasks_run_with_their_environment_and_find_their_own_target(mini: MiniStack) -> None:
    ecs = mini.client("ecs")
    arns = ecs.list_tasks(cluster="mini", serviceName="mini-blue")["taskArns"]
    described = ecs.describe_tasks(cluster="mini", tasks=arns)["tasks"]
    assert sorted(t["lastStatus"] for t in described) == ["RUNNING", "RUNNING"]
    service = ecs.describe_services(cluster="mini", services=["mini-blue"])["services"][0]
    assert (service["runningCount"], service["pendingCount"]) == (2, 0)
    status, _, body = _get(mini.alb() + "/api/info")
    assert status == 200 and json.loads(body)["task"] in arns  # from the metadata endpoint
    ports = {int(t["containers"][0]["networkBindings"][0]["hostPort"]) for t in described}
    assert ports == set(mini.states())


def test_the_alb_adds_forwarded_headers(mini: MiniStack) -> None:
    status, headers, body = _get(mini.alb() + "/api/headers")
    sent = {k.lower(): v for k, v in json.loads(body).items()}
    assert status == 200
    assert sent["x-forwarded-for"] == "127.0.0.1"
    assert sent["x-forwarded-proto"] == "http"
    assert sent["x-forwarded-port"] == mini.alb().rsplit(":", 1)[1]
    assert sent["x-amzn-trace-id"].startswith("Root=1-")


def test_every_outcome_is_observed(mini: MiniStack) -> None:
    _get(mini.alb() + "/api/info")
    log = mini.local / "logs" / "alb" / "mini.outcomes.jsonl"

    def infos() -> list[dict[str, Any]]:
        lines = log.read_text().splitlines() if log.exists() else []
        return [o for o in map(json.loads, lines) if o["path"] == "/api/info"]

    last = wait_for(infos, 5, "the outcome of /api/info")[-1]
    assert last["status"] == 200 and last["target_group"] == mini.group
    assert last["target"].startswith("127.0.0.1:") and last["by_load_balancer"] is False


def test_faults_can_be_injected_per_target_group(mini: MiniStack) -> None:
    faults = mini.local / "faults.json"
    faults.write_text(json.dumps({"mini-blue": {"http_5xx_share": 1.0}}))
    try:
        assert wait_for(lambda: _get(mini.alb() + "/api/info")[0] == 500, 5, "a 500")
    finally:
        faults.unlink()
    assert wait_for(lambda: _get(mini.alb() + "/api/info")[0] == 200, 5, "a 200 again")


def test_no_target_group_with_targets_answers_503_from_the_load_balancer(mini: MiniStack) -> None:
    elbv2 = mini.client("elbv2")
    vpc = elbv2.describe_target_groups(TargetGroupArns=[mini.group])["TargetGroups"][0]["VpcId"]
    empty = elbv2.create_target_group(
        Name="mini-empty", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    listener = elbv2.describe_listeners(LoadBalancerArn=mini.balancer)["Listeners"][0]
    forward = {"Type": "forward", "TargetGroupArn": empty}
    elbv2.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=[forward])
    try:
        status, headers, _ = wait_for(
            lambda: (answer := _get(mini.alb() + "/api/info"))[0] == 503 and answer, 5, "a 503"
        )
        assert headers["Server"] == "awselb/2.0"
    finally:
        elbv2.modify_listener(
            ListenerArn=listener["ListenerArn"],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": mini.group}],
        )
        elbv2.delete_target_group(TargetGroupArn=empty)
    assert wait_for(lambda: _get(mini.alb() + "/api/info")[0] == 200, 5, "a 200 again")


def test_all_targets_unhealthy_fails_open(mini: MiniStack) -> None:
    elbv2 = mini.client("elbv2")
    elbv2.modify_target_group(TargetGroupArn=mini.group, HealthCheckPath="/nowhere")
    try:
        wait_for(
            lambda: sorted(mini.states().values()) == ["unhealthy", "unhealthy"],
            30,
            "both targets unhealthy",
        )
        assert _get(mini.alb() + "/api/info")[0] == 200
    finally:
        elbv2.modify_target_group(TargetGroupArn=mini.group, HealthCheckPath="/health")
    mini.settle()


def _closed_paths(mini: MiniStack) -> list[str]:
    from chatops.emulator.dataplane import vpc

    return [f"{p.name}: {p.missing}" for p in vpc.load(mini.local).closed]


def test_the_security_groups_carry_a_path_only_while_a_rule_allows_it(mini: MiniStack) -> None:
    ec2 = mini.client("ec2")
    task_rule = _task_rule(mini.security_group)
    ec2.revoke_security_group_ingress(GroupId=mini.security_group, IpPermissions=[task_rule])
    try:
        closed = wait_for(lambda: _closed_paths(mini), 10, "the ALB to tasks path to close")
        assert closed == [
            f"alb mini → mini-blue tasks on 8080: {mini.security_group} (chat) has no ingress "
            f"on tcp 8080 from {mini.security_group} (chat)"
        ]
        started = time.monotonic()
        assert _get(mini.alb() + "/api/info", timeout=20)[0] == 504
        assert time.monotonic() - started >= 9  # the connect timeout: the SYN is dropped
        wait_for(
            lambda: sorted(mini.states().values()) == ["unhealthy", "unhealthy"],
            30,
            "the health checks to time out",
        )
        reasons = {
            d["TargetHealth"].get("Reason")
            for d in mini.client("elbv2").describe_target_health(TargetGroupArn=mini.group)[
                "TargetHealthDescriptions"
            ]
        }
        assert reasons == {"Target.Timeout"}
    finally:
        ec2.authorize_security_group_ingress(GroupId=mini.security_group, IpPermissions=[task_rule])
    mini.settle()
    assert _closed_paths(mini) == []
    assert _get(mini.alb() + "/api/info")[0] == 200
    ec2.revoke_security_group_ingress(GroupId=mini.security_group, IpPermissions=[VIEWER_RULE])
    try:
        wait_for(lambda: _closed_paths(mini), 10, "the viewer to ALB path to close")
        assert _get(mini.alb() + "/api/info")[0] == 0  # dropped: no HTTP answer at all
    finally:
        ec2.authorize_security_group_ingress(
            GroupId=mini.security_group, IpPermissions=[VIEWER_RULE]
        )
    wait_for(lambda: _get(mini.alb() + "/api/info")[0] == 200, 10, "the ALB to serve again")


async def _websocket(url: str) -> Any:
    from websockets.asyncio.client import connect

    connection = await connect(url.replace("http://", "ws://") + "/ws")
    await connection.send(json.dumps({"type": "auth"}))
    hello = json.loads(await connection.recv())
    return connection, hello


def test_a_draining_target_gets_no_new_connections_and_is_cut_after_the_delay(
    mini: MiniStack,
) -> None:
    async def scenario() -> dict[str, Any]:
        first, hello = await _websocket(mini.alb())
        port = next(t.port for t in mini.tasks() if t.detail["arn"] == hello["task"])
        await asyncio.to_thread(
            mini.client("elbv2").deregister_targets,
            TargetGroupArn=mini.group,
            Targets=[{"Id": "127.0.0.1", "Port": port}],
        )
        await asyncio.sleep(1.0)  # the ALB follows within a second
        others = [await _websocket(mini.alb()) for _ in range(4)]
        await first.send(json.dumps({"type": "ping", "id": "1"}))
        still_open = json.loads(await first.recv())["type"] == "pong"
        await asyncio.sleep(4.0)  # past the 3 s delay
        try:
            await first.send(json.dumps({"type": "ping", "id": "2"}))
            await asyncio.wait_for(first.recv(), 2)
            cut = False
        except Exception:  # noqa: BLE001 - closed by the load balancer
            cut = True
        for connection, _ in others:
            await connection.close()
        return {
            "still_open": still_open,
            "cut": cut,
            "new_on_drained": [h["task"] for _, h in others if h["task"] == hello["task"]],
            "drained_port": port,
        }

    seen = asyncio.run(scenario())
    assert seen["still_open"] and seen["cut"]
    assert seen["new_on_drained"] == []
    # Someone took the task's target away: ECS's task goes on unregistered until it is
    # replaced; put it back as it was.
    mini.client("elbv2").register_targets(
        TargetGroupArn=mini.group, Targets=[{"Id": "127.0.0.1", "Port": seen["drained_port"]}]
    )
    mini.settle()


def test_scale_in_deregisters_first_then_stops_after_the_delay(mini: MiniStack) -> None:
    ecs = mini.client("ecs")
    before = {t.port: t.pid for t in mini.tasks()}
    ecs.update_service(cluster="mini", service="mini-blue", desiredCount=1)
    draining = wait_for(
        lambda: [p for p, s in mini.states().items() if s == "draining"], 5, "a draining target"
    )
    stopped_pid = before[draining[0]]
    time.sleep(1.0)
    assert alive(stopped_pid)  # SIGTERM only after the 3 s delay
    wait_for(lambda: not alive(stopped_pid), 15, "the scaled-in task to stop")
    service = ecs.describe_services(cluster="mini", services=["mini-blue"])["services"][0]
    assert service["runningCount"] == 1
    ecs.update_service(cluster="mini", service="mini-blue", desiredCount=2)
    mini.settle()


def test_a_new_task_definition_rolls_out_without_losing_capacity(mini: MiniStack) -> None:
    ecs = mini.client("ecs")
    described = ecs.describe_task_definition(taskDefinition=mini.definition)["taskDefinition"]
    container = described["containerDefinitions"][0]
    container["environment"] = [
        e if e["name"] != "COLOR" else {"name": "COLOR", "value": "blue-v2"}
        for e in container["environment"]
    ]
    new = ecs.register_task_definition(
        family="mini",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[container],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="mini", service="mini-blue", taskDefinition=new)
    lowest = 2
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        healthy = sum(1 for s in mini.states().values() if s == "healthy")
        lowest = min(lowest, healthy)
        tasks = mini.tasks()
        if (
            len(tasks) == 2
            and all(t.detail["definition_arn"] == new for t in tasks)
            and healthy == 2
        ):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the rollout did not finish")
    assert lowest == 2  # minimumHealthyPercent 100: never fewer healthy than desired
    assert json.loads(_get(mini.alb() + "/api/info")[2])["colour"] == "blue-v2"
    deployments = ecs.describe_services(cluster="mini", services=["mini-blue"])["services"][0][
        "deployments"
    ]
    assert [(d["status"], d["taskDefinition"]) for d in deployments] == [("PRIMARY", new)]


def test_the_idle_timeout_closes_a_silent_websocket(mini: MiniStack) -> None:
    elbv2 = mini.client("elbv2")
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=mini.balancer,
        Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "2"}],
    )
    time.sleep(1.0)

    async def silent() -> float:
        connection, _ = await _websocket(mini.alb())
        opened = time.monotonic()
        await connection.wait_closed()
        return time.monotonic() - opened

    try:
        lasted = asyncio.run(asyncio.wait_for(silent(), 15))
    finally:
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=mini.balancer,
            Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "60"}],
        )
    assert 1.5 < lasted < 6


def _get_with(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def test_listener_rules_decide_as_edge_only_mode_sets_them(mini: MiniStack) -> None:
    """The alb module's edge-only listener: a fixed 403 by default, and a rule (priority
    100) forwarding what carries the origin secret; both sides of the listener serve it."""
    elbv2 = mini.client("elbv2")
    listener = elbv2.describe_listeners(LoadBalancerArn=mini.balancer)["Listeners"][0]
    arn = listener["ListenerArn"]
    rule = elbv2.create_rule(
        ListenerArn=arn,
        Priority=100,
        Conditions=[
            {
                "Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": "X-Origin-Verify", "Values": ["old", "new"]},
            }
        ],
        Actions=[{"Type": "forward", "TargetGroupArn": mini.group}],
    )["Rules"][0]["RuleArn"]
    fixed = {"StatusCode": "403", "ContentType": "text/plain", "MessageBody": "Forbidden here"}
    elbv2.modify_listener(
        ListenerArn=arn, DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": fixed}]
    )
    origin_side = f"http://127.0.0.1:{mini.record().ports['alb:mini:origin']}"
    try:
        assert wait_for(lambda: _get(mini.alb() + "/api/info")[0] == 403, 5, "the fixed 403")
        status, headers, body = _get(mini.alb() + "/api/info")
        assert (body, headers["Content-Type"], headers["Server"]) == (
            b"Forbidden here",
            "text/plain",
            "awselb/2.0",
        )
        for side in (mini.alb(), origin_side):
            for secret in ("old", "new"):
                assert _get_with(side + "/api/info", {"X-Origin-Verify": secret})[0] == 200
            assert _get_with(side + "/api/info", {"X-Origin-Verify": "other"})[0] == 403
    finally:
        elbv2.delete_rule(RuleArn=rule)
        elbv2.modify_listener(
            ListenerArn=arn, DefaultActions=[{"Type": "forward", "TargetGroupArn": mini.group}]
        )
    assert wait_for(lambda: _get(mini.alb() + "/api/info")[0] == 200, 5, "a 200 again")


def test_ports_survive_a_restart_and_a_taken_port_is_replaced(mini: MiniStack) -> None:
    emulator = mini.manager.require_running()
    alb_port = mini.record().processes["alb:mini"].port
    pids = [p.pid for p in mini.record().processes.values()]
    mini.manager.stop_dataplane()
    assert len(pids) == 3 and not any(alive(pid) for pid in pids)  # two tasks and the ALB
    mini.manager.ensure_dataplane(emulator)
    wait_for(lambda: "alb:mini" in mini.record().processes, 15, "the ALB back")
    assert mini.record().processes["alb:mini"].port == alb_port
    mini.settle()
    # Now someone else holds the ALB's port while the data plane restarts.
    mini.manager.stop_dataplane()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
        squatter.bind(("127.0.0.1", alb_port))
        squatter.listen()
        mini.manager.ensure_dataplane(emulator)
        moved = wait_for(
            lambda: (p := mini.record().processes.get("alb:mini")) and p.port != alb_port and p,
            15,
            "the ALB on another port",
        )
        assert wait_for(
            lambda: _get(f"http://127.0.0.1:{moved.port}/health")[0] == 200, 20, "serving"
        )
    mini.settle()


def test_a_task_killed_by_signal_is_replaced(mini: MiniStack) -> None:
    victim = mini.tasks()[0]
    os.kill(victim.pid, signal.SIGKILL)
    wait_for(
        lambda: victim.key not in mini.record().processes and len(mini.tasks()) == 2,
        10,
        "a replacement",
    )
    mini.settle()


def test_local_reset_leaves_no_process(mini: MiniStack) -> None:
    """Last: `chatops local reset` (like `local stop`) stops the emulator, the supervisor
    and everything the data plane ran, checked by pid."""
    from chatops.local import reset
    from chatops.project import Project
    from tests.helpers import TERRAFORM_DIR

    record = mini.record()
    pids = [p.pid for p in record.processes.values()] + [record.supervisor_pid or 0]
    emulator = mini.manager.require_running()
    assert len(pids) == 4 and all(alive(pid) for pid in pids)
    reset(Project(terraform_dir=TERRAFORM_DIR, state_dir=mini.local.parent))
    assert [pid for pid in [*pids, emulator.pid] if alive(pid)] == []
