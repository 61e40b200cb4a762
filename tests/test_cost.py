"""chatops cost, the library: prices, pricers per resource type, usage files, totals, diffs."""

from __future__ import annotations

import gzip
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chatops.cost import estimate, estimate_json, load_price_book, read_plan
from chatops.cost.breakdown import Breakdown, Estimate, cents
from chatops.cost.errors import NoPricesForRegion, PlanFileInvalid, UsageFileInvalid
from chatops.cost.prices import parse_price_book
from chatops.cost.resources import FREE, PRICERS, USAGE_KEYS
from chatops.cost.usage import Usage, load_usage, parse_usage
from tests.helpers import FIXTURES, ROOT, TERRAFORM_DIR

BOOK = load_price_book()
SEOUL = BOOK.region("ap-northeast-2")
HOURS = Decimal(730)
COST_FIXTURES = FIXTURES / "cost"


def price(key: str, region: str = "ap-northeast-2") -> Decimal:
    return BOOK.region(region)[key].amount


def real_plan(name: str) -> dict[str, Any]:
    """A plan of the real root module (tests/fixtures/cost/make_fixtures.py made them)."""
    with gzip.open(COST_FIXTURES / f"{name}.json.gz", "rt") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def priced(name: str, usage: Usage | None = None) -> Estimate:
    return estimate(read_plan(real_plan(name), name), BOOK, usage)


# --- plan documents made by hand, one resource type at a time ---------------------------


def resource(address: str, values: dict[str, Any], index: Any = None) -> dict[str, Any]:
    local = re.sub(r"\[[^\]]*\]$", "", address).split(".")
    return {
        "address": address,
        "mode": "managed",
        "type": local[-2],
        "name": local[-1],
        "index": index,
        "values": values,
    }


def document(
    *resources: dict[str, Any],
    region: str = "ap-northeast-2",
    configuration: dict[str, Any] | None = None,
    prior: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "variables": {"aws_region": {"value": region}},
        "planned_values": {"root_module": {"resources": list(resources)}},
        "prior_state": {"values": {"root_module": {"resources": prior or []}}},
        "resource_changes": [
            {
                "address": r["address"],
                "mode": "managed",
                "type": r["type"],
                "name": r["name"],
                "change": {"actions": ["create"]},
            }
            for r in resources
        ],
        "configuration": configuration or {"root_module": {"resources": []}},
    }


def bill(*resources: dict[str, Any], usage: Usage | None = None, **kwargs: Any) -> Breakdown:
    return estimate(read_plan(document(*resources, **kwargs)), BOOK, usage).breakdown


def lines(breakdown: Breakdown, address: str) -> list[tuple[str, Decimal | None, Decimal]]:
    """(name, monthly quantity, unit price) of each component of one resource."""
    found = breakdown.by_address()[address]
    return [(c.name, c.quantity, c.unit_price) for c in found.components]


def usage_of(**by_type: dict[str, Any]) -> Usage:
    return parse_usage({"version": 1, "resource_type_default_usage": by_type})


# --- the price list ------------------------------------------------------------------------


def test_every_price_names_its_source_and_when_it_was_read() -> None:
    raw = json.loads((ROOT / "chatops" / "cost" / "data" / "prices.json").read_text())
    assert raw["hours_per_month"] == 730
    assert set(raw["regions"]) == {"ap-northeast-2", "us-east-1"}
    for region, table in raw["regions"].items():
        for key, entry in table["prices"].items():
            assert entry["source"].startswith("https://aws.amazon.com/"), (region, key)
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["read"]), (region, key)
            assert entry["note"], (region, key)


def test_both_regions_price_the_same_things() -> None:
    assert set(BOOK.region("ap-northeast-2").prices) == set(BOOK.region("us-east-1").prices)


def test_the_spot_discount_is_a_stated_assumption() -> None:
    spot = SEOUL["fargate.spot_discount"]
    assert spot.amount == Decimal("0.70")
    assert "ASSUMPTION" in spot.note and "lower bound" in spot.note


def test_a_region_without_prices_is_a_clear_error_naming_the_regions_that_have_them() -> None:
    with pytest.raises(NoPricesForRegion) as caught:
        BOOK.region("eu-west-1")
    assert "'eu-west-1'" in caught.value.message
    assert "ap-northeast-2, us-east-1" in caught.value.message
    nat = resource("aws_nat_gateway.this", {})
    with pytest.raises(NoPricesForRegion, match="eu-west-1"):
        bill(nat, region="eu-west-1")


def test_a_malformed_price_file_is_refused() -> None:
    good = json.loads((ROOT / "chatops" / "cost" / "data" / "prices.json").read_text())
    table = good["regions"]["us-east-1"]["prices"]
    table["elb.alb.hour"].pop("source")
    from chatops.cost.errors import PriceDataInvalid

    with pytest.raises(PriceDataInvalid, match="elb.alb.hour: 'source' is missing"):
        parse_price_book(json.loads(json.dumps(good), parse_float=Decimal, parse_int=Decimal))


# --- one pricer per resource type --------------------------------------------------------


