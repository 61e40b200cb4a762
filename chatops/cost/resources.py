"""One pricer per AWS resource type: named cost components, never a bare total.

A pricer gets one planned resource and returns its components: name, unit, monthly
quantity and the key of its unit price in the price list. A quantity that depends on
traffic (GB through the NAT gateway, DynamoDB requests, ...) comes from the usage file
under the component's usage key; without one the component stays on the bill as a
usage-based line with its price and no total. A pricer that cannot price a resource
(a node type with no bundled price, an EC2-backed service) raises `Unpriced`; a
pricer that returns nothing means the resource costs nothing as configured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chatops.cost.plan import Resource, Side
from chatops.cost.prices import RegionPrices

MILLION = Decimal(1_000_000)
VCPU_UNITS = Decimal(1024)
MIB_PER_GB = Decimal(1024)


class Unpriced(Exception):
    """This resource cannot be priced; the message says why."""


@dataclass(frozen=True)
class Component:
    """One line of a resource's bill."""

    name: str
    unit: str
    unit_price: Decimal
    quantity: Decimal | None
    price_key: str
    usage_key: str | None = None

    @property
    def usage_based(self) -> bool:
        return self.usage_key is not None

    @property
    def monthly(self) -> Decimal | None:
        return None if self.quantity is None else self.quantity * self.unit_price


@dataclass(frozen=True)
class Context:
    """What a pricer may use besides the resource: prices, hours, usage, the plan side."""

    prices: RegionPrices
    hours: Decimal
    usage: Mapping[str, Decimal]
    side: Side

    def fixed(self, name: str, unit: str, quantity: Decimal, price_key: str) -> Component:
        price = self.prices[price_key]
        return Component(name, unit, price.amount, quantity, price_key)

    def hourly(
        self, name: str, count: Decimal | int, price_key: str, unit: str = "hours"
    ) -> Component:
        """A charge per hour of each of `count` things, for a month."""
        return self.fixed(name, unit, Decimal(count) * self.hours, price_key)

    def monthly(self, name: str, count: Decimal | int, price_key: str, unit: str) -> Component:
        """A charge per month of each of `count` things."""
        return self.fixed(name, unit, Decimal(count), price_key)

    def usage_line(
        self,
        name: str,
        unit: str,
        usage_key: str,
        price_key: str,
        *,
        scale: Decimal = Decimal(1),
        per_hour: bool = False,
    ) -> Component:
        """A traffic-dependent line: quantity from the usage file, divided by `scale`;
        `per_hour`: the usage is an hourly average, billed for every hour of the month."""
        price = self.prices[price_key]
        supplied = self.usage.get(usage_key)
        quantity = None
        if supplied is not None:
            quantity = supplied * (self.hours if per_hour else 1) / scale
        return Component(name, unit, price.amount, quantity, price_key, usage_key)


Pricer = Callable[[Resource, Context], list[Component]]

PRICERS: dict[str, Pricer] = {}
# Resource type -> usage key -> what it means (the usage file's documented keys).
USAGE_KEYS: dict[str, dict[str, str]] = {}

