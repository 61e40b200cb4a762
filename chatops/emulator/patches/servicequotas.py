"""Service Quotas: where moto differs from AWS, and the patches that close the gap.

moto knows the VPC service's default quotas alone (with eu-west-1 in every ARN) and has
no GetAWSDefaultServiceQuota. The preflight reads the quotas the stack consumes, and the
emulator's stricter rules (``ec2-vpc-limit``) enforce the same values.
"""

from __future__ import annotations

import json
from typing import Any

from moto.servicequotas import responses as servicequotas_responses

from chatops.emulator.patches.registry import Patch, Revert, chain, replace

# The AWS default values (Service Quotas console, "AWS default quota value") of the quotas
# the stack consumes. Fargate's default varies by account; 6 is a new account's.
DEFAULT_QUOTAS: dict[tuple[str, str], tuple[str, str, float]] = {
    ("vpc", "L-F678F1CE"): ("Amazon Virtual Private Cloud (Amazon VPC)", "VPCs per Region", 5),
    ("vpc", "L-FE5A380F"): (
        "Amazon Virtual Private Cloud (Amazon VPC)",
        "NAT gateways per Availability Zone",
        5,
    ),
    ("ec2", "L-0263D0A3"): ("Amazon Elastic Compute Cloud (Amazon EC2)", "EC2-VPC Elastic IPs", 5),
    ("elasticloadbalancing", "L-53DA6B97"): (
        "Elastic Load Balancing (ELB)",
        "Application Load Balancers per Region",
        50,
    ),
    ("fargate", "L-3032A538"): (
        "AWS Fargate",
        "Fargate On-Demand vCPU resource count",
        6,
    ),
    ("fargate", "L-36FBB829"): ("AWS Fargate", "Fargate Spot vCPU resource count", 6),
}


def quota_value(service_code: str, quota_code: str) -> float | None:
    """The value the emulator applies for a quota (its AWS default), None if unknown."""
    known = DEFAULT_QUOTAS.get((service_code, quota_code))
    return float(known[2]) if known else None


def _quota(backend: Any, service_code: str, quota_code: str, region: str) -> dict[str, Any]:
    known = DEFAULT_QUOTAS.get((service_code, quota_code))
    if known is None:
        # moto's own VPC table (NoSuchResourceException for anything else).
        found: dict[str, Any] = backend.get_service_quota(service_code, quota_code)
        return {**found, "QuotaArn": f"arn:aws:servicequotas:{region}::{service_code}/{quota_code}"}
    service_name, quota_name, value = known
    return {
        "ServiceCode": service_code,
        "ServiceName": service_name,
        "QuotaArn": f"arn:aws:servicequotas:{region}::{service_code}/{quota_code}",
        "QuotaCode": quota_code,
        "QuotaName": quota_name,
        "Value": float(value),
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


def _install_defaults() -> Revert:
    cls = servicequotas_responses.ServiceQuotasResponse

    def answer(self: Any) -> str:
        params = json.loads(self.body)
        service_code, quota_code = str(params.get("ServiceCode")), str(params.get("QuotaCode"))
        quota = _quota(self.backend, service_code, quota_code, self.region)
        return json.dumps({"Quota": quota})

    return chain(
        replace(cls, "get_service_quota", answer),
        replace(cls, "get_aws_default_service_quota", answer),
    )


PATCHES: tuple[Patch, ...] = (
    Patch(
        "servicequotas-defaults",
        "Service Quotas knows the VPC quotas alone (EC2 Elastic IPs, ALBs per region and "
        "Fargate vCPUs are NoSuchResourceException) and has no GetAWSDefaultServiceQuota: "
        "the preflight cannot read the quotas a deploy consumes.",
        _install_defaults,
    ),
)