def test_nat_gateway_hours_and_data_processed() -> None:
    nat = resource("aws_nat_gateway.this", {"connectivity_type": "public"})
    assert lines(bill(nat), "aws_nat_gateway.this") == [
        ("NAT gateway", HOURS, Decimal("0.059")),
        ("Data processed", None, Decimal("0.059")),
    ]
    with_usage = bill(nat, usage=usage_of(aws_nat_gateway={"monthly_data_processed_gb": 20}))
    cost = with_usage.by_address()["aws_nat_gateway.this"]
    assert cost.monthly_fixed == HOURS * Decimal("0.059")
    assert cost.monthly_usage == 20 * Decimal("0.059")


def test_every_elastic_ip_is_a_public_ipv4_address_unless_brought_along() -> None:
    eip = resource("aws_eip.nat", {"domain": "vpc", "public_ipv4_pool": "amazon"})
    byoip = resource("aws_eip.own", {"domain": "vpc", "public_ipv4_pool": "ipv4pool-ec2-1"})
    breakdown = bill(eip, byoip)
    assert lines(breakdown, "aws_eip.nat") == [("Public IPv4 address", HOURS, Decimal("0.005"))]
    assert [f.address for f in breakdown.free] == ["aws_eip.own"]


def test_alb_hours_one_public_address_per_zone_and_lcus() -> None:
    alb = resource(
        "aws_lb.this",
        {"load_balancer_type": "application", "internal": False, "subnets": ["a", "b", "c"]},
    )
    assert lines(bill(alb), "aws_lb.this") == [
        ("Application load balancer", HOURS, Decimal("0.0225")),
        ("Public IPv4 addresses (one per zone, 3 zones)", 3 * HOURS, Decimal("0.005")),
        ("Load balancer capacity units", None, Decimal("0.008")),
    ]
    busy = bill(alb, usage=usage_of(aws_lb={"average_lcus": 2}))
    assert lines(busy, "aws_lb.this")[2] == (
        "Load balancer capacity units",
        2 * HOURS,
        Decimal("0.008"),
    )


def test_an_internal_alb_has_no_public_addresses_and_an_nlb_is_unpriced() -> None:
    internal = resource("aws_lb.internal", {"internal": True, "subnets": ["a", "b"]})
    nlb = resource("aws_lb.nlb", {"load_balancer_type": "network", "subnets": ["a", "b"]})
    breakdown = bill(internal, nlb)
    assert [name for name, _, _ in lines(breakdown, "aws_lb.internal")] == [
        "Application load balancer",
        "Load balancer capacity units",
    ]
    assert [(u.address, u.reason) for u in breakdown.unpriced] == [
        ("aws_lb.nlb", "network load balancers have no bundled prices")
    ]


def test_alb_zones_follow_references_through_modules_when_subnets_are_unknown() -> None:
    configuration = {
        "root_module": {
            "module_calls": {
                "net": {
                    "module": {
                        "resources": [{"address": "aws_subnet.public", "mode": "managed"}],
                        "outputs": {"ids": {"expression": {"references": ["aws_subnet.public"]}}},
                    }
                },
                "lb": {
                    "expressions": {"subnets": {"references": ["module.net.ids", "module.net"]}},
                    "module": {
                        "resources": [
                            {
                                "address": "aws_lb.this",
                                "mode": "managed",
                                "expressions": {"subnets": {"references": ["var.subnets"]}},
                            }
                        ]
                    },
                },
            }
        }
    }
    planned = {
        "root_module": {
            "child_modules": [
                {
                    "address": "module.net",
                    "resources": [
                        resource(f'module.net.aws_subnet.public["{zone}"]', {}, zone)
                        for zone in ("a", "b", "c")
                    ],
                },
                {"address": "module.lb", "resources": [resource("module.lb.aws_lb.this", {})]},
            ]
        }
    }
    plan = document(configuration=configuration)
    plan["planned_values"] = planned
    breakdown = estimate(read_plan(plan), BOOK).breakdown
    assert lines(breakdown, "module.lb.aws_lb.this")[1][0] == (
        "Public IPv4 addresses (one per zone, 3 zones)"
    )


def task_definition(address: str, cpu: str, memory: str, arch: str = "X86_64", **extra: Any):
    values = {
        "family": address.rsplit(".", 1)[-1],
        "cpu": cpu,
        "memory": memory,
        "runtime_platform": [{"cpu_architecture": arch, "operating_system_family": "LINUX"}],
        **extra,
    }
    return resource(address, values)


def service(address: str, task: str, count: int, **values: Any) -> dict[str, Any]:
    return resource(address, {"task_definition": task, "desired_count": count, **values})


def test_fargate_service_x86_on_demand() -> None:
    breakdown = bill(
        task_definition("aws_ecs_task_definition.app", "512", "1024"),
        service("aws_ecs_service.app", "app", 2, launch_type="FARGATE"),
    )
    assert lines(breakdown, "aws_ecs_service.app") == [
        ("Fargate vCPU (2 tasks x 0.5 vCPU, x86)", 2 * Decimal("0.5") * HOURS, Decimal("0.04656")),
        ("Fargate memory (2 tasks x 1 GB, x86)", 2 * HOURS, Decimal("0.00511")),
    ]


