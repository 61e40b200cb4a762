"""The emulator's quota and preflight rules: each gap shows without its patch, and is gone
with it (moto in-process, called as the preflight and the AWS provider call it)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from chatops.emulator import patches

REGION = "ap-northeast-2"
Clients = Callable[[str], Any]


@pytest.fixture
def aws() -> Iterator[Clients]:
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


def run_with(patch: str, scenario: Callable[[], Any], *, applied: bool) -> Any:
    with patches.patched(without=() if applied else (patch,)):
        return scenario()


def _error_code(call: Callable[[], Any]) -> str:
    try:
        call()
    except botocore.exceptions.ClientError as error:
        return str(error.response["Error"]["Code"])
    except NotImplementedError:
        return "NotImplemented"
    return "none"


# --- Service Quotas ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "code", "value"),
    [
        ("ec2", "L-0263D0A3", 5),
        ("elasticloadbalancing", "L-53DA6B97", 50),
        ("fargate", "L-3032A538", 6),
        ("fargate", "L-36FBB829", 6),
    ],
)
@pytest.mark.parametrize("applied", [True, False])
def test_the_quotas_a_deploy_consumes_can_be_read(
    aws: Clients, applied: bool, service: str, code: str, value: int
) -> None:
    def scenario() -> tuple[Any, ...]:
        quotas = aws("service-quotas")
        applied_value = quotas.get_service_quota(ServiceCode=service, QuotaCode=code)
        default = quotas.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)
        return applied_value["Quota"], default["Quota"]

    if not applied:
        with pytest.raises(botocore.exceptions.ClientError, match="NoSuchResourceException"):
            run_with("servicequotas-defaults", scenario, applied=False)
        return
    quota, default = run_with("servicequotas-defaults", scenario, applied=True)
    assert quota == default
    assert quota["Value"] == value and quota["QuotaCode"] == code
    assert quota["QuotaArn"] == f"arn:aws:servicequotas:{REGION}::{service}/{code}"


@pytest.mark.parametrize("applied", [True, False])
def test_the_default_value_of_a_vpc_quota_can_be_read(aws: Clients, applied: bool) -> None:
    def scenario() -> str:
        return _error_code(
            lambda: aws("service-quotas").get_aws_default_service_quota(
                ServiceCode="vpc", QuotaCode="L-F678F1CE"
            )
        )

    assert run_with("servicequotas-defaults", scenario, applied=applied) == (
        "none" if applied else "NotImplemented"
    )


def test_an_unknown_quota_is_no_such_resource(aws: Clients) -> None:
    with patches.patched():
        code = _error_code(
            lambda: aws("service-quotas").get_service_quota(ServiceCode="ec2", QuotaCode="L-NOPE")
        )
    assert code == "NoSuchResourceException"


# --- EC2: the VPC quota -------------------------------------------------------------------


@pytest.mark.parametrize("applied", [True, False])
def test_create_vpc_stops_at_the_quota(aws: Clients, applied: bool) -> None:
    def scenario() -> tuple[int, str]:
        ec2 = aws("ec2")
        created = 0
        for _ in range(6):
            try:
                ec2.create_vpc(CidrBlock="10.1.0.0/16")
            except botocore.exceptions.ClientError as error:
                message = f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
                return created, message
            created += 1
        return created, ""

    created, error = run_with("ec2-vpc-limit", scenario, applied=applied)
    if applied:
        # The default VPC counts: four more make five, the default quota.
        assert (created, error) == (
            4,
            "VpcLimitExceeded: The maximum number of VPCs has been reached.",
        )
    else:
        assert (created, error) == (6, "")


# --- ElastiCache: node types a region offers ----------------------------------------------


@pytest.mark.parametrize("applied", [True, False])
def test_reserved_offerings_tell_which_node_types_exist(aws: Clients, applied: bool) -> None:
    def scenario() -> tuple[list[str], int]:
        elasticache = aws("elasticache")
        offered = elasticache.describe_reserved_cache_nodes_offerings(
            CacheNodeType="cache.t4g.micro", ProductDescription="valkey"
        )["ReservedCacheNodesOfferings"]
        unknown = elasticache.describe_reserved_cache_nodes_offerings(
            CacheNodeType="cache.t9g.micro"
        )["ReservedCacheNodesOfferings"]
        return [o["CacheNodeType"] + "/" + o["ProductDescription"] for o in offered], len(unknown)

    if not applied:
        with pytest.raises(NotImplementedError):
            run_with("elasticache-reserved-offerings", scenario, applied=False)
        return
    offered, unknown = run_with("elasticache-reserved-offerings", scenario, applied=True)
    assert offered == ["cache.t4g.micro/valkey"] and unknown == 0


# --- IAM: SimulatePrincipalPolicy ---------------------------------------------------------

SLR_CONTEXT = [
    {
        "ContextKeyName": "iam:AWSServiceName",
        "ContextKeyValues": ["ecs.amazonaws.com"],
        "ContextKeyType": "string",
    }
]


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _simulate(iam: Any, arn: str, action: str = "iam:CreateServiceLinkedRole") -> str:
    result = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=[action], ContextEntries=SLR_CONTEXT
    )
    return str(result["EvaluationResults"][0]["EvalDecision"])


@pytest.mark.parametrize("applied", [True, False])
def test_simulate_principal_policy_evaluates_a_users_policies(aws: Clients, applied: bool) -> None:
    def scenario() -> list[str]:
        iam = aws("iam")
        arn = iam.create_user(UserName="dev")["User"]["Arn"]
        iam.put_user_policy(
            UserName="dev",
            PolicyName="everything-but-ecs-roles",
            PolicyDocument=_policy(
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": "iam:CreateServiceLinkedRole",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"iam:AWSServiceName": "ecs.amazonaws.com"}},
                },
            ),
        )
        iam.create_user(UserName="nobody-allowed")
        return [
            _simulate(iam, arn),
            _simulate(iam, arn, "ec2:CreateVpc"),
            _simulate(iam, "arn:aws:iam::123456789012:user/nobody-allowed"),
        ]

    if not applied:
        with pytest.raises(NotImplementedError):
            run_with("iam-simulate-principal-policy", scenario, applied=False)
        return
    decisions = run_with("iam-simulate-principal-policy", scenario, applied=True)
    assert decisions == ["explicitDeny", "allowed", "implicitDeny"]


def test_simulate_principal_policy_reads_a_roles_attached_policies(aws: Clients) -> None:
    with patches.patched():
        iam = aws("iam")
        trust = _policy({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
        role = iam.create_role(RoleName="deployer", Path="/ops/", AssumeRolePolicyDocument=trust)
        policy = iam.create_policy(
            PolicyName="slr",
            PolicyDocument=_policy(
                {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*"}
            ),
        )
        assert _simulate(iam, role["Role"]["Arn"]) == "implicitDeny"
        iam.attach_role_policy(RoleName="deployer", PolicyArn=policy["Policy"]["Arn"])
        assert _simulate(iam, role["Role"]["Arn"]) == "allowed"
        assert (
            _error_code(lambda: _simulate(iam, "arn:aws:iam::123456789012:user/moto"))
            == "NoSuchEntity"
        )


@pytest.mark.parametrize("applied", [True, False])
def test_service_linked_roles_have_aws_names(aws: Clients, applied: bool) -> None:
    def scenario() -> list[str]:
        iam = aws("iam")
        services = ("ecs", "elasticloadbalancing", "elasticache")
        return [
            iam.create_service_linked_role(AWSServiceName=f"{service}.amazonaws.com")["Role"][
                "RoleName"
            ]
            for service in services
        ]

    names = run_with("iam-service-linked-role-names", scenario, applied=applied)
    expected = ["ECS", "ElasticLoadBalancing", "ElastiCache"]
    if not applied:
        expected = ["ecs", "elasticloadbalancing", "elasticache"]
    assert names == [f"AWSServiceRoleFor{name}" for name in expected]
