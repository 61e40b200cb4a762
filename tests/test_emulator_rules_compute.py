"""The emulator refuses what AWS refuses: ALB subnet sizes, cache parameter groups,
Fargate task sizes, capacity provider changes without a new deployment.

Each rule is a patch: with it, the request AWS refuses is refused with AWS's error code
and message (and the request AWS accepts still passes); without it, moto accepts both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from chatops.emulator import patches
from chatops.emulator.patches import ecs as ecs_patches
from chatops.emulator.patches import elasticache as elasticache_patches
from tests.helpers import create_network

REGION = "ap-northeast-2"


@pytest.fixture
def aws() -> Iterator[Callable[[str], Any]]:
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


def outcome(rule: str, applied: bool, request: Callable[[], Any]) -> tuple[str, str]:
    """(error code, message) of `request` with or without `rule`; ("ok", "") if accepted."""
    with patches.patched(without=() if applied else (rule,)):
        try:
            request()
        except botocore.exceptions.ClientError as error:
            return error.response["Error"]["Code"], error.response["Error"]["Message"]
    return "ok", ""


# --- elbv2-alb-subnet-size --------------------------------------------------------------


def _alb_subnets(aws: Callable[[str], Any], prefix: int, taken: int = 0) -> list[str]:
    """Two subnets of /`prefix` in two zones; `taken` addresses of the first in use."""
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.1.{index}.0/{prefix}", AvailabilityZone=f"{REGION}{zone}"
        )["Subnet"]["SubnetId"]
        for index, zone in enumerate("ab")
    ]
    if taken:
        ec2.create_network_interface(SubnetId=subnets[0], SecondaryPrivateIpAddressCount=taken - 1)
    return subnets


def _create_alb(aws: Callable[[str], Any], subnets: list[str]) -> Callable[[], Any]:
    return lambda: aws("elbv2").create_load_balancer(
        Name="chat-alb", Subnets=subnets, Type="application", Scheme="internet-facing"
    )


@pytest.mark.parametrize("applied", [True, False])
def test_an_alb_in_28_subnets_is_refused(aws, applied: bool) -> None:
    subnets = _alb_subnets(aws, 28)
    code, message = outcome("elbv2-alb-subnet-size", applied, _create_alb(aws, subnets))
    if applied:
        assert code == "InvalidSubnet"
        assert message == (
            f"Not enough IP space available in {subnets[0]}. "
            "ELB requires at least 8 free IP addresses in each subnet."
        )
    else:
        assert code == "ok"


@pytest.mark.parametrize("applied", [True, False])
def test_an_alb_in_a_27_with_fewer_than_8_free_addresses_is_refused(aws, applied: bool) -> None:
    subnets = _alb_subnets(aws, 27, taken=20)  # 27 usable - 20 = 7 free
    free = aws("ec2").describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]
    assert free["AvailableIpAddressCount"] == 7
    code, message = outcome("elbv2-alb-subnet-size", applied, _create_alb(aws, subnets))
    assert code == ("InvalidSubnet" if applied else "ok")
    assert subnets[0] in message or not applied


def test_an_alb_in_27_subnets_with_room_is_accepted(aws) -> None:
    subnets = _alb_subnets(aws, 27, taken=19)  # 8 free: enough
    assert outcome("elbv2-alb-subnet-size", True, _create_alb(aws, subnets)) == ("ok", "")


def test_a_network_load_balancer_is_not_held_to_the_alb_rule(aws) -> None:
    subnets = _alb_subnets(aws, 28)
    request = lambda: aws("elbv2").create_load_balancer(  # noqa: E731
        Name="chat-nlb", Subnets=subnets, Type="network"
    )
    assert outcome("elbv2-alb-subnet-size", True, request) == ("ok", "")


# --- elasticache-parameter-groups -------------------------------------------------------


def _replication_group(
    aws: Callable[[str], Any], engine: str, version: str, group: str | None
) -> Callable[[], Any]:
    _, subnets, security_group = create_network(aws("ec2"))
    elasticache = aws("elasticache")
    elasticache.create_cache_subnet_group(
        CacheSubnetGroupName="chat-redis", CacheSubnetGroupDescription="d", SubnetIds=subnets
    )
    request: dict[str, Any] = {
        "ReplicationGroupId": "chat-redis",
        "ReplicationGroupDescription": "d",
        "Engine": engine,
        "EngineVersion": version,
        "CacheNodeType": "cache.t4g.micro",
        "NumCacheClusters": 1,
        "CacheSubnetGroupName": "chat-redis",
        "SecurityGroupIds": [security_group],
    }
    if group is not None:
        request["CacheParameterGroupName"] = group
    return lambda: elasticache.create_replication_group(**request)


@pytest.mark.parametrize("applied", [True, False])
def test_a_parameter_group_that_does_not_exist_is_refused(aws, applied: bool) -> None:
    request = _replication_group(aws, "redis", "6.2", "default.redis6")
    code, message = outcome("elasticache-parameter-groups", applied, request)
    if applied:
        assert (code, message) == (
            "CacheParameterGroupNotFound",
            "CacheParameterGroup not found: default.redis6",
        )
    else:
        assert code == "ok"


@pytest.mark.parametrize("applied", [True, False])
def test_a_parameter_group_of_another_family_is_refused(aws, applied: bool) -> None:
    request = _replication_group(aws, "redis", "6.2", "default.redis7")
    code, message = outcome("elasticache-parameter-groups", applied, request)
    if applied:
        assert (code, message) == (
            "InvalidParameterCombination",
            "Expected a parameter group of family redis6.x but found one of family redis7",
        )
    else:
        assert code == "ok"


@pytest.mark.parametrize(
    ("engine", "version", "group"),
    [
        ("redis", "6.2", "default.redis6.x"),
        ("redis", "6.x", "default.redis6.x"),
        ("redis", "7.1", "default.redis7"),
        ("valkey", "7.2", "default.valkey7"),
        ("valkey", "8.0", "default.valkey8"),
        ("redis", "7.1", None),
    ],
)
def test_the_default_group_of_each_version_is_accepted(aws, engine, version, group) -> None:
    request = _replication_group(aws, engine, version, group)
    assert outcome("elasticache-parameter-groups", True, request) == ("ok", "")


@pytest.mark.parametrize(
    ("engine", "version", "family"),
    [
        ("redis", "5.0.6", "redis5.0"),
        ("redis", "6.0", "redis6.x"),
        ("redis", "7.0", "redis7"),
        ("valkey", "8.1", "valkey8"),
        ("memcached", "1.6.22", "memcached1.6"),
    ],
)
def test_parameter_group_families_of_engine_versions(engine, version, family) -> None:
    assert elasticache_patches.parameter_group_family(engine, version) == family


# --- ecs-fargate-task-sizes -------------------------------------------------------------


def _task_definition(aws: Callable[[str], Any], cpu: str, memory: str) -> Callable[[], Any]:
    return lambda: aws("ecs").register_task_definition(
        family="chat-blue",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu=cpu,
        memory=memory,
        containerDefinitions=[{"name": "app", "image": "app:1"}],
    )


@pytest.mark.parametrize("applied", [True, False])
def test_a_fargate_size_that_does_not_exist_is_refused(aws, applied: bool) -> None:
    code, message = outcome(
        "ecs-fargate-task-sizes", applied, _task_definition(aws, "1024", "1024")
    )
    if applied:
        assert (code, message) == (
            "ClientException",
            "No Fargate configuration exists for given values: 1024 CPU, 1024 memory. "
            "See the Amazon ECS documentation for the valid values.",
        )
    else:
        assert code == "ok"


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [("256", "512"), ("256", "2048"), ("1024", "8192"), ("4096", "30720"), ("1 vCPU", "2 GB")],
)
def test_fargate_sizes_are_accepted(aws, cpu: str, memory: str) -> None:
    assert outcome("ecs-fargate-task-sizes", True, _task_definition(aws, cpu, memory)) == (
        "ok",
        "",
    )


@pytest.mark.parametrize(
    ("cpu", "memory", "fits"),
    [
        ("256", "512", True),
        ("256", "4096", False),
        ("512", "1024", True),
        ("512", "1536", False),
        ("2048", "16384", True),
        ("2048", "17408", False),
        ("8192", "20480", True),
        ("8192", "18432", False),
        ("16384", "122880", True),
        ("16384", "36864", False),
        ("300", "512", False),
        ("0.25 vCPU", "0.5 GB", True),
    ],
)
def test_the_fargate_size_table(cpu: str, memory: str, fits: bool) -> None:
    assert ecs_patches.fargate_size_fits(cpu, memory) is fits


# --- ecs-capacity-provider-updates ------------------------------------------------------


def _service(aws: Callable[[str], Any]) -> Any:
    _, subnets, group = create_network(aws("ec2"))
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="chat")
    ecs.register_task_definition(
        family="chat-blue",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "app:1"}],
    )
    ecs.create_service(
        cluster="chat",
        serviceName="chat-service-blue",
        taskDefinition="chat-blue",
        desiredCount=1,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}
        },
    )
    return ecs


def _move_to_spot(ecs: Any, **extra: Any) -> Callable[[], Any]:
    return lambda: ecs.update_service(
        cluster="chat",
        service="chat-service-blue",
        capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        **extra,
    )


@pytest.mark.parametrize("applied", [True, False])
def test_a_capacity_provider_change_without_a_new_deployment_is_refused(aws, applied: bool) -> None:
    with patches.patched():
        ecs = _service(aws)
    code, message = outcome("ecs-capacity-provider-updates", applied, _move_to_spot(ecs))
    if applied:
        assert code == "InvalidParameterException"
        assert message.endswith(
            "or making a change to a capacity provider strategy on a service that is already "
            "using one, you must force a new deployment."
        )
    else:
        assert code == "ok"


def test_a_capacity_provider_change_with_a_new_deployment_is_accepted(aws) -> None:
    with patches.patched():
        ecs = _service(aws)
        _move_to_spot(ecs, forceNewDeployment=True)()
        service = ecs.describe_services(cluster="chat", services=["chat-service-blue"])
    strategy = service["services"][0]["capacityProviderStrategy"]
    assert [entry["capacityProvider"] for entry in strategy] == ["FARGATE_SPOT"]


def test_an_update_that_keeps_the_strategy_needs_no_new_deployment(aws) -> None:
    with patches.patched():
        ecs = _service(aws)
    same = lambda: ecs.update_service(  # noqa: E731
        cluster="chat",
        service="chat-service-blue",
        desiredCount=2,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
    )
    assert outcome("ecs-capacity-provider-updates", True, same) == ("ok", "")