def test_fargate_service_graviton_with_public_ips() -> None:
    breakdown = bill(
        task_definition("aws_ecs_task_definition.app", "256", "512", "ARM64"),
        service(
            "aws_ecs_service.app",
            "app",
            1,
            capacity_provider_strategy=[{"capacity_provider": "FARGATE", "weight": 1}],
            network_configuration=[{"assign_public_ip": True}],
        ),
    )
    assert lines(breakdown, "aws_ecs_service.app") == [
        ("Fargate vCPU (1 task x 0.25 vCPU, Graviton)", Decimal("182.5"), Decimal("0.03725")),
        ("Fargate memory (1 task x 0.5 GB, Graviton)", Decimal("365"), Decimal("0.00409")),
        ("Public IPv4 addresses (one per task)", HOURS, Decimal("0.005")),
    ]


def test_fargate_spot_applies_the_assumed_discount_to_its_share_of_tasks() -> None:
    half = [
        {"capacity_provider": "FARGATE", "weight": 1},
        {"capacity_provider": "FARGATE_SPOT", "weight": 1},
    ]
    breakdown = bill(
        task_definition("aws_ecs_task_definition.app", "1024", "2048"),
        service("aws_ecs_service.app", "app", 4, capacity_provider_strategy=half),
    )
    spot_cpu = Decimal("0.04656") * (1 - Decimal("0.70"))
    assert lines(breakdown, "aws_ecs_service.app") == [
        ("Fargate vCPU (4 tasks x 1 vCPU, x86)", 2 * HOURS, Decimal("0.04656")),
        ("Fargate memory (4 tasks x 2 GB, x86)", 4 * HOURS, Decimal("0.00511")),
        ("Fargate Spot vCPU (4 tasks x 1 vCPU, x86)", 2 * HOURS, spot_cpu),
        (
            "Fargate Spot memory (4 tasks x 2 GB, x86)",
            4 * HOURS,
            Decimal("0.00511") * Decimal("0.3"),
        ),
    ]


def test_a_strategy_wins_over_a_reported_ec2_launch_type_and_ec2_capacity_is_unpriced() -> None:
    fargate = [{"capacity_provider": "FARGATE", "weight": 1}]
    breakdown = bill(
        task_definition("aws_ecs_task_definition.app", "256", "512"),
        service(
            "aws_ecs_service.a", "app", 1, launch_type="EC2", capacity_provider_strategy=fargate
        ),
        service("aws_ecs_service.b", "app", 1, launch_type="EC2"),
    )
    assert breakdown.by_address()["aws_ecs_service.a"].monthly_fixed > 0
    assert [(u.address, u.reason) for u in breakdown.unpriced] == [
        ("aws_ecs_service.b", "it runs on EC2 capacity, which is priced on the instances")
    ]


def test_a_service_finds_its_task_definition_by_arn_or_by_reference() -> None:
    arn = "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/app:7"
    by_arn = bill(
        task_definition("aws_ecs_task_definition.app", "256", "512", arn=arn, revision=7),
        service("aws_ecs_service.app", arn, 1, launch_type="FARGATE"),
    )
    assert by_arn.by_address()["aws_ecs_service.app"].monthly_fixed > 0
    configuration = {
        "root_module": {
            "resources": [
                {"address": "aws_ecs_task_definition.this", "mode": "managed"},
                {
                    "address": "aws_ecs_service.this",
                    "mode": "managed",
                    "expressions": {
                        "task_definition": {
                            "references": ["aws_ecs_task_definition.this", "each.key"]
                        }
                    },
                },
            ]
        }
    }
    blue = task_definition('aws_ecs_task_definition.this["blue"]', "256", "512")
    green = task_definition('aws_ecs_task_definition.this["green"]', "1024", "2048")
    blue["index"], green["index"] = "blue", "green"
    unknown = {"desired_count": 1, "launch_type": "FARGATE"}  # task_definition: known after apply
    by_reference = bill(
        blue,
        green,
        resource('aws_ecs_service.this["blue"]', unknown, "blue"),
        resource('aws_ecs_service.this["green"]', unknown, "green"),
        configuration=configuration,
    )
    names = {a: lines(by_reference, a)[0][0] for a in by_reference.by_address()}
    assert names['aws_ecs_service.this["blue"]'] == "Fargate vCPU (1 task x 0.25 vCPU, x86)"
    assert names['aws_ecs_service.this["green"]'] == "Fargate vCPU (1 task x 1 vCPU, x86)"


def test_container_insights_is_usage_based_and_free_when_off() -> None:
    on = resource(
        "aws_ecs_cluster.on", {"setting": [{"name": "containerInsights", "value": "enabled"}]}
    )
    off = resource(
        "aws_ecs_cluster.off", {"setting": [{"name": "containerInsights", "value": "disabled"}]}
    )
    breakdown = bill(on, off)
    assert [c.usage_key for c in breakdown.by_address()["aws_ecs_cluster.on"].components] == [
        "container_insights_metrics",
        "container_insights_gb",
    ]
    assert [f.address for f in breakdown.free] == ["aws_ecs_cluster.off"]


