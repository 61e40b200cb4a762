"""The security groups' path decisions (pure), the network file, and the Redis gate."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chatops.emulator import patches
from chatops.emulator.dataplane import ecs as ecs_plane
from chatops.emulator.dataplane import vpc
from chatops.emulator.dataplane.vpc import Party, PathSpec, Rule, SecurityGroup
from tests.helpers import create_network

REGION = "ap-northeast-2"

ALB_SG, TASKS_SG, REDIS_SG, OTHER_SG = "sg-a1b", "sg-7a5", "sg-4ed", "sg-0th"
PREFIX = "pl-3b927c52"
ANY = Rule("-1", 0, 65535, vpc.INTERNET)


def _alb(*groups: str) -> Party:
    return Party(vpc.ALB, "arn:alb", "alb acme-prod", groups, ("10.0.0.0/24", "10.0.1.0/24"))


def _tasks(*groups: str) -> Party:
    return Party(vpc.TASKS, "arn:blue", "acme-prod-blue tasks", groups, ("10.0.10.0/24",))


def _redis(*groups: str) -> Party:
    return Party(vpc.REDIS, "acme-prod-redis", "redis acme-prod-redis", groups, ("10.0.20.0/24",))


def _groups(*groups: SecurityGroup) -> dict[str, SecurityGroup]:
    return {g.id: g for g in groups}


def _tcp(port: int, peer: str) -> Rule:
    return Rule("tcp", port, port, peer)


# The stack's own rules (terraform/modules/security-groups): each case changes one thing.
STACK = _groups(
    SecurityGroup(
        ALB_SG,
        "acme-prod-alb",
        ingress=(_tcp(80, vpc.INTERNET), _tcp(443, vpc.INTERNET)),
        egress=(_tcp(8080, TASKS_SG),),
    ),
    SecurityGroup(
        TASKS_SG,
        "acme-prod-tasks",
        ingress=(_tcp(8080, ALB_SG),),
        egress=(_tcp(443, vpc.INTERNET), _tcp(6379, REDIS_SG)),
    ),
    SecurityGroup(REDIS_SG, "acme-prod-redis", ingress=(_tcp(6379, TASKS_SG),)),
)


def _without(group: str, *, ingress: int | None = None, egress: int | None = None) -> dict:
    """The stack's groups with one rule of one group dropped (by port)."""
    changed = dict(STACK)
    old = changed[group]
    changed[group] = SecurityGroup(
        old.id,
        old.name,
        tuple(r for r in old.ingress if r.from_port != ingress),
        tuple(r for r in old.egress if r.from_port != egress),
    )
    return changed


def _with(group: str, *, ingress: tuple[Rule, ...] = (), egress: tuple[Rule, ...] = ()) -> dict:
    changed = dict(STACK)
    old = changed[group]
    changed[group] = SecurityGroup(old.id, old.name, old.ingress + ingress, old.egress + egress)
    return changed