# Resource types that cost nothing themselves, with the reason shown to the user.
FREE: dict[str, str] = {
    **dict.fromkeys(
        (
            "aws_vpc",
            "aws_subnet",
            "aws_internet_gateway",
            "aws_route_table",
            "aws_route",
            "aws_route_table_association",
            "aws_default_security_group",
            "aws_security_group",
            "aws_security_group_rule",
            "aws_vpc_security_group_ingress_rule",
            "aws_vpc_security_group_egress_rule",
            "aws_iam_role",
            "aws_iam_role_policy",
            "aws_iam_policy",
            "aws_iam_role_policy_attachment",
            "aws_lb_target_group",
            "aws_lb_listener",
            "aws_lb_listener_rule",
            "aws_acm_certificate_validation",
            "aws_ecs_cluster_capacity_providers",
            "aws_elasticache_subnet_group",
            "aws_elasticache_parameter_group",
            "aws_s3_bucket_public_access_block",
            "aws_s3_bucket_ownership_controls",
            "aws_s3_bucket_versioning",
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_lifecycle_configuration",
            "aws_s3_bucket_notification",
            "aws_s3_bucket_policy",
            "aws_s3_bucket_logging",
            "aws_kms_alias",
            "aws_kms_key_policy",
            "aws_cloudfront_origin_access_control",
            "aws_cloudfront_response_headers_policy",
            "aws_cloudfront_cache_policy",
            "aws_cloudfront_origin_request_policy",
            "aws_sns_topic_subscription",
            "aws_sns_topic_policy",
            "aws_wafv2_web_acl_association",
            "aws_wafv2_web_acl_logging_configuration",
            "aws_ecr_lifecycle_policy",
            "aws_ecr_repository_policy",
        ),
        "no charge",
    ),
    "aws_ecs_task_definition": "priced through the services that run it",
    "aws_flow_log": "its records are priced on the log group they go to",
    "aws_sns_topic": "no charge per topic; notifications past the free tier cost per 100,000",
    "aws_budgets_budget": "an account's first two budgets are free",
}


def pricer(
    resource_type: str, usage: Mapping[str, str] | None = None
) -> Callable[[Pricer], Pricer]:
    def register(function: Pricer) -> Pricer:
        PRICERS[resource_type] = function
        USAGE_KEYS[resource_type] = dict(usage or {})
        return function

    return register


def _plain(number: Decimal) -> str:
    """0.25 -> "0.25", 2.0 -> "2": no exponent, no trailing zeros."""
    text = f"{number.normalize():f}"
    return text


def _count(values: Any) -> int | None:
    return len(values) if isinstance(values, list | tuple) else None