def test_redis_oss_pair_valkey_single_node_and_cluster_mode() -> None:
    breakdown = bill(
        resource(
            "aws_elasticache_replication_group.pair",
            {"engine": "redis", "node_type": "cache.t4g.micro", "num_cache_clusters": 2},
        ),
        resource(
            "aws_elasticache_replication_group.single",
            {"engine": "valkey", "node_type": "cache.t4g.micro", "num_cache_clusters": 1},
        ),
        resource(
            "aws_elasticache_replication_group.sharded",
            {
                "engine": "valkey",
                "node_type": "cache.t4g.small",
                "num_node_groups": 2,
                "replicas_per_node_group": 1,
            },
        ),
    )
    assert lines(breakdown, "aws_elasticache_replication_group.pair")[0] == (
        "Cache nodes (2 x cache.t4g.micro, Redis OSS)",
        2 * HOURS,
        Decimal("0.024"),
    )
    assert lines(breakdown, "aws_elasticache_replication_group.single")[0] == (
        "Cache nodes (1 x cache.t4g.micro, Valkey)",
        HOURS,
        Decimal("0.0192"),
    )
    assert lines(breakdown, "aws_elasticache_replication_group.sharded")[0][1] == 4 * HOURS
    # Valkey is ~20% cheaper per node hour.
    assert price("elasticache.node_hour:valkey:cache.t4g.micro") == Decimal("0.8") * price(
        "elasticache.node_hour:redis:cache.t4g.micro"
    )


def test_a_node_type_without_a_price_is_unpriced_and_a_member_cluster_is_free() -> None:
    breakdown = bill(
        resource(
            "aws_elasticache_replication_group.big",
            {"engine": "redis", "node_type": "cache.r7g.12xlarge", "num_cache_clusters": 2},
        ),
        resource("aws_elasticache_cluster.member", {"replication_group_id": "big"}),
        resource(
            "aws_elasticache_cluster.alone",
            {"engine": "redis", "node_type": "cache.t4g.micro", "num_cache_nodes": 1},
        ),
    )
    assert [(u.address, u.reason) for u in breakdown.unpriced] == [
        (
            "aws_elasticache_replication_group.big",
            "no bundled price for cache.r7g.12xlarge (redis) in ap-northeast-2",
        )
    ]
    assert [f.address for f in breakdown.free] == ["aws_elasticache_cluster.member"]
    assert lines(breakdown, "aws_elasticache_cluster.alone")[0][1] == HOURS


def test_dynamodb_on_demand_requests_and_pitr_are_usage_based() -> None:
    table = resource(
        "aws_dynamodb_table.messages",
        {"billing_mode": "PAY_PER_REQUEST", "point_in_time_recovery": [{"enabled": True}]},
    )
    usage = usage_of(
        aws_dynamodb_table={
            "monthly_write_request_units": 3_000_000,
            "monthly_read_request_units": 10_000_000,
            "storage_gb": 2,
        }
    )
    assert lines(bill(table, usage=usage), "aws_dynamodb_table.messages") == [
        ("Write request units", Decimal(3), Decimal("0.68")),
        ("Read request units", Decimal(10), Decimal("0.1355")),
        ("Point-in-time recovery", Decimal(2), Decimal("0.228")),
    ]
    provisioned = resource("aws_dynamodb_table.old", {"billing_mode": "PROVISIONED"})
    assert [u.reason for u in bill(provisioned).unpriced] == [
        "provisioned capacity has no bundled prices"
    ]


def test_alarms_dashboards_logs_keys_buckets_and_repositories() -> None:
    breakdown = bill(
        resource("aws_cloudwatch_metric_alarm.standard", {"period": 60}),
        resource("aws_cloudwatch_metric_alarm.fast", {"period": 10}),
        resource(
            "aws_cloudwatch_metric_alarm.math",
            {"metric_query": [{"metric": [{}]}, {"metric": [{}]}, {"expression": "m1+m2"}]},
        ),
        resource("aws_cloudwatch_dashboard.this", {}),
        resource("aws_cloudwatch_log_group.this", {}),
        resource("aws_kms_key.this", {}),
        resource("aws_s3_bucket.this", {}),
        resource("aws_ecr_repository.this", {}),
        resource("aws_ssm_parameter.standard", {"tier": "Standard"}),
        resource("aws_ssm_parameter.advanced", {"tier": "Advanced"}),
    )
    assert lines(breakdown, "aws_cloudwatch_metric_alarm.standard") == [
        ("Standard alarm", 1, Decimal("0.10"))
    ]
    assert lines(breakdown, "aws_cloudwatch_metric_alarm.fast") == [
        ("High-resolution alarm", 1, Decimal("0.30"))
    ]
    assert lines(breakdown, "aws_cloudwatch_metric_alarm.math") == [
        ("Standard alarm", 2, Decimal("0.10"))
    ]
    assert lines(breakdown, "aws_cloudwatch_dashboard.this") == [("Dashboard", 1, Decimal(3))]
    assert lines(breakdown, "aws_kms_key.this") == [("Customer managed key", 1, Decimal(1))]
    assert lines(breakdown, "aws_ssm_parameter.advanced") == [
        ("Advanced parameter", 1, Decimal("0.05"))
    ]
    assert [f.address for f in breakdown.free] == ["aws_ssm_parameter.standard"]
    for usage_only in (
        "aws_cloudwatch_log_group.this",
        "aws_s3_bucket.this",
        "aws_ecr_repository.this",
    ):
        cost = breakdown.by_address()[usage_only]
        assert cost.monthly == 0 and all(c.usage_based for c in cost.components)