CASES = [
    # (id, spec, groups, open, the missing rule)
    ("viewer to alb on 80", PathSpec(vpc.viewer(), _alb(ALB_SG), 80), STACK, True, None),
    ("viewer to alb on 443", PathSpec(vpc.viewer(), _alb(ALB_SG), 443), STACK, True, None),
    (
        "viewer to alb on a port with no rule",
        PathSpec(vpc.viewer(), _alb(ALB_SG), 8443),
        STACK,
        False,
        "sg-a1b (acme-prod-alb) has no ingress on tcp 8443 from 0.0.0.0/0 (the internet)",
    ),
    (
        "an ingress from a narrower CIDR does not admit the internet",
        PathSpec(vpc.viewer(), _alb(ALB_SG), 80),
        _with(ALB_SG, ingress=(_tcp(8000, "203.0.113.0/24"),)) | _without(ALB_SG, ingress=80),
        False,
        "sg-a1b (acme-prod-alb) has no ingress on tcp 80 from 0.0.0.0/0 (the internet)",
    ),
    (
        "the edge is admitted by the internet rule",
        PathSpec(vpc.edge(PREFIX), _alb(ALB_SG), 80),
        STACK,
        True,
        None,
    ),
    (
        "edge-only: the prefix list admits the edge",
        PathSpec(vpc.edge(PREFIX), _alb(ALB_SG), 80),
        {ALB_SG: SecurityGroup(ALB_SG, "acme-prod-alb", ingress=(_tcp(80, PREFIX),))},
        True,
        None,
    ),
    (
        "edge-only: the prefix list does not admit a viewer",
        PathSpec(vpc.viewer(), _alb(ALB_SG), 80),
        {ALB_SG: SecurityGroup(ALB_SG, "acme-prod-alb", ingress=(_tcp(80, PREFIX),))},
        False,
        "sg-a1b (acme-prod-alb) has no ingress on tcp 80 from 0.0.0.0/0 (the internet)",
    ),
    (
        "edge-only without the prefix list rule names the list",
        PathSpec(vpc.edge(PREFIX), _alb(ALB_SG), 80),
        {ALB_SG: SecurityGroup(ALB_SG, "acme-prod-alb")},
        False,
        "sg-a1b (acme-prod-alb) has no ingress on tcp 80 from pl-3b927c52 "
        "(CloudFront's origin-facing prefix list)",
    ),
    ("alb to tasks", PathSpec(_alb(ALB_SG), _tasks(TASKS_SG), 8080), STACK, True, None),
    (
        "alb to tasks without the tasks' ingress",
        PathSpec(_alb(ALB_SG), _tasks(TASKS_SG), 8080),
        _without(TASKS_SG, ingress=8080),
        False,
        "sg-7a5 (acme-prod-tasks) has no ingress on tcp 8080 from sg-a1b (acme-prod-alb)",
    ),
    (
        "alb to tasks without the ALB's egress",
        PathSpec(_alb(ALB_SG), _tasks(TASKS_SG), 8080),
        _without(ALB_SG, egress=8080),
        False,
        "sg-a1b (acme-prod-alb) has no egress on tcp 8080 to sg-7a5 (acme-prod-tasks)",
    ),
    (
        "alb to tasks on another container port",
        PathSpec(_alb(ALB_SG), _tasks(TASKS_SG), 9000),
        STACK,
        False,
        "sg-7a5 (acme-prod-tasks) has no ingress on tcp 9000 from sg-a1b (acme-prod-alb)",
    ),
    (
        "a port range admits a port inside it",
        PathSpec(_alb(ALB_SG), _tasks(TASKS_SG), 9000),
        {
            ALB_SG: SecurityGroup(ALB_SG, "a", egress=(ANY,)),
            TASKS_SG: SecurityGroup(TASKS_SG, "t", ingress=(Rule("tcp", 8000, 9999, ALB_SG),)),
        },
        True,
        None,
    ),
    (
        "a udp rule does not admit tcp",
        PathSpec(_alb(ALB_SG), _tasks(TASKS_SG), 8080),
        {
            ALB_SG: SecurityGroup(ALB_SG, "a", egress=(ANY,)),
            TASKS_SG: SecurityGroup(TASKS_SG, "t", ingress=(Rule("udp", 8080, 8080, ALB_SG),)),
        },
        False,
        "sg-7a5 (t) has no ingress on tcp 8080 from sg-a1b (a)",
    ),
    (
        "an ingress by CIDR admits the subnets inside it",
        PathSpec(_alb(ALB_SG), _tasks(TASKS_SG), 8080),
        {
            ALB_SG: SecurityGroup(ALB_SG, "a", egress=(_tcp(8080, "10.0.0.0/16"),)),
            TASKS_SG: SecurityGroup(TASKS_SG, "t", ingress=(_tcp(8080, "10.0.0.0/16"),)),
        },
        True,
        None,
    ),
    (
        "an ingress by CIDR must cover every subnet of the source",
        PathSpec(_alb(ALB_SG), _tasks(TASKS_SG), 8080),
        {
            ALB_SG: SecurityGroup(ALB_SG, "a", egress=(ANY,)),
            TASKS_SG: SecurityGroup(TASKS_SG, "t", ingress=(_tcp(8080, "10.0.0.0/24"),)),
        },
        False,
        "sg-7a5 (t) has no ingress on tcp 8080 from sg-a1b (a)",
    ),
    (
        "any of the destination's groups may admit",
        PathSpec(_alb(ALB_SG), _tasks(OTHER_SG, TASKS_SG), 8080),
        STACK | {OTHER_SG: SecurityGroup(OTHER_SG, "other")},
        True,
        None,
    ),
    (
        "none of several groups admits",
        PathSpec(_alb(ALB_SG), _tasks(OTHER_SG, TASKS_SG), 8080),
        _without(TASKS_SG, ingress=8080) | {OTHER_SG: SecurityGroup(OTHER_SG, "other")},
        False,
        "none of sg-0th (other), sg-7a5 (acme-prod-tasks) has no ingress on tcp 8080 "
        "from sg-a1b (acme-prod-alb)",
    ),
    ("tasks to redis", PathSpec(_tasks(TASKS_SG), _redis(REDIS_SG), 6379), STACK, True, None),
    (
        "tasks to redis without the cache's ingress",
        PathSpec(_tasks(TASKS_SG), _redis(REDIS_SG), 6379),
        _without(REDIS_SG, ingress=6379),
        False,
        "sg-4ed (acme-prod-redis) has no ingress on tcp 6379 from sg-7a5 (acme-prod-tasks)",
    ),
    (
        "tasks to redis without the tasks' egress",
        PathSpec(_tasks(TASKS_SG), _redis(REDIS_SG), 6379),
        _without(TASKS_SG, egress=6379),
        False,
        "sg-7a5 (acme-prod-tasks) has no egress on tcp 6379 to sg-4ed (acme-prod-redis)",
    ),
    (
        "the default egress (all traffic anywhere) admits the cache",
        PathSpec(_tasks(TASKS_SG), _redis(REDIS_SG), 6379),
        _without(TASKS_SG, egress=6379) | _with(TASKS_SG, egress=(ANY,)),
        True,
        None,
    ),
    (
        "a destination with no groups is not governed by them",
        PathSpec(_alb(ALB_SG), _tasks(), 8080),
        STACK,
        True,
        None,
    ),
]


