"""The checks: what a new account most often lacks for this stack, one finding each.

Every check takes the AWS clients (of the stack's region), the settings and the caller,
reads, and never changes anything. What the stack already holds (tagged with its
Project and Environment, or named after it) counts as used and is not needed again, so
a redeploy of a running stack passes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from chatops.preflight import quotas
from chatops.preflight.findings import Finding
from chatops.preflight.settings import StackSettings

Clients = Callable[[str], Any]
_XML_MESSAGE = re.compile(r"<Message>(.*?)</Message>", re.S)


@dataclass(frozen=True)
class Caller:
    account: str
    arn: str


@dataclass(frozen=True)
class Context:
    client: Clients
    settings: StackSettings
    caller: Caller


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def message(error: Exception) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        message = str(error.response.get("Error", {}).get("Message") or _code(error))
        # An XML error body where JSON was expected: its message alone.
        found = _XML_MESSAGE.search(message)
        return found.group(1) if found else message
    return str(error)


def _owned(tags: list[dict[str, str]] | None, settings: StackSettings) -> bool:
    values = {tag["Key"]: tag["Value"] for tag in tags or []}
    return (
        values.get("Project") == settings.project_name
        and values.get("Environment") == settings.environment
    )


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


# --- credentials and region ------------------------------------------------------------


def credentials(client: Clients, region: str) -> tuple[Finding, Caller | None]:
    name = "Credentials"
    try:
        identity = client("sts").get_caller_identity()
    except botocore.exceptions.NoCredentialsError:
        detail = "no AWS credentials found (environment, profile, SSO or instance role)"
        fix = "run `aws configure` or `aws sso login`, or pass --profile"
        return Finding("credentials", name, "fail", detail, fix), None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        detail = f"AWS refused them in {region}: {message(error)}"
        fix = "renew them (`aws sso login`, new keys) or pick another --profile"
        return Finding("credentials", name, "fail", detail, fix), None
    caller = Caller(str(identity["Account"]), str(identity["Arn"]))
    detail = f"account {caller.account} as {caller.arn}"
    return Finding("credentials", name, "ok", detail), caller


def zones(context: Context) -> Finding:
    """The region answers and holds the zones the stack is placed in."""
    settings, name = context.settings, "Region and zones"
    wanted = list(settings.zones)
    try:
        answer = context.client("ec2").describe_availability_zones(
            Filters=[{"Name": "zone-name", "Values": wanted}]
        )
    except botocore.exceptions.ClientError as error:
        fix = f"enable {settings.region} for the account (Account settings, AWS Regions)"
        return Finding("region", name, "fail", f"{settings.region}: {message(error)}", fix)
    available = {z["ZoneName"] for z in answer["AvailabilityZones"] if z["State"] == "available"}
    missing = [zone for zone in wanted if zone not in available]
    if missing:
        return Finding(
            "region",
            name,
            "fail",
            f"{settings.region} has no available zone {', '.join(missing)}",
            "set availability_zones to two zones `aws ec2 describe-availability-zones` lists",
        )
    return Finding("region", name, "ok", f"{settings.region}, zones {', '.join(wanted)}")


# --- quotas the stack consumes ---------------------------------------------------------


def vpcs(context: Context) -> Finding:
    ec2, settings = context.client("ec2"), context.settings
    found = list(_pages(ec2, "describe_vpcs", "Vpcs"))
    owned = sum(_owned(vpc.get("Tags"), settings) for vpc in found)
    return quotas.quota_finding(
        "vpcs",
        quotas.read_quota(context.client("service-quotas"), quotas.VPCS),
        used=len(found),
        needed=max(0, 1 - owned),
        region=settings.region,
        instead="delete an unused VPC",
    )


def elastic_ips(context: Context) -> Finding:
    settings = context.settings
    addresses = context.client("ec2").describe_addresses()["Addresses"]
    in_vpc = [a for a in addresses if a.get("Domain", "vpc") == "vpc"]
    owned = sum(_owned(a.get("Tags"), settings) for a in in_vpc)
    return quotas.quota_finding(
        "elastic-ips",
        quotas.read_quota(context.client("service-quotas"), quotas.ELASTIC_IPS),
        used=len(in_vpc),
        needed=max(0, settings.nat_gateways - owned),
        region=settings.region,
        instead="release an unused Elastic IP (or deploy with enable_nat_gateway = false)",
    )


def nat_gateways(context: Context) -> Finding:
    """NAT gateways in the zone the stack puts its own in (the first one)."""
    ec2, settings = context.client("ec2"), context.settings
    zone = settings.zones[0]
    gateways = [
        gateway
        for gateway in _pages(
            ec2,
            "describe_nat_gateways",
            "NatGateways",
            Filters=[{"Name": "state", "Values": ["pending", "available"]}],
        )
    ]
    subnet_ids = sorted({g["SubnetId"] for g in gateways if g.get("SubnetId")})
    subnet_zones = (
        {
            s["SubnetId"]: s["AvailabilityZone"]
            for s in ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
        }
        if subnet_ids
        else {}
    )
    in_zone = [g for g in gateways if subnet_zones.get(g.get("SubnetId", "")) == zone]
    owned = sum(_owned(g.get("Tags"), settings) for g in in_zone)
    finding = quotas.quota_finding(
        "nat-gateways",
        quotas.read_quota(context.client("service-quotas"), quotas.NAT_GATEWAYS),
        used=len(in_zone),
        needed=max(0, settings.nat_gateways - owned),
        region=settings.region,
        instead=f"delete an unused NAT gateway in {zone} (or enable_nat_gateway = false)",
    )
    return Finding(
        finding.check, finding.name, finding.status, f"{zone}: {finding.detail}", finding.fix
    )


def load_balancers(context: Context) -> Finding:
    settings = context.settings
    found = [
        lb
        for lb in _pages(context.client("elbv2"), "describe_load_balancers", "LoadBalancers")
        if lb.get("Type") == "application"
    ]
    owned = sum(lb["LoadBalancerName"] == f"{settings.name_prefix}-alb" for lb in found)
    return quotas.quota_finding(
        "load-balancers",
        quotas.read_quota(context.client("service-quotas"), quotas.ALBS),
        used=len(found),
        needed=max(0, 1 - owned),
        region=settings.region,
        instead="delete an unused load balancer",
    )


def _running_vcpus(ecs: Any, provider: str, skip_cluster: str) -> float:
    """vCPUs of the running Fargate tasks of `provider`, outside the stack's own cluster."""
    total = 0.0
    for cluster in _pages(ecs, "list_clusters", "clusterArns"):
        if cluster.rsplit("/", 1)[-1] == skip_cluster:
            continue
        arns = list(_pages(ecs, "list_tasks", "taskArns", cluster=cluster, desiredStatus="RUNNING"))
        for start in range(0, len(arns), 100):
            tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]
            for task in tasks:
                runs_on = task.get("capacityProviderName") or task.get("launchType")
                if runs_on == provider:
                    total += int(task.get("cpu") or 0) / 1024
    return total