def test_cloudfront_data_out_is_priced_for_the_region_viewers() -> None:
    distribution = resource("aws_cloudfront_distribution.this", {})
    usage = usage_of(aws_cloudfront_distribution={"monthly_data_transfer_gb": 100})
    seoul = bill(distribution, usage=usage)
    virginia = bill(distribution, usage=usage, region="us-east-1")
    assert lines(seoul, "aws_cloudfront_distribution.this") == [
        ("Data transfer out to viewers in South Korea", 100, Decimal("0.120"))
    ]
    assert seoul.monthly_usage == Decimal("12.0") and virginia.monthly_usage == Decimal("8.5")


def test_waf_web_acl_rules_and_requests() -> None:
    acl = resource("aws_wafv2_web_acl.this", {"rule": [{}, {}, {}, {}]})
    usage = usage_of(aws_wafv2_web_acl={"monthly_requests": 2_000_000})
    assert lines(bill(acl, usage=usage), "aws_wafv2_web_acl.this") == [
        ("Web ACL", 1, Decimal(5)),
        ("Rules (4)", 4, Decimal(1)),
        ("Requests", 2, Decimal("0.60")),
    ]


def test_gateway_endpoints_are_free_interface_endpoints_are_not() -> None:
    breakdown = bill(
        resource("aws_vpc_endpoint.s3", {"vpc_endpoint_type": "Gateway"}),
        resource(
            "aws_vpc_endpoint.ecr",
            {"vpc_endpoint_type": "Interface", "subnet_ids": ["a", "b"]},
        ),
    )
    assert [f.address for f in breakdown.free] == ["aws_vpc_endpoint.s3"]
    assert lines(breakdown, "aws_vpc_endpoint.ecr")[0] == (
        "Interface endpoint (2 zones)",
        2 * HOURS,
        Decimal("0.013"),
    )


def test_an_unknown_resource_type_is_listed_as_unpriced_never_dropped() -> None:
    breakdown = bill(
        resource("aws_vpc.this", {}),
        resource("aws_quantum_computer.q", {}),
    )
    assert [(u.address, u.type) for u in breakdown.unpriced] == [
        ("aws_quantum_computer.q", "aws_quantum_computer")
    ]
    assert [f.address for f in breakdown.free] == ["aws_vpc.this"]


def test_every_resource_type_of_the_stack_is_priced_or_known_to_be_free() -> None:
    for name in ("default", "hackathon", "waf", "hackathon_with_email"):
        breakdown = priced(name).breakdown
        assert breakdown.unpriced == (), name
        every = {r.address for r in read_plan(real_plan(name)).planned}
        listed = {r.address for r in breakdown.resources} | {f.address for f in breakdown.free}
        assert every == listed, name


def test_no_type_is_both_priced_and_free() -> None:
    assert not set(PRICERS) & set(FREE)
    assert set(USAGE_KEYS) == set(PRICERS)


# --- the real root module: totals against a table computed by hand ----------------------

# address -> [(price key, monthly quantity)]: quantities are hours, nodes, counts.
DEFAULT_TABLE: dict[str, list[tuple[str, Decimal]]] = {
    "module.vpc.aws_nat_gateway.this[0]": [("vpc.nat_gateway.hour", HOURS)],
    "module.vpc.aws_eip.nat[0]": [("ec2.public_ipv4.hour", HOURS)],
    "module.alb.aws_lb.this": [("elb.alb.hour", HOURS), ("ec2.public_ipv4.hour", 2 * HOURS)],
    'module.ecs.aws_ecs_service.this["blue"]': [
        ("fargate.linux_x86_64.vcpu_hour", Decimal("0.25") * HOURS),
        ("fargate.linux_x86_64.gb_hour", Decimal("0.5") * HOURS),
    ],
    'module.ecs.aws_ecs_service.this["green"]': [
        ("fargate.linux_x86_64.vcpu_hour", Decimal("0.25") * HOURS),
        ("fargate.linux_x86_64.gb_hour", Decimal("0.5") * HOURS),
    ],
    "module.elasticache.aws_elasticache_replication_group.this": [
        ("elasticache.node_hour:redis:cache.t4g.micro", 2 * HOURS)
    ],
    **{
        f'module.monitoring.aws_cloudwatch_metric_alarm.this["{alarm}"]': [
            ("cloudwatch.alarm_month", Decimal(1))
        ]
        for alarm in (
            "unhealthy-hosts-blue",
            "unhealthy-hosts-green",
            "target-5xx-blue",
            "target-5xx-green",
            "response-time-p95-blue",
            "response-time-p95-green",
            "alb-5xx",
            "alb-4xx",
        )
    },
    "module.monitoring.aws_cloudwatch_dashboard.this": [("cloudwatch.dashboard_month", Decimal(1))],
    "module.cloudfront.aws_kms_key.this[0]": [("kms.key_month", Decimal(1))],
}