@pytest.mark.parametrize(
    ("spec", "groups", "is_open", "missing"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_path_decisions(
    spec: PathSpec, groups: dict[str, SecurityGroup], is_open: bool, missing: str | None
) -> None:
    decision = vpc.decide_path(spec, groups)
    assert (decision.open, decision.missing) == (is_open, missing)


def test_rules_come_from_described_permissions() -> None:
    described = {
        "GroupId": TASKS_SG,
        "GroupName": "acme-prod-tasks",
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": ALB_SG}],
                "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
                "PrefixListIds": [],
            }
        ],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    }
    group = vpc.group_from_description(described)
    assert group.ingress == (_tcp(8080, "10.0.0.0/16"), _tcp(8080, ALB_SG))
    assert group.egress == (Rule("-1", 0, 65535, "0.0.0.0/0"),)


def _network() -> vpc.Network:
    return vpc.Network(
        vpc.decide(
            [
                PathSpec(vpc.viewer(), _alb(ALB_SG), 80),
                PathSpec(_alb(ALB_SG), _tasks(TASKS_SG), 8080, "arn:tg-blue"),
                PathSpec(_tasks(TASKS_SG), _redis(REDIS_SG), 6379),
            ],
            _without(REDIS_SG, ingress=6379),
        )
    )


def test_the_network_answers_for_matching_paths_only() -> None:
    network = _network()
    assert network.is_open(vpc.VIEWER, vpc.ALB, destination="arn:alb", port=80)
    assert network.is_open(vpc.ALB, vpc.TASKS, source="arn:alb", via="arn:tg-blue")
    assert not network.is_open(
        vpc.TASKS, vpc.REDIS, source="arn:blue", destination="acme-prod-redis"
    )
    # What no decided path covers is not the groups' to close.
    assert network.is_open(vpc.TASKS, vpc.REDIS, source="arn:green")
    assert [p.name for p in network.closed] == [
        "acme-prod-blue tasks → redis acme-prod-redis on 6379"
    ]


def test_the_network_file_is_written_on_change_and_reread(tmp_path: Path) -> None:
    writer = vpc.NetworkFile(tmp_path / vpc.NETWORK_FILE)
    assert writer.write(_network())
    assert not writer.write(_network())  # the same paths: not rewritten
    assert vpc.load(tmp_path).paths == _network().paths
    reader = vpc.NetworkFile(tmp_path / vpc.NETWORK_FILE)
    assert len(reader.reload().closed) == 1
    assert writer.write(vpc.Network(vpc.decide([PathSpec(vpc.viewer(), _alb(ALB_SG), 80)], STACK)))
    assert reader.reload().closed == []
    assert vpc.load(tmp_path / "nowhere").paths == []


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(100):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _roundtrip(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"PING\r\n")
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(100), 2)
    except ConnectionResetError:  # refused: the gate aborts the connection
        return b""
    finally:
        writer.close()


