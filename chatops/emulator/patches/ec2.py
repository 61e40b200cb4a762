"""EC2: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import security_groups as security_group_models
from moto.ec2.models import vpcs as vpc_models

from chatops.emulator.patches.registry import Patch, Revert, replace
from chatops.emulator.patches.servicequotas import quota_value


def _install_referenced_rule_description() -> Revert:
    cls = security_group_models.SecurityGroupRule

    def description(self: Any) -> str | None:
        value = self.ip_range.get("Description") or self.source_group.get("Description")
        return str(value) if value else None

    return replace(cls, "description", property(description))


def _install_vpc_limit() -> Revert:
    """AWS refuses a VPC beyond "VPCs per Region" (default VPC included)."""
    cls = vpc_models.VPCBackend
    original = cls.create_vpc

    def create_vpc(self: Any, *args: Any, **kwargs: Any) -> Any:
        limit = quota_value("vpc", "L-F678F1CE")
        if limit is not None and len(self.vpcs) >= limit:
            raise EC2ClientError("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
        return original(self, *args, **kwargs)

    return replace(cls, "create_vpc", create_vpc)


PATCHES: tuple[Patch, ...] = (
    Patch(
        "ec2-referenced-rule-description",
        "Security group rules that reference another group lose their Description: every "
        "plan re-adds it.",
        _install_referenced_rule_description,
    ),
    Patch(
        "ec2-vpc-limit",
        "CreateVpc never runs out: an account at its VPCs-per-Region quota (L-F678F1CE) "
        "gets a VPC where AWS answers VpcLimitExceeded.",
        _install_vpc_limit,
    ),
)