HACKATHON_TABLE: dict[str, list[tuple[str, Decimal]]] = {
    "module.alb.aws_lb.this": [("elb.alb.hour", HOURS), ("ec2.public_ipv4.hour", 2 * HOURS)],
    'module.ecs.aws_ecs_service.this["blue"]': [
        ("fargate.linux_arm64.vcpu_hour", Decimal("0.25") * HOURS),
        ("fargate.linux_arm64.gb_hour", Decimal("0.5") * HOURS),
        ("ec2.public_ipv4.hour", HOURS),
    ],
    'module.ecs.aws_ecs_service.this["green"]': [
        ("fargate.linux_arm64.vcpu_hour", Decimal(0)),
        ("fargate.linux_arm64.gb_hour", Decimal(0)),
        ("ec2.public_ipv4.hour", Decimal(0)),
    ],
    "module.elasticache.aws_elasticache_replication_group.this": [
        ("elasticache.node_hour:valkey:cache.t4g.micro", HOURS)
    ],
    **{
        address: entry
        for address, entry in DEFAULT_TABLE.items()
        if address.startswith(("module.monitoring.", "module.cloudfront."))
    },
}


def by_hand(table: dict[str, list[tuple[str, Decimal]]]) -> dict[str, Decimal]:
    return {
        address: sum((quantity * price(key) for key, quantity in entry), Decimal(0))
        for address, entry in table.items()
    }


@pytest.mark.parametrize(
    ("fixture", "table", "total"),
    [
        ("default", DEFAULT_TABLE, Decimal("131.0097")),
        ("hackathon", HACKATHON_TABLE, Decimal("54.481975")),
    ],
)
def test_fixed_monthly_total_matches_the_table_computed_by_hand(
    fixture: str, table: dict[str, list[tuple[str, Decimal]]], total: Decimal
) -> None:
    breakdown = priced(fixture).breakdown
    fixed = {
        r.address: r.monthly_fixed
        for r in breakdown.resources
        if r.monthly_fixed or any(not c.usage_based for c in r.components)
    }
    assert fixed == by_hand(table)
    assert breakdown.monthly_fixed == sum(by_hand(table).values()) == total
    assert breakdown.monthly_total == breakdown.monthly_fixed  # no usage file


def test_the_hackathon_profile_is_under_70_a_month_in_seoul_and_the_default_is_not() -> None:
    assert priced("hackathon").breakdown.monthly_fixed < 70
    assert priced("default").breakdown.monthly_fixed > 70


def test_with_the_low_traffic_usage_every_usage_line_of_the_stack_has_a_quantity_or_is_known() -> (
    None
):
    usage = load_usage("low-traffic")
    result = priced("default", usage)
    breakdown = result.breakdown
    assert breakdown.monthly_usage > 0
    assert breakdown.monthly_total == breakdown.monthly_fixed + breakdown.monthly_usage
    missing = {(r.type, c.usage_key) for r, c in breakdown.usage_lines if c.quantity is None}
    # Only what a usage file cannot know in general stays per unit.
    assert missing == {
        ("aws_ecs_cluster", "container_insights_metrics"),
        ("aws_ecs_cluster", "container_insights_gb"),
        ("aws_elasticache_replication_group", "snapshot_storage_gb"),
    }
    assert result.warnings == ()


# --- a changed configuration moves exactly the lines it should ---------------------------


def moved(variant: str) -> dict[str, tuple[Decimal, Decimal]]:
    """Resources whose monthly cost differs from the default's (absent: $0)."""
    before = {r.address: r.monthly for r in priced("default").breakdown.resources}
    after = {r.address: r.monthly for r in priced(variant).breakdown.resources}
    return {
        address: (before.get(address, Decimal(0)), after.get(address, Decimal(0)))
        for address in set(before) | set(after)
        if before.get(address, Decimal(0)) != after.get(address, Decimal(0))
    }


def test_more_tasks_move_only_that_colours_service() -> None:
    change = moved("more_tasks")
    assert set(change) == {'module.ecs.aws_ecs_service.this["blue"]'}
    before, after = change['module.ecs.aws_ecs_service.this["blue"]']
    assert after == 3 * before


def test_bigger_tasks_move_both_services_and_nothing_else() -> None:
    change = moved("bigger_tasks")
    assert set(change) == {
        'module.ecs.aws_ecs_service.this["blue"]',
        'module.ecs.aws_ecs_service.this["green"]',
    }
    for before, after in change.values():
        assert after == 2 * before


def test_a_bigger_node_type_moves_only_redis() -> None:
    change = moved("bigger_node")
    assert set(change) == {"module.elasticache.aws_elasticache_replication_group.this"}
    assert change["module.elasticache.aws_elasticache_replication_group.this"] == (
        2 * HOURS * price("elasticache.node_hour:redis:cache.t4g.micro"),
        2 * HOURS * price("elasticache.node_hour:redis:cache.t4g.small"),
    )


