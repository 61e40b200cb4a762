"""Emulator rules for the network and edge (ELBv2, EC2): each refuses what AWS refuses,
with AWS's code and message, and each test shows the gap without its rule.

The scenarios call moto in-process (mock_aws) the way the AWS provider calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from chatops.emulator import patches
from tests.helpers import create_network

REGION = "ap-northeast-2"


@pytest.fixture
def aws() -> Iterator[Callable[[str], Any]]:
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


def error_of(call: Callable[[], Any]) -> tuple[str, str] | None:
    try:
        call()
    except botocore.exceptions.ClientError as error:
        return error.response["Error"]["Code"], error.response["Error"]["Message"]
    return None


# --- target group names -----------------------------------------------------------------


def _target_group(aws: Callable[[str], Any], vpc: str, port: int) -> Any:
    return aws("elbv2").create_target_group(
        Name="chatapp-dev-blue", Protocol="HTTP", Port=port, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]


@pytest.mark.parametrize("applied", [True, False])
def test_a_replacement_under_a_taken_target_group_name_is_refused(aws, applied) -> None:
    vpc, _, _ = create_network(aws("ec2"))
    with patches.patched(without=() if applied else ("elbv2-duplicate-target-group-name",)):
        first = _target_group(aws, vpc, 8080)
        # create_before_destroy with a fixed name: the new port's group under the old name.
        refused = error_of(lambda: _target_group(aws, vpc, 9090))
        same_again = error_of(lambda: _target_group(aws, vpc, 8080))
    assert refused is not None and refused[0] == "DuplicateTargetGroupName"
    if applied:
        assert refused[1] == (
            "A target group with the same name 'chatapp-dev-blue' exists, "
            "but with different settings"
        )
        assert same_again is None  # AWS: the same request returns the existing group
        assert first["TargetGroupName"] == "chatapp-dev-blue"
    else:
        assert "chatapp-dev-blue" not in refused[1]
        assert same_again is not None  # moto refuses even an identical request


# --- listeners ----------------------------------------------------------------------------


@pytest.mark.parametrize("applied", [True, False])
def test_a_second_listener_on_a_port_is_refused_as_aws_words_it(aws, applied) -> None:
    vpc, subnets, group = create_network(aws("ec2"))
    with patches.patched(without=() if applied else ("elbv2-duplicate-listener",)):
        elbv2 = aws("elbv2")
        balancer = elbv2.create_load_balancer(
            Name="chatapp-dev-alb", Subnets=subnets, SecurityGroups=[group]
        )["LoadBalancers"][0]["LoadBalancerArn"]
        target = _target_group(aws, vpc, 8080)["TargetGroupArn"]

        def listener() -> Any:
            return elbv2.create_listener(
                LoadBalancerArn=balancer,
                Protocol="HTTP",
                Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": target}],
            )

        listener()
        refused = error_of(listener)
        listeners = elbv2.describe_listeners(LoadBalancerArn=balancer)["Listeners"]
    if applied:
        message = f"A listener already exists on this port for this load balancer '{balancer}'"
        assert refused == ("DuplicateListener", message)
        assert len(listeners) == 1
    else:
        assert refused is None and len(listeners) == 2  # two listeners on port 80


# --- security groups ----------------------------------------------------------------------


def test_a_taken_security_group_name_is_refused_by_moto_itself(aws) -> None:
    """InvalidGroup.Duplicate needs no rule: moto refuses it as AWS does."""
    vpc, _, _ = create_network(aws("ec2"))
    with patches.patched():
        ec2 = aws("ec2")
        ec2.create_security_group(GroupName="chatapp-dev-alb", Description="a", VpcId=vpc)
        refused = error_of(
            lambda: ec2.create_security_group(
                GroupName="chatapp-dev-alb", Description="b", VpcId=vpc
            )
        )
    assert refused == (
        "InvalidGroup.Duplicate",
        "The security group 'chatapp-dev-alb' already exists",
    )


# --- CloudFront's managed prefix list -----------------------------------------------------


@pytest.mark.parametrize("applied", [True, False])
def test_a_prefix_list_rule_keeps_its_description(aws, applied) -> None:
    vpc, _, _ = create_network(aws("ec2"))
    with patches.patched(without=() if applied else ("ec2-prefix-list-rule-description",)):
        ec2 = aws("ec2")
        lists = ec2.describe_managed_prefix_lists(
            Filters=[
                {
                    "Name": "prefix-list-name",
                    "Values": ["com.amazonaws.global.cloudfront.origin-facing"],
                }
            ]
        )["PrefixLists"]
        assert len(lists) == 1  # moto has the list itself
        group = ec2.create_security_group(GroupName="alb", Description="a", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 80,
                    "ToPort": 80,
                    "PrefixListIds": [
                        {"PrefixListId": lists[0]["PrefixListId"], "Description": "From CloudFront"}
                    ],
                }
            ],
        )
        rules = ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [group]}]
        )["SecurityGroupRules"]
    described = [r.get("Description") for r in rules if r.get("PrefixListId")]
    assert described == (["From CloudFront"] if applied else [None])
