"""Plans of the real root module (tftest), against the embedded emulator's APIs."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from chatops.emulator.manager import EmulatorManager
from tests.helpers import TERRAFORM_DIR, tftest_on_emulator

pytestmark = pytest.mark.terraform


@pytest.fixture(scope="module")
def root(session_emulator: EmulatorManager, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tftest_on_emulator(
        session_emulator.require_running().endpoint,
        TERRAFORM_DIR,
        tmp_path_factory.mktemp("tftest-data"),
    )


def changes(plan: Any) -> dict[str, dict[str, Any]]:
    return {
        address: change
        for address, change in plan.resource_changes.items()
        if change["mode"] == "managed"
    }


def of_type(plan: Any, resource_type: str) -> dict[str, dict[str, Any]]:
    return {a: c["change"]["after"] for a, c in changes(plan).items() if c["type"] == resource_type}


@pytest.fixture(scope="module")
def default_plan(root: Any) -> Any:
    return root.plan(output=True, tf_vars={"blue_weight": 90, "green_weight": 10})


def test_plans_the_whole_stack_as_new(default_plan: Any) -> None:
    actions = Counter(tuple(c["change"]["actions"]) for c in changes(default_plan).values())
    assert set(actions) == {("create",)}
    modules = {c.get("module_address") for c in changes(default_plan).values()}
    assert modules == {
        f"module.{name}"
        for name in (
            "vpc",
            "security_groups",
            "iam",
            "ecr",
            "dynamodb",
            "elasticache",
            "alb",
            "ecs",
            "monitoring",
            "cloudfront",
        )
    }


def test_exactly_one_nat_gateway(default_plan: Any) -> None:
    assert len(of_type(default_plan, "aws_nat_gateway")) == 1
    assert len(of_type(default_plan, "aws_eip")) == 1


def test_listener_forwards_to_both_colours_by_weight(default_plan: Any) -> None:
    listeners = of_type(default_plan, "aws_lb_listener")
    assert len(listeners) == 1
    forward = next(iter(listeners.values()))["default_action"][0]["forward"][0]
    assert sorted(group["weight"] for group in forward["target_group"]) == [10, 90]
    assert forward["stickiness"][0]["enabled"] is True
    names = sorted(tg["name"] for tg in of_type(default_plan, "aws_lb_target_group").values())
    assert names == ["chatapp-dev-blue", "chatapp-dev-green"]


def test_one_fargate_service_per_colour(default_plan: Any) -> None:
    services = of_type(default_plan, "aws_ecs_service")
    assert sorted(s["name"] for s in services.values()) == [
        "chatapp-dev-service-blue",
        "chatapp-dev-service-green",
    ]
    for service in services.values():
        assert service["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}]
        assert service["network_configuration"][0]["assign_public_ip"] is False


def test_redis_primary_and_replica(default_plan: Any) -> None:
    (group,) = of_type(default_plan, "aws_elasticache_replication_group").values()
    assert group["num_cache_clusters"] == 2
    assert group["automatic_failover_enabled"] and group["multi_az_enabled"]
    assert len(set(group["preferred_cache_cluster_azs"])) == 2


def test_three_tables(default_plan: Any) -> None:
    tables = {t["name"]: t for t in of_type(default_plan, "aws_dynamodb_table").values()}
    assert set(tables) == {
        "chatapp-dev-messages",
        "chatapp-dev-connections",
        "chatapp-dev-user-counter",
    }
    assert tables["chatapp-dev-messages"]["range_key"] == "timestamp"


def test_only_the_alb_rules_admit_the_internet(default_plan: Any) -> None:
    open_rules = [
        address
        for address, rule in of_type(default_plan, "aws_vpc_security_group_ingress_rule").items()
        if rule.get("cidr_ipv4") == "0.0.0.0/0"
    ]
    assert open_rules and all('this["alb-' in address for address in open_rules), open_rules


DEFAULT_NAMES = re.compile(r"\bchatapp\b|\bdev\b|ap-northeast-2")


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_non_default_names_leave_no_default_anywhere(root: Any) -> None:
    plan = root.plan(
        output=True,
        tf_vars={"project_name": "acme", "environment": "prod", "aws_region": "eu-west-1"},
    )
    leaks = {
        address: sorted({s for s in strings(change["change"]["after"]) if DEFAULT_NAMES.search(s)})
        for address, change in changes(plan).items()
    }
    leaks = {address: found for address, found in leaks.items() if found}
    assert leaks == {}
    names = [t["name"] for t in of_type(plan, "aws_dynamodb_table").values()]
    assert sorted(names) == [
        "acme-prod-connections",
        "acme-prod-messages",
        "acme-prod-user-counter",
    ]
