"""EC2: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import security_groups as security_group_models
from moto.ec2.models import vpcs as vpc_models

from chatops.emulator.patches.registry import Patch, Revert, chain, replace
from chatops.emulator.patches.servicequotas import quota_value


def _install_referenced_rule_description() -> Revert:
    cls = security_group_models.SecurityGroupRule

    def description(self: Any) -> str | None:
        value = self.ip_range.get("Description") or self.source_group.get("Description")
        return str(value) if value else None

    return replace(cls, "description", property(description))


def _install_prefix_list_rule_description() -> Revert:
    cls = security_group_models.SecurityGroupRule
    original_init = cls.__init__
    original_description = cls.__dict__["description"]

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        # (ec2_backend, ip_protocol, group_id, from_port, to_port, ip_range, source_group,
        # prefix_list_id, ...)
        prefix_list = kwargs.get("prefix_list_id") or (args[7] if len(args) > 7 else None) or {}
        self.chatops_prefix_list_description = prefix_list.get("Description")

    def description(self: Any) -> str | None:
        value = original_description.__get__(self)
        if value:
            return str(value)
        own = getattr(self, "chatops_prefix_list_description", None)
        return str(own) if own else None

    return chain(
        replace(cls, "__init__", __init__),
        replace(cls, "description", property(description)),
    )


def _install_gateway_endpoint_routes() -> Revert:
    cls = vpc_models.VPCBackend
    original = cls.modify_vpc_endpoint

    def modify_vpc_endpoint(self: Any, vpc_id: str, *args: Any, **kwargs: Any) -> None:
        endpoint = self.describe_vpc_endpoints(vpc_end_point_ids=[vpc_id])[0]
        before = set(endpoint.route_table_ids or [])
        original(self, vpc_id, *args, **kwargs)
        prefix_list = endpoint.destination_prefix_list_id
        if not prefix_list:
            return  # an interface endpoint has no routes
        after = set(endpoint.route_table_ids or [])
        for route_table_id in sorted(after - before):
            self.create_route(
                route_table_id,
                None,
                gateway_id=vpc_id,
                destination_prefix_list_id=prefix_list,
            )
        for route_table_id in sorted(before - after):
            self.delete_route(route_table_id, prefix_list)

    return replace(cls, "modify_vpc_endpoint", modify_vpc_endpoint)


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
        "ec2-prefix-list-rule-description",
        "Security group rules that admit a managed prefix list (CloudFront's origin-facing "
        "addresses) lose their Description: every plan re-adds it.",
        _install_prefix_list_rule_description,
    ),
    Patch(
        "ec2-gateway-endpoint-routes",
        "ModifyVpcEndpoint changes a gateway endpoint's route tables but not their routes: "
        "the routes stay where they were, and deleting the endpoint then fails with "
        "InvalidRoute.NotFound (a stack switched to the hackathon profile cannot be destroyed).",
        _install_gateway_endpoint_routes,
    ),
    Patch(
        "ec2-vpc-limit",
        "CreateVpc never runs out: an account at its VPCs-per-Region quota (L-F678F1CE) "
        "gets a VPC where AWS answers VpcLimitExceeded.",
        _install_vpc_limit,
    ),
)