def test_the_gate_refuses_new_connections_while_the_path_is_closed(tmp_path: Path) -> None:
    async def scenario() -> None:
        upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
        redis_port = upstream.sockets[0].getsockname()[1]
        file = vpc.NetworkFile(tmp_path / vpc.NETWORK_FILE)
        opened = vpc.Network(
            vpc.decide([PathSpec(_tasks(TASKS_SG), _redis(REDIS_SG), 6379)], STACK)
        )
        file.write(opened)
        gate = vpc.Gate(vpc.NetworkFile(file.path), "arn:blue", "acme-prod-redis", redis_port)
        server = await asyncio.start_server(gate.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        assert await _roundtrip(port) == b"PING\r\n"
        kept_reader, kept_writer = await asyncio.open_connection("127.0.0.1", port)
        file.write(_network())  # the cache's ingress from the tasks is gone
        assert await _roundtrip(port) == b""  # refused: closed at once
        assert gate.refused == 1
        kept_writer.write(b"still\r\n")  # tracked: the open connection carries on
        assert await asyncio.wait_for(kept_reader.read(100), 2) == b"still\r\n"
        kept_writer.close()
        file.write(opened)
        assert await _roundtrip(port) == b"PING\r\n"
        server.close()
        upstream.close()

    asyncio.run(scenario())


# --- reading a stack's groups from the control plane (moto, with the emulator's patches) ---


class _Control:
    def client(self, service: str, region: str | None = None) -> Any:
        return boto3.client(service, region_name=region or REGION)


def _permission(port: int, source: str) -> dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "UserIdGroupPairs": [{"GroupId": source}],
    }


def test_the_paths_of_a_stack_are_read_from_its_groups() -> None:
    with mock_aws(), patches.patched():
        control = _Control()
        ec2, elbv2 = control.client("ec2"), control.client("elbv2")
        ecs, elasticache = control.client("ecs"), control.client("elasticache")
        vpc_id, subnets, alb_sg = create_network(ec2)
        tasks_sg = ec2.create_security_group(GroupName="t", Description="t", VpcId=vpc_id)
        redis_sg = ec2.create_security_group(GroupName="r", Description="r", VpcId=vpc_id)
        tasks_sg, redis_sg = tasks_sg["GroupId"], redis_sg["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=alb_sg,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 80,
                    "ToPort": 80,
                    "IpRanges": [{"CidrIp": vpc.INTERNET}],
                }
            ],
        )
        ec2.authorize_security_group_ingress(
            GroupId=tasks_sg, IpPermissions=[_permission(8080, alb_sg)]
        )
        ec2.authorize_security_group_ingress(
            GroupId=redis_sg, IpPermissions=[_permission(6379, tasks_sg)]
        )
        balancer = elbv2.create_load_balancer(Name="acme", Subnets=subnets, SecurityGroups=[alb_sg])
        balancer_arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]
        group = elbv2.create_target_group(
            Name="acme-blue", Protocol="HTTP", Port=8080, VpcId=vpc_id, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.create_listener(
            LoadBalancerArn=balancer_arn,
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        )
        elasticache.create_cache_subnet_group(
            CacheSubnetGroupName="acme", CacheSubnetGroupDescription="acme", SubnetIds=subnets
        )
        cache = elasticache.create_replication_group(
            ReplicationGroupId="acme-redis",
            ReplicationGroupDescription="acme",
            Engine="redis",
            CacheNodeType="cache.t4g.micro",
            NumCacheClusters=1,
            CacheSubnetGroupName="acme",
            SecurityGroupIds=[redis_sg],
        )["ReplicationGroup"]
        endpoint = cache["NodeGroups"][0]["PrimaryEndpoint"]["Address"]
        ecs.create_cluster(clusterName="acme")
        definition = ecs.register_task_definition(
            family="acme",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": "app",
                    "environment": [{"name": "REDIS_HOST", "value": endpoint}],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster="acme",
            serviceName="acme-blue",
            taskDefinition=definition,
            desiredCount=0,
            loadBalancers=[
                {"targetGroupArn": group, "containerName": "app", "containerPort": 8080}
            ],
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": subnets, "securityGroups": [tasks_sg]}
            },
        )
        view = ecs_plane.read_services(control, [REGION], {})

        def paths() -> dict[str, str | None]:
            network, _ = vpc.read_network(
                control, [REGION], view.services.values(), view.definitions
            )
            return {p.name: p.missing for p in network.paths}

        assert paths() == {
            "viewer → alb acme on 80": None,
            "edge → alb acme on 80": None,
            "alb acme → acme-blue tasks on 8080": None,
            "acme-blue tasks → redis acme-redis on 6379": None,
        }
        ec2.revoke_security_group_ingress(
            GroupId=redis_sg, IpPermissions=[_permission(6379, tasks_sg)]
        )
        assert paths()["acme-blue tasks → redis acme-redis on 6379"] == (
            f"{redis_sg} (r) has no ingress on tcp 6379 from {tasks_sg} (t)"
        )
