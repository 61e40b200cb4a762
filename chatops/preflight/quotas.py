"""Service quotas: the applied value, else AWS's default, and the finding they make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from chatops.preflight.findings import Finding


@dataclass(frozen=True)
class QuotaCode:
    service: str
    code: str
    name: str
    # What the quota is when Service Quotas cannot be read (AWS's default).
    default: float


VPCS = QuotaCode("vpc", "L-F678F1CE", "VPCs per region", 5)
ELASTIC_IPS = QuotaCode("ec2", "L-0263D0A3", "Elastic IPs", 5)
NAT_GATEWAYS = QuotaCode("vpc", "L-FE5A380F", "NAT gateways per zone", 5)
ALBS = QuotaCode("elasticloadbalancing", "L-53DA6B97", "ALBs per region", 50)
FARGATE_VCPUS = QuotaCode("fargate", "L-3032A538", "Fargate On-Demand vCPUs", 6)
FARGATE_SPOT_VCPUS = QuotaCode("fargate", "L-36FBB829", "Fargate Spot vCPUs", 6)


@dataclass(frozen=True)
class Quota:
    code: QuotaCode
    value: float
    # "applied" (this account's), "default" (AWS's, never raised) or "assumed" (unreadable)
    source: str


def read_quota(client: Any, code: QuotaCode) -> Quota:
    """GetServiceQuota, falling back to GetAWSDefaultServiceQuota (quotas never raised
    may have no applied value), then to AWS's documented default."""
    for call, source in (
        (client.get_service_quota, "applied"),
        (client.get_aws_default_service_quota, "default"),
    ):
        try:
            answer = call(ServiceCode=code.service, QuotaCode=code.code)
            return Quota(code, float(answer["Quota"]["Value"]), source)
        except botocore.exceptions.ClientError:
            continue
    return Quota(code, code.default, "assumed")


def console_url(region: str, code: QuotaCode) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/servicequotas/home/services/"
        f"{code.service}/quotas/{code.code}"
    )


def _number(value: float) -> str:
    return f"{value:g}"


def quota_finding(
    check: str,
    quota: Quota,
    *,
    used: float,
    needed: float,
    region: str,
    instead: str,
    unit: str = "",
) -> Finding:
    """ok while what the stack still needs fits beside what is used."""
    units = f" {unit}" if unit else ""
    detail = f"{_number(used)} of {_number(quota.value)}{units} used"
    detail += f", the stack needs {_number(needed)} more" if needed else ", the stack needs none"
    source = "" if quota.source == "applied" else f", {quota.source} value"
    detail += f" (quota {quota.code.code}{source})"
    if not needed or used + needed <= quota.value:
        return Finding(check, quota.code.name, "ok", detail)
    return Finding(
        check,
        quota.code.name,
        "fail",
        detail,
        f"ask for more in Service Quotas: {console_url(region, quota.code)} or {instead}",
    )