def test_waf_adds_two_web_acls_and_their_usage_based_log_groups() -> None:
    change = moved("waf")
    acls = {"module.alb.aws_wafv2_web_acl.this[0]", "module.cloudfront.aws_wafv2_web_acl.this[0]"}
    # $5 per web ACL and $1 per rule: CloudFront's four (the per-IP rate limit among
    # them), the ALB's three (no rate limit: it sees CloudFront's addresses).
    assert change == {
        "module.cloudfront.aws_wafv2_web_acl.this[0]": (Decimal(0), Decimal(9)),
        "module.alb.aws_wafv2_web_acl.this[0]": (Decimal(0), Decimal(8)),
    }
    default = {r.address for r in priced("default").breakdown.resources}
    waf = priced("waf").breakdown.by_address()
    assert set(waf) - default == acls | {
        "module.alb.aws_cloudwatch_log_group.waf[0]",
        "module.cloudfront.aws_cloudwatch_log_group.waf[0]",
    }
    # CloudFront's web ACL and its logs live in us-east-1 (the aliased provider).
    assert waf["module.cloudfront.aws_wafv2_web_acl.this[0]"].region == "us-east-1"
    assert waf["module.cloudfront.aws_cloudwatch_log_group.waf[0]"].region == "us-east-1"
    assert waf["module.alb.aws_wafv2_web_acl.this[0]"].region == "ap-northeast-2"


# --- a deployed stack: what runs now, what the plan would make --------------------------


def test_a_plan_over_a_deployed_stack_shows_the_change_per_resource() -> None:
    result = priced("default_over_hackathon")
    assert result.running is not None
    assert result.running.monthly_fixed == Decimal("54.481975")
    assert result.breakdown.monthly_fixed == Decimal("131.0097")
    assert result.monthly_change == Decimal("131.0097") - Decimal("54.481975")
    assert {c.address: (c.action, c.before is None) for c in result.changes} == {
        'module.ecs.aws_ecs_service.this["blue"]': ("update", False),
        'module.ecs.aws_ecs_service.this["green"]': ("update", False),
        "module.elasticache.aws_elasticache_replication_group.this": ("replace", False),
        "module.vpc.aws_eip.nat[0]": ("create", True),
        "module.vpc.aws_nat_gateway.this[0]": ("create", True),
    }
    assert sum((c.delta for c in result.changes), Decimal(0)) == result.monthly_change


def test_a_fresh_plan_has_nothing_running() -> None:
    result = priced("default")
    assert result.running is None and result.changes == () and result.monthly_change is None


# --- budgets ------------------------------------------------------------------------------


def test_the_budget_limit_and_its_notifications_are_read_from_the_plan() -> None:
    assert priced("hackathon").breakdown.budgets == ()
    (budget,) = priced("hackathon_with_email").breakdown.budgets
    assert (budget.name, budget.limit, budget.unit) == ("chatapp-dev-monthly", Decimal(70), "USD")
    assert sorted(budget.notifications) == ["100% forecast", "80% actual"]


# --- the JSON document ------------------------------------------------------------------


def test_json_has_the_documented_keys() -> None:
    data = estimate_json(priced("hackathon_with_email", load_usage("low-traffic")))
    assert data["currency"] == "USD" and data["region"] == "ap-northeast-2"
    assert data["monthly_fixed"] == 54.48
    assert data["monthly_total"] > data["monthly_fixed"]
    assert data["budgets"][0]["limit"] == 70.0
    nat_free = {r["address"] for r in data["resources"]}
    assert "module.vpc.aws_nat_gateway.this[0]" not in nat_free
    alb = next(r for r in data["resources"] if r["address"] == "module.alb.aws_lb.this")
    assert alb["type"] == "aws_lb" and alb["monthly"] == 24.02
    assert alb["components"][0] == {
        "name": "Application load balancer",
        "unit": "hours",
        "quantity": 730.0,
        "unit_price": 0.0225,
        "monthly": 16.43,
        "usage_based": False,
        "usage_key": None,
        "price": "elb.alb.hour",
    }
    assert json.loads(json.dumps(data)) == data


def test_money_is_rounded_half_up_to_the_cent() -> None:
    data = estimate_json(priced("default"))
    alb = next(r for r in data["resources"] if r["address"] == "module.alb.aws_lb.this")
    assert alb["components"][0]["monthly"] == 16.43  # 16.425
    assert data["monthly_fixed"] == 131.01


# --- usage files ---------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_resource_usage_overrides_type_defaults_instance_over_block(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "usage.yml",
        """
version: 1
resource_type_default_usage:
  aws_dynamodb_table:
    monthly_write_request_units: 1
resource_usage:
  module.dynamodb.aws_dynamodb_table.this:
    monthly_write_request_units: 2
  'module.dynamodb.aws_dynamodb_table.this["messages"]':
    monthly_write_request_units: 3
""",
    )
    usage = load_usage(path)
    table = "aws_dynamodb_table"
    assert usage.for_resource("module.x.aws_dynamodb_table.t", table) == {
        "monthly_write_request_units": 1
    }
    assert usage.for_resource('module.dynamodb.aws_dynamodb_table.this["connections"]', table) == {
        "monthly_write_request_units": 2
    }
    assert usage.for_resource('module.dynamodb.aws_dynamodb_table.this["messages"]', table) == {
        "monthly_write_request_units": 3
    }