def _number(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise Unpriced(f"{what} is {value!r}, not a number") from None


# --- network --------------------------------------------------------------------------


@pricer("aws_nat_gateway", {"monthly_data_processed_gb": "GB a month through the NAT gateway"})
def nat_gateway(resource: Resource, context: Context) -> list[Component]:
    # Its Elastic IP is an aws_eip resource of its own and priced there.
    return [
        context.hourly("NAT gateway", 1, "vpc.nat_gateway.hour"),
        context.usage_line(
            "Data processed", "GB", "monthly_data_processed_gb", "vpc.nat_gateway.gb"
        ),
    ]


@pricer("aws_eip")
def elastic_ip(resource: Resource, context: Context) -> list[Component]:
    pool = resource.get("public_ipv4_pool", default="amazon")
    if pool not in ("amazon", ""):
        return []  # bring-your-own addresses carry no IPv4 charge
    return [context.hourly("Public IPv4 address", 1, "ec2.public_ipv4.hour")]


def _span(resource: Resource, context: Context, *attributes: str) -> int | None:
    """How many subnets a resource spans: its known list, else what its config refers to."""
    for attribute in attributes:
        known = _count(resource.values.get(attribute))
        if known:
            return known
    for attribute in attributes:
        subnets = [
            r for r in context.side.referenced(resource, attribute) if r.type == "aws_subnet"
        ]
        if subnets:
            return len(subnets)
    return None


@pricer("aws_lb", {"average_lcus": "average load balancer capacity units in use per hour"})
def load_balancer(resource: Resource, context: Context) -> list[Component]:
    kind = resource.get("load_balancer_type", default="application")
    if kind != "application":
        raise Unpriced(f"{kind} load balancers have no bundled prices")
    components = [
        context.hourly("Application load balancer", 1, "elb.alb.hour"),
        context.usage_line(
            "Load balancer capacity units",
            "LCU-hours",
            "average_lcus",
            "elb.alb.lcu_hour",
            per_hour=True,
        ),
    ]
    if not resource.get("internal", default=False):
        # An internet-facing ALB holds at least one public IPv4 address per zone (more
        # when it scales out); it spans at least two zones.
        zones = _span(resource, context, "subnets", "subnet_mapping") or 2
        components.insert(
            1,
            context.hourly(
                f"Public IPv4 addresses (one per zone, {zones} zones)",
                zones,
                "ec2.public_ipv4.hour",
            ),
        )
    return components


@pricer(
    "aws_vpc_endpoint", {"monthly_data_processed_gb": "GB a month through the interface endpoint"}
)
def vpc_endpoint(resource: Resource, context: Context) -> list[Component]:
    if resource.get("vpc_endpoint_type", default="Gateway") != "Interface":
        return []  # gateway endpoints (S3, DynamoDB) are free
    zones = _span(resource, context, "subnet_ids") or 1
    return [
        context.hourly(f"Interface endpoint ({zones} zones)", zones, "vpc.interface_endpoint.hour"),
        context.usage_line(
            "Data processed", "GB", "monthly_data_processed_gb", "vpc.interface_endpoint.gb"
        ),
    ]


# --- compute --------------------------------------------------------------------------


def _task_definition(service: Resource, context: Context) -> Resource:
    wanted = str(service.values.get("task_definition") or "")
    definitions = [r for r in context.side if r.type == "aws_ecs_task_definition"]
    if wanted:
        for definition in definitions:
            family = str(definition.values.get("family", ""))
            revision = definition.values.get("revision")
            if wanted in (
                definition.values.get("arn"),
                definition.values.get("arn_without_revision"),
                family,
                f"{family}:{revision}",
            ):
                return definition
    referenced = [
        r
        for r in context.side.referenced(service, "task_definition")
        if r.type == "aws_ecs_task_definition"
    ]
    if len(referenced) == 1:
        return referenced[0]
    raise Unpriced("its task definition is not in the plan")


def _capacity_weights(service: Resource, context: Context) -> dict[str, Decimal]:
    """Capacity provider -> weight: the service's strategy, else its launch type, else the
    cluster's default strategy. A strategy wins over a launch type (AWS takes one or the
    other; some APIs report the EC2 default beside a strategy)."""
    strategy = service.values.get("capacity_provider_strategy") or []
    if not strategy:
        launch_type = str(service.values.get("launch_type") or "")
        if launch_type:
            return {launch_type: Decimal(1)}
        for cluster in context.side:
            if cluster.type == "aws_ecs_cluster_capacity_providers":
                strategy = cluster.values.get("default_capacity_provider_strategy") or []
                break
    weights: dict[str, Decimal] = {}
    for item in strategy:
        if isinstance(item, Mapping):
            name = str(item.get("capacity_provider"))
            weights[name] = weights.get(name, Decimal(0)) + Decimal(str(item.get("weight") or 0))
    return weights


@pricer("aws_ecs_service")
def ecs_service(resource: Resource, context: Context) -> list[Component]:
    weights = _capacity_weights(resource, context)
    if not weights or set(weights) - {"FARGATE", "FARGATE_SPOT"}:
        raise Unpriced("it runs on EC2 capacity, which is priced on the instances")
    total = sum(weights.values(), Decimal(0))
    spot = weights.get("FARGATE_SPOT", Decimal(0)) / total if total else Decimal(0)
    definition = _task_definition(resource, context)
    platform = definition.get("runtime_platform", 0, default={})
    if str(platform.get("operating_system_family") or "LINUX") != "LINUX":
        raise Unpriced("Windows tasks have no bundled prices")
    architecture = str(platform.get("cpu_architecture") or "X86_64").lower()
    tasks = _number(resource.values.get("desired_count", 0), "desired_count")
    vcpus = _number(definition.values.get("cpu"), "the task CPU") / VCPU_UNITS
    memory = _number(definition.values.get("memory"), "the task memory") / MIB_PER_GB
    discount = context.prices["fargate.spot_discount"].amount
    arch = "Graviton" if architecture == "arm64" else "x86"
    count = f"{_plain(tasks)} task{'' if tasks == 1 else 's'}"
    components: list[Component] = []
    for share, label, factor in (
        (1 - spot, "Fargate", Decimal(1)),
        (spot, "Fargate Spot", 1 - discount),
    ):
        if not share:
            continue
        for what, amount, dimension, unit in (
            ("vCPU", vcpus, "vcpu_hour", "vCPU-hours"),
            ("GB", memory, "gb_hour", "GB-hours"),
        ):
            key = f"fargate.linux_{architecture}.{dimension}"
            kind = "memory" if what == "GB" else "vCPU"
            components.append(
                Component(
                    f"{label} {kind} ({count} x {_plain(amount)} {what}, {arch})",
                    unit,
                    context.prices[key].amount * factor,
                    tasks * share * amount * context.hours,
                    key if factor == 1 else f"{key} x (1 - fargate.spot_discount)",
                )
            )
    if resource.get("network_configuration", 0, "assign_public_ip", default=False):
        components.append(
            context.hourly("Public IPv4 addresses (one per task)", tasks, "ec2.public_ipv4.hour")
        )
    return components


@pricer(
    "aws_ecs_cluster",
    {
        "container_insights_metrics": "custom metrics Container Insights reports for the cluster",
        "container_insights_gb": "GB a month of Container Insights performance log events",
    },
)
def ecs_cluster(resource: Resource, context: Context) -> list[Component]:
    settings = resource.values.get("setting") or []
    insights = any(
        isinstance(s, Mapping)
        and s.get("name") == "containerInsights"
        and s.get("value") in ("enabled", "enhanced")
        for s in settings
    )
    if not insights:
        return []
    return [
        context.usage_line(
            "Container Insights metrics",
            "metric-months",
            "container_insights_metrics",
            "cloudwatch.metric_month",
        ),
        context.usage_line(
            "Container Insights performance logs", "GB", "container_insights_gb", "logs.ingest_gb"
        ),
    ]


# --- data stores ----------------------------------------------------------------------


def _node_price_key(engine: str, node_type: str, context: Context) -> str:
    key = f"elasticache.node_hour:{engine}:{node_type}"
    if context.prices.get(key) is None:
        raise Unpriced(f"no bundled price for {node_type} ({engine}) in {context.prices.region}")
    return key


_ENGINES = {"redis": "Redis OSS", "valkey": "Valkey", "memcached": "Memcached"}


@pricer(
    "aws_elasticache_replication_group",
    {"snapshot_storage_gb": "GB of snapshots beyond the free one per cluster"},
)
def elasticache_replication_group(resource: Resource, context: Context) -> list[Component]:
    engine = str(resource.get("engine", default="redis"))
    node_type = str(resource.get("node_type", default=""))
    nodes = resource.values.get("num_cache_clusters")
    if not nodes:
        groups = int(resource.values.get("num_node_groups") or 1)
        nodes = groups * (int(resource.values.get("replicas_per_node_group") or 0) + 1)
    count = int(nodes)
    key = _node_price_key(engine, node_type, context)
    label = f"{count} x {node_type}, {_ENGINES.get(engine, engine)}"
    return [
        context.hourly(f"Cache nodes ({label})", count, key, unit="node-hours"),
        context.usage_line(
            "Snapshot storage", "GB-months", "snapshot_storage_gb", "elasticache.backup_gb_month"
        ),
    ]


@pricer("aws_elasticache_cluster")
def elasticache_cluster(resource: Resource, context: Context) -> list[Component]:
    if resource.get("replication_group_id"):
        return []  # a member of a replication group, priced on the group
    engine = str(resource.get("engine", default="redis"))
    node_type = str(resource.get("node_type", default=""))
    count = int(resource.values.get("num_cache_nodes") or 1)
    key = _node_price_key(engine, node_type, context)
    label = f"{count} x {node_type}, {_ENGINES.get(engine, engine)}"
    return [context.hourly(f"Cache nodes ({label})", count, key, unit="node-hours")]


@pricer(
    "aws_dynamodb_table",
    {
        "monthly_write_request_units": "write request units a month (index writes included)",
        "monthly_read_request_units": "read request units a month",
        "storage_gb": "GB of table data (point-in-time recovery is billed on it)",
    },
)
def dynamodb_table(resource: Resource, context: Context) -> list[Component]:
    if resource.get("billing_mode", default="PROVISIONED") != "PAY_PER_REQUEST":
        raise Unpriced("provisioned capacity has no bundled prices")
    components = [
        context.usage_line(
            "Write request units",
            "million WRU",
            "monthly_write_request_units",
            "dynamodb.write_request_million",
            scale=MILLION,
        ),
        context.usage_line(
            "Read request units",
            "million RRU",
            "monthly_read_request_units",
            "dynamodb.read_request_million",
            scale=MILLION,
        ),
    ]
    if resource.get("point_in_time_recovery", 0, "enabled", default=False):
        components.append(
            context.usage_line(
                "Point-in-time recovery", "GB-months", "storage_gb", "dynamodb.pitr_gb_month"
            )
        )
    return components


@pricer("aws_s3_bucket", {"storage_gb": "GB stored (S3 Standard)"})
def s3_bucket(resource: Resource, context: Context) -> list[Component]:
    return [
        context.usage_line("Storage (Standard)", "GB-months", "storage_gb", "s3.standard_gb_month")
    ]


@pricer("aws_ecr_repository", {"storage_gb": "GB of images stored"})
def ecr_repository(resource: Resource, context: Context) -> list[Component]:
    return [context.usage_line("Image storage", "GB-months", "storage_gb", "ecr.storage_gb_month")]


@pricer("aws_ssm_parameter")
def ssm_parameter(resource: Resource, context: Context) -> list[Component]:
    if resource.get("tier", default="Standard") != "Advanced":
        return []  # standard parameters are free
    return [
        context.monthly("Advanced parameter", 1, "ssm.advanced_parameter_month", "parameter-months")
    ]


@pricer("aws_kms_key")
def kms_key(resource: Resource, context: Context) -> list[Component]:
    return [context.monthly("Customer managed key", 1, "kms.key_month", "key-months")]


# --- monitoring -----------------------------------------------------------------------


@pricer("aws_cloudwatch_metric_alarm")
def metric_alarm(resource: Resource, context: Context) -> list[Component]:
    queries = resource.values.get("metric_query") or []
    metrics = sum(1 for q in queries if isinstance(q, Mapping) and q.get("metric")) or 1
    period = resource.values.get("period")
    if not queries and period is not None and int(period) < 60:
        return [
            context.monthly(
                "High-resolution alarm",
                metrics,
                "cloudwatch.alarm_high_resolution_month",
                "alarm-months",
            )
        ]
    return [context.monthly("Standard alarm", metrics, "cloudwatch.alarm_month", "alarm-months")]


@pricer("aws_cloudwatch_dashboard")
def dashboard(resource: Resource, context: Context) -> list[Component]:
    return [context.monthly("Dashboard", 1, "cloudwatch.dashboard_month", "dashboard-months")]


@pricer(
    "aws_cloudwatch_log_group",
    {"monthly_ingested_gb": "GB of log events ingested a month", "stored_gb": "GB of logs kept"},
)
def log_group(resource: Resource, context: Context) -> list[Component]:
    return [
        context.usage_line("Log ingestion", "GB", "monthly_ingested_gb", "logs.ingest_gb"),
        context.usage_line("Log storage", "GB-months", "stored_gb", "logs.storage_gb_month"),
    ]


# --- edge -----------------------------------------------------------------------------


@pricer(
    "aws_cloudfront_distribution",
    {"monthly_data_transfer_gb": "GB a month sent to viewers"},
)
def cloudfront_distribution(resource: Resource, context: Context) -> list[Component]:
    price = context.prices["cloudfront.data_out_gb"]
    name = f"Data transfer out {price.label}".strip() if price.label else "Data transfer out"
    return [context.usage_line(name, "GB", "monthly_data_transfer_gb", "cloudfront.data_out_gb")]


@pricer("aws_wafv2_web_acl", {"monthly_requests": "requests a month the web ACL inspects"})
def web_acl(resource: Resource, context: Context) -> list[Component]:
    rules = _count(resource.values.get("rule")) or 0
    return [
        context.monthly("Web ACL", 1, "waf.web_acl_month", "web ACL-months"),
        context.monthly(f"Rules ({rules})", rules, "waf.rule_month", "rule-months"),
        context.usage_line(
            "Requests", "million requests", "monthly_requests", "waf.request_million", scale=MILLION
        ),
    ]
