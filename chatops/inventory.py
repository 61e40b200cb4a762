"""What of a stack exists in an AWS account (or the emulator), found by name and tags.

Used to report what a destroy left behind and how much of the stack the emulator holds.
Every resource the stack creates carries its `<project>-<environment>` prefix in its
name, or the Project/Environment tags where names are not free-form (EC2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from chatops.errors import ChatopsError

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class StackId:
    project: str
    environment: str

    @property
    def prefix(self) -> str:
        return f"{self.project}-{self.environment}"

    @classmethod
    def from_outputs(cls, values: Mapping[str, Any]) -> StackId | None:
        """The stack named by plain output values (project_name, environment), if any."""
        project, environment = values.get("project_name"), values.get("environment")
        if not project or not environment:
            return None
        return cls(project=str(project), environment=str(environment))


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def _ec2(client: Any, stack: StackId) -> dict[str, list[str]]:
    tags = [
        {"Name": "tag:Project", "Values": [stack.project]},
        {"Name": "tag:Environment", "Values": [stack.environment]},
    ]
    found = {
        "vpc": [v["VpcId"] for v in client.describe_vpcs(Filters=tags)["Vpcs"]],
        "subnet": [s["SubnetId"] for s in client.describe_subnets(Filters=tags)["Subnets"]],
        "internet-gateway": [
            g["InternetGatewayId"]
            for g in client.describe_internet_gateways(Filters=tags)["InternetGateways"]
        ],
        "nat-gateway": [
            g["NatGatewayId"]
            for g in client.describe_nat_gateways(Filters=tags)["NatGateways"]
            if g.get("State") not in ("deleted", "deleting")
        ],
        "elastic-ip": [
            a["AllocationId"] for a in client.describe_addresses(Filters=tags)["Addresses"]
        ],
        "route-table": [
            t["RouteTableId"] for t in client.describe_route_tables(Filters=tags)["RouteTables"]
        ],
        "security-group": [
            g["GroupId"]
            for g in client.describe_security_groups(Filters=tags)["SecurityGroups"]
            if g.get("GroupName") != "default"
        ],
        "vpc-endpoint": [
            e["VpcEndpointId"]
            for e in client.describe_vpc_endpoints(Filters=tags)["VpcEndpoints"]
            if e.get("State", "").lower() not in ("deleted", "deleting")
        ],
    }
    return found


def _tagged(cloudfront: Any, arn: str, stack: StackId) -> bool:
    items = cloudfront.list_tags_for_resource(Resource=arn).get("Tags", {}).get("Items", [])
    tags = {tag["Key"]: tag.get("Value") for tag in items}
    return tags.get("Project") == stack.project and tags.get("Environment") == stack.environment


def _named(names: Any, prefix: str) -> list[str]:
    return sorted(name for name in names if name.startswith(prefix))


def _collect(client_for: ClientFactory, stack: StackId) -> dict[str, list[str]]:
    prefix = stack.prefix
    found: dict[str, list[str]] = {}

    found.update({f"ec2:{k}": v for k, v in _ec2(client_for("ec2"), stack).items()})

    elbv2 = client_for("elbv2")
    found["elbv2:load-balancer"] = _named(
        (
            lb["LoadBalancerName"]
            for lb in _pages(elbv2, "describe_load_balancers", "LoadBalancers")
        ),
        prefix,
    )
    found["elbv2:target-group"] = _named(
        (tg["TargetGroupName"] for tg in _pages(elbv2, "describe_target_groups", "TargetGroups")),
        prefix,
    )

    ecs = client_for("ecs")
    clusters = [
        c["clusterName"]
        for c in ecs.describe_clusters(clusters=[f"{prefix}-cluster"])["clusters"]
        if c.get("status") == "ACTIVE"
    ]
    found["ecs:cluster"] = clusters
    found["ecs:service"] = []
    for cluster in clusters:
        arns = list(_pages(ecs, "list_services", "serviceArns", cluster=cluster))
        if arns:
            services = ecs.describe_services(cluster=cluster, services=arns)["services"]
            found["ecs:service"] += [s["serviceName"] for s in services if s["status"] == "ACTIVE"]
    found["ecs:task-definition"] = _named(
        (
            arn.split("/")[-1]
            for arn in _pages(ecs, "list_task_definitions", "taskDefinitionArns", status="ACTIVE")
        ),
        prefix,
    )

    dynamodb = client_for("dynamodb")
    found["dynamodb:table"] = _named(_pages(dynamodb, "list_tables", "TableNames"), prefix)

    elasticache = client_for("elasticache")
    found["elasticache:replication-group"] = _named(
        (
            g["ReplicationGroupId"]
            for g in _pages(elasticache, "describe_replication_groups", "ReplicationGroups")
        ),
        prefix,
    )
    found["elasticache:cache-cluster"] = _named(
        (
            c["CacheClusterId"]
            for c in _pages(elasticache, "describe_cache_clusters", "CacheClusters")
        ),
        prefix,
    )
    found["elasticache:subnet-group"] = _named(
        (
            g["CacheSubnetGroupName"]
            for g in _pages(elasticache, "describe_cache_subnet_groups", "CacheSubnetGroups")
        ),
        prefix,
    )

    found["s3:bucket"] = _named(
        (b["Name"] for b in client_for("s3").list_buckets()["Buckets"]), prefix
    )
    found["ecr:repository"] = _named(
        (
            r["repositoryName"]
            for r in _pages(client_for("ecr"), "describe_repositories", "repositories")
        ),
        prefix,
    )
    found["iam:role"] = _named(
        (r["RoleName"] for r in _pages(client_for("iam"), "list_roles", "Roles")), prefix
    )
    logs = client_for("logs")
    found["logs:log-group"] = sorted(
        g["logGroupName"]
        for g in _pages(logs, "describe_log_groups", "logGroups")
        if f"/{prefix}" in g["logGroupName"]
    )
    found["sns:topic"] = _named(
        (t["TopicArn"].split(":")[-1] for t in _pages(client_for("sns"), "list_topics", "Topics")),
        prefix,
    )
    cloudwatch = client_for("cloudwatch")
    found["cloudwatch:alarm"] = sorted(
        a["AlarmName"]
        for a in _pages(cloudwatch, "describe_alarms", "MetricAlarms", AlarmNamePrefix=prefix)
    )
    found["cloudwatch:dashboard"] = _named(
        (d["DashboardName"] for d in cloudwatch.list_dashboards().get("DashboardEntries", [])),
        prefix,
    )
    found["ssm:parameter"] = sorted(
        p["Name"]
        for p in _pages(
            client_for("ssm"),
            "describe_parameters",
            "Parameters",
            ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [f"/{prefix}/"]}],
        )
    )
    cloudfront = client_for("cloudfront")
    distributions = cloudfront.list_distributions().get("DistributionList", {}).get("Items", [])
    found["cloudfront:distribution"] = sorted(
        d["Id"] for d in distributions if _tagged(cloudfront, d["ARN"], stack)
    )
    controls = cloudfront.list_origin_access_controls().get("OriginAccessControlList", {})
    found["cloudfront:origin-access-control"] = _named(
        (c["Name"] for c in controls.get("Items", [])), prefix
    )
    return {kind: names for kind, names in found.items() if names}


def find_resources(client_for: ClientFactory, stack: StackId) -> dict[str, list[str]]:
    """Resources of the stack that exist, keyed `service:kind`."""
    try:
        return _collect(client_for, stack)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise ChatopsError(
            f"could not list the stack's resources: {error}",
            "check the network and credentials of the target",
        ) from None