def fargate_vcpus(context: Context) -> Finding:
    """The tasks both colours run once released, against the capacity provider's quota."""
    settings = context.settings
    spot = settings.capacity_provider == "FARGATE_SPOT"
    code = quotas.FARGATE_SPOT_VCPUS if spot else quotas.FARGATE_VCPUS
    provider = "FARGATE_SPOT" if spot else "FARGATE"
    return quotas.quota_finding(
        "fargate-vcpus",
        quotas.read_quota(context.client("service-quotas"), code),
        used=_running_vcpus(context.client("ecs"), provider, f"{settings.name_prefix}-cluster"),
        needed=settings.task_vcpus,
        region=settings.region,
        instead="stop other Fargate tasks, or lower task_cpu or the desired counts",
        unit="vCPUs",
    )


# --- the cache node type ---------------------------------------------------------------


def cache_node_type(context: Context) -> Finding:
    settings, name = context.settings, "Cache node type"
    node_type = settings.redis_node_type
    try:
        offerings = context.client("elasticache").describe_reserved_cache_nodes_offerings(
            CacheNodeType=node_type, MaxRecords=20
        )["ReservedCacheNodesOfferings"]
    except botocore.exceptions.ClientError as error:
        detail = f"could not check {node_type}: {message(error)}"
        fix = "allow elasticache:DescribeReservedCacheNodesOfferings, or check the type yourself"
        return Finding("cache-node-type", name, "warn", detail, fix)
    if not offerings:
        return Finding(
            "cache-node-type",
            name,
            "fail",
            f"{node_type} is not offered in {settings.region}",
            "set redis_node_type to one the region offers (`aws elasticache "
            "describe-reserved-cache-nodes-offerings --query "
            "'ReservedCacheNodesOfferings[].CacheNodeType'`)",
        )
    return Finding("cache-node-type", name, "ok", f"{node_type} is offered in {settings.region}")


# --- service-linked roles ----------------------------------------------------------------

# The roles AWS creates on first use of each service, if the caller may.
SERVICE_LINKED_ROLES = {
    "ECS": ("ecs.amazonaws.com", "AWSServiceRoleForECS"),
    "ELB": ("elasticloadbalancing.amazonaws.com", "AWSServiceRoleForElasticLoadBalancing"),
    "ElastiCache": ("elasticache.amazonaws.com", "AWSServiceRoleForElastiCache"),
}