def test_json_usage_files_and_unused_addresses_are_warnings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "usage.json",
        json.dumps(
            {
                "resource_usage": {
                    "module.gone.aws_nat_gateway.this": {"monthly_data_processed_gb": 1}
                }
            }
        ),
    )
    result = priced("hackathon", load_usage(path))
    assert result.warnings == (
        f"{path}: module.gone.aws_nat_gateway.this is not in the plan; its usage is unused",
    )


NAT_USAGE = "resource_type_default_usage:\n  aws_nat_gateway:\n    monthly_data_processed_gb: "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: [1\n", "is not valid YAML/JSON"),
        ("- 1\n- 2\n", "expected a mapping"),
        ("version: 1\nresources: {}\n", "unknown top-level key 'resources'"),
        ("version: 2\n", "version must be 1, not 2"),
        (
            "resource_type_default_usage:\n  aws_quantum_computer:\n    qubits: 3\n",
            "aws_quantum_computer takes no usage (types that do: aws_cloudfront_distribution",
        ),
        (
            "resource_type_default_usage:\n  aws_eip:\n    hours: 3\n",
            "resource_type_default_usage.aws_eip: aws_eip takes no usage",
        ),
        (
            "resource_type_default_usage:\n  aws_nat_gateway:\n    gb: 3\n",
            "unknown key 'gb' for aws_nat_gateway (valid: monthly_data_processed_gb)",
        ),
        (
            "resource_type_default_usage:\n  aws_nat_gateway:\n    monthly_data_processed_gb: -1\n",
            "monthly_data_processed_gb must be a number >= 0, not -1",
        ),
        (NAT_USAGE + "lots\n", "must be a number >= 0, not 'lots'"),
        (NAT_USAGE + "true\n", "must be a number >= 0, not True"),
        (
            "resource_type_default_usage:\n  aws_nat_gateway: 5\n",
            "resource_type_default_usage.aws_nat_gateway must map usage keys to numbers",
        ),
        (
            "resource_usage:\n  nat gateway:\n    monthly_data_processed_gb: 1\n",
            "'nat gateway' is not a resource address",
        ),
    ],
)
def test_bad_usage_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "bad.yml", text)
    with pytest.raises(UsageFileInvalid) as caught:
        load_usage(path)
    assert message in caught.value.message
    assert caught.value.message.startswith(f"usage file {path}")
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == 2


def test_a_missing_usage_file_names_the_bundled_examples() -> None:
    with pytest.raises(UsageFileInvalid, match=r"bundled: low-traffic"):
        load_usage("no-such-usage.yml")


def test_the_low_traffic_example_is_valid_and_documented_in_the_readme() -> None:
    usage = load_usage("low-traffic")
    assert usage.by_type["aws_nat_gateway"] == {"monthly_data_processed_gb": Decimal(5)}
    readme = (ROOT / "README.md").read_text()
    for resource_type, keys in USAGE_KEYS.items():
        for key in keys:
            assert f"`{key}`" in readme, f"{resource_type}.{key} is not documented in README.md"


# --- plans that are not plans --------------------------------------------------------------


def test_a_document_that_is_not_a_plan_is_refused() -> None:
    with pytest.raises(PlanFileInvalid, match="not a Terraform plan"):
        read_plan({"values": {}}, "state.json")
    plan = document()
    del plan["variables"]
    with pytest.raises(PlanFileInvalid, match="does not say which region"):
        read_plan(plan, "plan.json")


# --- the profile file and its native test stay in step ------------------------------------


def assignments(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*([a-z0-9_]+)\s*=\s*(\S+)", text, re.M))


def test_the_native_profile_test_restates_the_hackathon_profile() -> None:
    profile = assignments((TERRAFORM_DIR / "profiles" / "hackathon.tfvars").read_text())
    native = (TERRAFORM_DIR / "tests" / "profile.tftest.hcl").read_text()
    block = re.search(r"^variables \{\n(.*?)^\}", native, re.S | re.M)
    assert block is not None
    assert assignments(block.group(1)) == profile


def test_the_readme_figures_are_what_chatops_cost_computes() -> None:
    readme = (ROOT / "README.md").read_text()
    low = load_usage("low-traffic")
    default = priced("default").breakdown
    hackathon = priced("hackathon").breakdown
    green = by_hand(
        {
            "green": [
                ("fargate.linux_arm64.vcpu_hour", Decimal("0.25") * HOURS),
                ("fargate.linux_arm64.gb_hour", Decimal("0.5") * HOURS),
                ("ec2.public_ipv4.hour", HOURS),
            ]
        }
    )["green"]
    figures = {
        "default": default.monthly_fixed,
        "hackathon": hackathon.monthly_fixed,
        "hackathon during a release": hackathon.monthly_fixed + green,
        "default, low traffic": priced("default", low).breakdown.monthly_total,
        "hackathon, low traffic": priced("hackathon", low).breakdown.monthly_total,
        "IPv4 the old estimate left out": 3 * HOURS * price("ec2.public_ipv4.hour"),
        "the Redis node it left out": HOURS * price("elasticache.node_hour:redis:cache.t4g.micro"),
    }
    for what, figure in figures.items():
        assert f"${cents(figure)}" in readme, (what, figure)
