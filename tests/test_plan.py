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


def test_the_traffic_rule_forwards_to_both_colours_by_weight(default_plan: Any) -> None:
    listeners = of_type(default_plan, "aws_lb_listener")
    assert len(listeners) == 1
    # Edge-only (the default): the listener refuses, the rule with the secret forwards.
    default_action = next(iter(listeners.values()))["default_action"][0]
    assert default_action["type"] == "fixed-response"
    assert default_action["fixed_response"][0]["status_code"] == "403"
    rules = of_type(default_plan, "aws_lb_listener_rule")
    assert len(rules) == 1
    rule = next(iter(rules.values()))
    assert rule["priority"] == 100
    assert rule["condition"][0]["http_header"][0]["http_header_name"] == "X-Origin-Verify"
    forward = rule["action"][0]["forward"][0]
    assert sorted(group["weight"] for group in forward["target_group"]) == [10, 90]
    assert forward["stickiness"][0]["enabled"] is True
    # The names hash the VPC's ID, known once the VPC exists (terraform/tests/alb.tftest.hcl
    # checks their shape; the e2e deploy, the applied names).
    groups = of_type(default_plan, "aws_lb_target_group")
    assert sorted(tg["port"] for tg in groups.values()) == [8080, 8080]


def test_cloudfront_sends_the_origin_secret_the_rule_accepts(default_plan: Any) -> None:
    distribution = next(iter(of_type(default_plan, "aws_cloudfront_distribution").values()))
    alb_origin = next(o for o in distribution["origin"] if o["origin_id"] == "alb")
    headers = {h["name"]: h["value"] for h in alb_origin["custom_header"]}
    rule = next(iter(of_type(default_plan, "aws_lb_listener_rule").values()))
    assert [headers["X-Origin-Verify"]] == rule["condition"][0]["http_header"][0]["values"]
    assert distribution["custom_error_response"] == [
        {
            "error_caching_min_ttl": 10,
            "error_code": 403,
            "response_code": 404,
            "response_page_path": "/404.html",
        }
    ]


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


def test_by_default_no_rule_admits_the_internet(default_plan: Any) -> None:
    rules = of_type(default_plan, "aws_vpc_security_group_ingress_rule")
    assert [a for a, rule in rules.items() if rule.get("cidr_ipv4")] == []
    from_lists = [a for a, rule in rules.items() if rule.get("prefix_list_id")]
    assert from_lists == [
        'module.security_groups.aws_vpc_security_group_ingress_rule.this["alb-origin-from-cloudfront"]'
    ]


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