def principal_arn(iam: Any, caller: Caller) -> str | None:
    """The IAM user or role behind the caller, as SimulatePrincipalPolicy wants it; None
    for the account root (which may do anything)."""
    arn = caller.arn
    if arn.endswith(":root"):
        return None
    kind, _, rest = arn.split(":", 5)[-1].partition("/")
    if kind == "assumed-role":
        role_name = rest.split("/", 1)[0]
        try:
            return str(iam.get_role(RoleName=role_name)["Role"]["Arn"])  # keeps the role's path
        except botocore.exceptions.ClientError:
            return f"arn:aws:iam::{caller.account}:role/{role_name}"
    if kind == "user":
        return f"arn:aws:iam::{caller.account}:user/{rest}"
    return arn


def _role_exists(iam: Any, role_name: str) -> bool:
    try:
        iam.get_role(RoleName=role_name)
    except botocore.exceptions.ClientError as error:
        if _code(error) == "NoSuchEntity":
            return False
        raise
    return True


def _may_create(iam: Any, principal: str, account: str, service: str, role_name: str) -> bool:
    result = iam.simulate_principal_policy(
        PolicySourceArn=principal,
        ActionNames=["iam:CreateServiceLinkedRole"],
        ResourceArns=[f"arn:aws:iam::{account}:role/aws-service-role/{service}/{role_name}"],
        ContextEntries=[
            {
                "ContextKeyName": "iam:AWSServiceName",
                "ContextKeyValues": [service],
                "ContextKeyType": "string",
            }
        ],
    )["EvaluationResults"]
    return bool(result) and all(r["EvalDecision"] == "allowed" for r in result)


def service_linked_roles(context: Context) -> Finding:
    name, iam = "Service-linked roles", context.client("iam")
    existing: list[str] = []
    allowed: list[str] = []
    denied: list[str] = []
    try:
        missing: dict[str, tuple[str, str]] = {}
        for label, (service, role_name) in SERVICE_LINKED_ROLES.items():
            if _role_exists(iam, role_name):
                existing.append(label)
            else:
                missing[label] = (service, role_name)
        principal = principal_arn(iam, context.caller) if missing else None
        for label, (service, role_name) in missing.items():
            may = principal is None or _may_create(
                iam, principal, context.caller.account, service, role_name
            )
            (allowed if may else denied).append(label)
    except botocore.exceptions.ClientError as error:
        return Finding(
            "service-linked-roles",
            name,
            "warn",
            f"could not check ({message(error)})",
            "the caller needs iam:CreateServiceLinkedRole for ECS, ELB and ElastiCache, "
            "unless their roles exist",
        )
    parts = []
    if existing:
        parts.append(f"{', '.join(existing)} exist")
    if allowed:
        parts.append(f"{', '.join(allowed)} will be created on first use")
    if denied:
        services = " ".join(
            f"--aws-service-name {SERVICE_LINKED_ROLES[label][0]}" for label in denied
        )
        roles = "roles do" if len(denied) > 1 else "role does"
        return Finding(
            "service-linked-roles",
            name,
            "fail",
            f"the {', '.join(denied)} {roles} not exist and the caller may not create "
            "it (iam:CreateServiceLinkedRole)" + (f"; {'; '.join(parts)}" if parts else ""),
            "grant iam:CreateServiceLinkedRole, or have an administrator run "
            f"`aws iam create-service-linked-role {services}` once per service",
        )
    return Finding("service-linked-roles", name, "ok", "; ".join(parts))


# --- Budgets ------------------------------------------------------------------------------


def budgets(context: Context) -> Finding:
    settings, name = context.settings, "Budgets"
    if not settings.budget_set:
        return Finding("budgets", name, "ok", "no budget to create (alarm_email is empty)")
    try:
        context.client("budgets").describe_budgets(AccountId=context.caller.account, MaxResults=1)
    except botocore.exceptions.ClientError as error:
        return Finding(
            "budgets",
            name,
            "fail",
            f"the ${settings.budget_monthly_usd:g} budget cannot be managed: {message(error)}",
            "grant budgets:ViewBudget and budgets:ModifyBudget, or set budget_monthly_usd = 0",
        )
    return Finding(
        "budgets", name, "ok", f"a ${settings.budget_monthly_usd:g} budget can be created"
    )


CHECKS: tuple[Callable[[Context], Finding], ...] = (
    zones,
    vpcs,
    elastic_ips,
    nat_gateways,
    load_balancers,
    fargate_vcpus,
    cache_node_type,
    service_linked_roles,
    budgets,
)
