"""The preflight: the settings it reads, each check under the emulator's AWS (moto with
chatops' patches, in-process), `chatops doctor`, and a deploy it stops before planning."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.authorization import ActionAuthenticatorMixin
from typer.testing import CliRunner

from chatops.cli.main import app
from chatops.emulator import patches
from chatops.emulator.manager import EmulatorManager
from chatops.preflight import (
    PreflightFailed,
    SettingsInvalid,
    StackSettings,
    checks,
    quotas,
    require,
    run,
)
from chatops.preflight.checks import Caller, Context
from chatops.preflight.findings import Finding, Report
from chatops.preflight.settings import console_args, read_settings
from tests.helpers import TERRAFORM_DIR, create_network
from tests.test_cli import assert_one_line_error

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
HACKATHON = TERRAFORM_DIR / "profiles" / "hackathon.tfvars"
Clients = Callable[[str], Any]


@pytest.fixture(scope="module")
def defaults() -> StackSettings:
    return read_settings(TERRAFORM_DIR, {}, [])


@pytest.fixture
def aws() -> Iterator[Clients]:
    with mock_aws(), patches.patched():
        yield lambda service: boto3.client(service, region_name=REGION)


def context(aws: Clients, settings: StackSettings) -> Context:
    return Context(aws, settings, Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"))


def stack_tags(settings: StackSettings) -> list[dict[str, Any]]:
    tags = [
        {"Key": "Project", "Value": settings.project_name},
        {"Key": "Environment", "Value": settings.environment},
    ]
    return tags


# --- the settings -----------------------------------------------------------------------


def test_the_defaults_are_the_root_modules(defaults: StackSettings) -> None:
    assert defaults.region == REGION
    assert defaults.zones == (f"{REGION}a", f"{REGION}b")
    assert (defaults.nat_gateways, defaults.task_vcpus) == (1, 0.5)
    assert defaults.redis_node_type == "cache.t4g.micro"
    assert defaults.capacity_provider == "FARGATE"
    assert defaults.budget_set is False  # no alarm_email


def test_var_files_then_vars_win_as_in_a_plan() -> None:
    settings = read_settings(
        TERRAFORM_DIR,
        {"redis_node_type": "cache.t4g.small", "alarm_email": "ops@example.com"},
        [HACKATHON],
    )
    assert settings.enable_nat_gateway is False and settings.nat_gateways == 0
    assert settings.redis_node_type == "cache.t4g.small"
    assert (settings.green_desired_count, settings.task_vcpus) == (0, 0.25)
    assert settings.budget_monthly_usd == 70 and settings.budget_set is True


def test_auto_loaded_files_of_the_root_module_count(tmp_path: Path) -> None:
    shutil.copy(TERRAFORM_DIR / "variables.tf", tmp_path / "variables.tf")
    (tmp_path / "terraform.tfvars").write_text('capacity_provider = "FARGATE_SPOT"\n')
    (tmp_path / "chatops-weights.auto.tfvars.json").write_text('{"blue_desired_count": 3}')
    settings = read_settings(tmp_path, {}, [])
    assert settings.capacity_provider == "FARGATE_SPOT"
    assert settings.blue_desired_count == 3


def test_settings_that_fail_validation_are_one_line() -> None:
    with pytest.raises(SettingsInvalid) as raised:
        read_settings(TERRAFORM_DIR, {"task_cpu": "512"}, [])
    message = raised.value.message
    assert "task_memory does not fit task_cpu on Fargate" in message
    assert "\n" not in message and "variables.tf line" not in message


def test_reading_the_settings_takes_well_under_a_second() -> None:
    started = time.monotonic()
    read_settings(TERRAFORM_DIR, {}, [HACKATHON])
    assert time.monotonic() - started < 2.0


def test_console_arguments_follow_the_plans_order() -> None:
    assert console_args({"a": "1", "b": "x=y"}, [Path("/f1"), Path("/f2")]) == [
        "console",
        "-no-color",
        "-var-file=/f1",
        "-var-file=/f2",
        "-var=a=1",
        "-var=b=x=y",
    ]


# --- the quota finding --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "needed", "status"),
    [(0, 1, "ok"), (4, 1, "ok"), (5, 1, "fail"), (5, 0, "ok"), (6, 0, "ok"), (3, 3, "fail")],
)
def test_a_quota_holds_while_use_plus_need_fits(used: int, needed: int, status: str) -> None:
    quota = quotas.Quota(quotas.VPCS, 5, "applied")
    finding = quotas.quota_finding(
        "vpcs", quota, used=used, needed=needed, region=REGION, instead="delete one"
    )
    assert finding.status == status
    if status == "fail":
        url = f"https://{REGION}.console.aws.amazon.com/servicequotas/home/services/vpc/quotas/L-F678F1CE"
        assert finding.fix == f"ask for more in Service Quotas: {url} or delete one"


def test_a_quota_service_quotas_does_not_answer_is_its_default(aws: Clients) -> None:
    quota = quotas.read_quota(aws("service-quotas"), quotas.QuotaCode("ec2", "L-NONE", "x", 7))
    assert (quota.value, quota.source) == (7, "assumed")
    assert quotas.read_quota(aws("service-quotas"), quotas.VPCS).value == 5


# --- each check under the emulator's AWS --------------------------------------------------


def test_an_empty_account_passes(aws: Clients, defaults: StackSettings) -> None:
    report = run(aws, replace(defaults, alarm_email="ops@example.com"))
    statuses = {f.check: f.status for f in report.findings}
    assert statuses == {
        "credentials": "ok",
        "region": "ok",
        "vpcs": "ok",
        "elastic-ips": "ok",
        "nat-gateways": "ok",
        "load-balancers": "ok",
        "fargate-vcpus": "ok",
        "cache-node-type": "ok",
        # The emulator's own keys are the account root, which may create them.
        "service-linked-roles": "ok",
        "budgets": "ok",
    }
    assert report.ok and report.account == ACCOUNT
    vpcs = next(f for f in report.findings if f.check == "vpcs")
    assert vpcs.detail == "1 of 5 used, the stack needs 1 more (quota L-F678F1CE)"


def test_an_account_at_its_vpc_quota_fails(aws: Clients, defaults: StackSettings) -> None:
    for _ in range(4):  # and the default VPC: 5
        aws("ec2").create_vpc(CidrBlock="10.9.0.0/16")
    finding = checks.vpcs(context(aws, defaults))
    assert finding.status == "fail"
    assert finding.line().startswith(
        "VPCs per region: 5 of 5 used, the stack needs 1 more (quota L-F678F1CE); "
        "ask for more in Service Quotas: https://ap-northeast-2.console.aws.amazon.com/"
    )
    assert finding.line().endswith("or delete an unused VPC")


def test_the_stacks_own_vpc_is_not_needed_again(aws: Clients, defaults: StackSettings) -> None:
    ec2 = aws("ec2")
    for _ in range(3):
        ec2.create_vpc(CidrBlock="10.9.0.0/16")
    ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": stack_tags(defaults)}],
    )
    finding = checks.vpcs(context(aws, defaults))
    assert (finding.status, finding.detail) == (
        "ok",
        "5 of 5 used, the stack needs none (quota L-F678F1CE)",
    )
    other = replace(defaults, environment="prod")
    assert checks.vpcs(context(aws, other)).status == "fail"


def test_elastic_ips_are_needed_for_the_nat_gateway(aws: Clients, defaults: StackSettings) -> None:
    for _ in range(5):
        aws("ec2").allocate_address(Domain="vpc")
    assert checks.elastic_ips(context(aws, defaults)).status == "fail"
    without_nat = checks.elastic_ips(context(aws, replace(defaults, enable_nat_gateway=False)))
    assert (without_nat.status, without_nat.detail) == (
        "ok",
        "5 of 5 used, the stack needs none (quota L-0263D0A3)",
    )


def test_nat_gateways_count_in_the_stacks_nat_zone(aws: Clients, defaults: StackSettings) -> None:
    ec2 = aws("ec2")
    _, subnets, _ = create_network(ec2)  # one subnet in zone a, one in zone b
    for _ in range(5):
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.create_nat_gateway(SubnetId=subnets[1], AllocationId=allocation)
    in_a = checks.nat_gateways(context(aws, defaults))
    assert in_a.status == "ok" and in_a.detail.startswith(f"{REGION}a: 0 of 5 used")
    in_b = checks.nat_gateways(context(aws, replace(defaults, availability_zones=(f"{REGION}b",))))
    assert in_b.status == "fail" and in_b.detail.startswith(f"{REGION}b: 5 of 5 used")
    assert "delete an unused NAT gateway" in (in_b.fix or "")


def test_load_balancers_count_and_the_stacks_own_is_known(
    aws: Clients, defaults: StackSettings
) -> None:
    ec2, elbv2 = aws("ec2"), aws("elbv2")
    _, subnets, group = create_network(ec2)
    elbv2.create_load_balancer(Name="someone-else", Subnets=subnets, SecurityGroups=[group])
    before = checks.load_balancers(context(aws, defaults))
    assert before.detail == "1 of 50 used, the stack needs 1 more (quota L-53DA6B97)"
    elbv2.create_load_balancer(
        Name=f"{defaults.name_prefix}-alb", Subnets=subnets, SecurityGroups=[group]
    )
    after = checks.load_balancers(context(aws, defaults))
    assert after.detail == "2 of 50 used, the stack needs none (quota L-53DA6B97)"


@pytest.mark.parametrize(
    ("provider", "code", "status"),
    [("FARGATE", "L-3032A538", "fail"), ("FARGATE_SPOT", "L-36FBB829", "fail")],
)
def test_bigger_tasks_than_the_fargate_quota_fail(
    aws: Clients, defaults: StackSettings, provider: str, code: str, status: str
) -> None:
    big = replace(defaults, task_cpu=2048, blue_desired_count=2, green_desired_count=2)
    finding = checks.fargate_vcpus(context(aws, replace(big, capacity_provider=provider)))
    assert finding.status == status
    assert finding.detail == f"0 of 6 vCPUs used, the stack needs 8 more (quota {code})"
    assert checks.fargate_vcpus(context(aws, defaults)).status == "ok"


@pytest.mark.parametrize(
    ("node_type", "status"),
    [("cache.t4g.micro", "ok"), ("cache.r7g.large", "ok"), ("cache.t3.large", "fail")],
)
def test_the_cache_node_type_must_be_offered(
    aws: Clients, defaults: StackSettings, node_type: str, status: str
) -> None:
    finding = checks.cache_node_type(context(aws, replace(defaults, redis_node_type=node_type)))
    assert finding.status == status
    if status == "fail":
        assert finding.detail == f"{node_type} is not offered in {REGION}"
        assert "redis_node_type" in (finding.fix or "")


def _user_with_policy(aws: Clients, name: str, *statements: dict[str, Any]) -> Caller:
    iam = aws("iam")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    return Caller(ACCOUNT, arn)


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def test_service_linked_roles_the_caller_may_not_create_fail(
    aws: Clients, defaults: StackSettings
) -> None:
    deny_elb = {
        "Effect": "Deny",
        "Action": "iam:CreateServiceLinkedRole",
        "Resource": "*",
        "Condition": {"StringLike": {"iam:AWSServiceName": "elasticloadbalancing.*"}},
    }
    caller = _user_with_policy(aws, "dev", ALLOW_ALL, deny_elb)
    aws("iam").create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    finding = checks.service_linked_roles(Context(aws, defaults, caller))
    assert finding.status == "fail"
    assert finding.detail == (
        "the ELB role does not exist and the caller may not create it "
        "(iam:CreateServiceLinkedRole); ECS exist; ElastiCache will be created on first use"
    )
    assert "--aws-service-name elasticloadbalancing.amazonaws.com" in (finding.fix or "")


def test_service_linked_roles_pass_when_they_exist_or_may_be_created(
    aws: Clients, defaults: StackSettings
) -> None:
    caller = _user_with_policy(aws, "dev", ALLOW_ALL)
    allowed = checks.service_linked_roles(Context(aws, defaults, caller))
    assert (allowed.status, allowed.detail) == (
        "ok",
        "ECS, ELB, ElastiCache will be created on first use",
    )
    for service in ("ecs", "elasticloadbalancing", "elasticache"):
        aws("iam").create_service_linked_role(AWSServiceName=f"{service}.amazonaws.com")
    nobody = _user_with_policy(
        aws, "nobody", {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    )
    existing = checks.service_linked_roles(Context(aws, defaults, nobody))
    assert (existing.status, existing.detail) == ("ok", "ECS, ELB, ElastiCache exist")


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (f"arn:aws:iam::{ACCOUNT}:root", None),
        (f"arn:aws:iam::{ACCOUNT}:user/ops/dev", f"arn:aws:iam::{ACCOUNT}:user/ops/dev"),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/me@example.com",
            f"arn:aws:iam::{ACCOUNT}:role/Admin",
        ),
    ],
)
def test_the_principal_behind_a_caller(aws: Clients, arn: str, expected: str | None) -> None:
    assert checks.principal_arn(aws("iam"), Caller(ACCOUNT, arn)) == expected


def test_an_assumed_role_keeps_its_path(aws: Clients) -> None:
    trust = {"Version": "2012-10-17", "Statement": []}
    aws("iam").create_role(
        RoleName="AWSReservedSSO_Admin",
        Path="/aws-reserved/sso.amazonaws.com/",
        AssumeRolePolicyDocument=json.dumps(trust),
    )
    caller = Caller(ACCOUNT, f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin/me")
    assert checks.principal_arn(aws("iam"), caller) == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin"
    )


def _enforcing_iam(function: Callable[[], Any]) -> Any:
    """Run `function` with moto authorizing every request, as AWS does."""
    return ActionAuthenticatorMixin.set_initial_no_auth_action_count(0)(function)()


def _session_of(aws: Clients, user: str) -> Clients:
    key = aws("iam").create_access_key(UserName=user)["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )
    return lambda service: session.client(service)


def test_budgets_the_caller_may_not_read_fail_when_a_budget_is_set(
    aws: Clients, defaults: StackSettings
) -> None:
    deny = {"Effect": "Deny", "Action": "budgets:*", "Resource": "*"}
    _user_with_policy(aws, "dev", ALLOW_ALL, deny)
    as_dev = _session_of(aws, "dev")
    with_budget = replace(defaults, alarm_email="ops@example.com")
    caller = Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/dev")
    finding = _enforcing_iam(lambda: checks.budgets(Context(as_dev, with_budget, caller)))
    assert finding.status == "fail"
    assert finding.detail.startswith("the $150 budget cannot be managed: User: ")
    assert "budgets:ViewBudget" in (finding.fix or "")
    unset = _enforcing_iam(lambda: checks.budgets(Context(as_dev, defaults, caller)))
    assert unset.status == "ok"


def test_credentials_aws_refuses_stop_the_other_checks(
    aws: Clients, defaults: StackSettings
) -> None:
    session = boto3.Session(
        aws_access_key_id="AKIAEXAMPLEUNKNOWN", aws_secret_access_key="x", region_name=REGION
    )
    report = _enforcing_iam(lambda: run(lambda service: session.client(service), defaults))
    assert [f.check for f in report.findings] == ["credentials"]
    (finding,) = report.findings
    assert finding.status == "fail" and "security token included in the request is invalid" in (
        finding.detail
    )
    assert report.account is None and not report.ok


def test_a_check_the_caller_may_not_read_is_a_warning(
    aws: Clients, defaults: StackSettings
) -> None:
    deny = {"Effect": "Deny", "Action": "elasticloadbalancing:*", "Resource": "*"}
    _user_with_policy(aws, "dev", ALLOW_ALL, deny)
    as_dev = _session_of(aws, "dev")
    report = _enforcing_iam(lambda: run(as_dev, defaults))
    warned = {f.check: f for f in report.warnings}
    assert warned["load-balancers"].detail.startswith("could not check: ")
    assert report.ok


def test_require_names_the_first_failure_and_its_fix() -> None:
    findings = [
        Finding("credentials", "Credentials", "ok", "account 1"),
        Finding("vpcs", "VPCs per region", "fail", "5 of 5 used", "ask for more"),
        Finding("elastic-ips", "Elastic IPs", "fail", "5 of 5 used", "release one"),
    ]
    require(Report(REGION, "1", findings[:1], 0.1))
    with pytest.raises(PreflightFailed) as raised:
        require(Report(REGION, "1", findings, 0.1))
    assert raised.value.message == (
        "preflight: VPCs per region: 5 of 5 used (and 1 more failed check)"
    )
    assert raised.value.hint == "ask for more"


# --- the commands, against a running emulator ----------------------------------------------

runner = CliRunner()


@pytest.fixture
def emulator(chatops_home: Path) -> Callable[[str], Any]:
    """The chatops home's emulator, started, and clients of it."""
    running, _ = EmulatorManager(chatops_home / "local").start()

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=running.endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    return client


def test_doctor_json(emulator: Callable[[str], Any]) -> None:
    result = runner.invoke(app, ["doctor", "--local", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["region"] == REGION and report["account"] == ACCOUNT
    assert [f["check"] for f in report["findings"]] == [
        "credentials",
        "region",
        "vpcs",
        "elastic-ips",
        "nat-gateways",
        "load-balancers",
        "fargate-vcpus",
        "cache-node-type",
        "service-linked-roles",
        "budgets",
    ]
    assert set(report["findings"][0]) == {"check", "name", "status", "detail", "fix"}


def test_doctor_reads_the_deploys_settings_and_fails_on_them(
    emulator: Callable[[str], Any],
) -> None:
    ok = runner.invoke(app, ["doctor", "--local", "--var-file", str(HACKATHON)])
    assert ok.exit_code == 0, ok.stderr
    assert "ok    Elastic IPs: 0 of 5 used, the stack needs none (quota L-0263D0A3)" in ok.stdout
    assert ok.stdout.rstrip().endswith("10 passed, 0 warning(s), 0 failed.")
    bad = runner.invoke(app, ["doctor", "--local", "--var", "redis_node_type=cache.t3.large"])
    assert "FAIL  Cache node type: cache.t3.large is not offered in ap-northeast-2" in bad.stdout
    assert_one_line_error(bad, 1, "preflight: Cache node type", "set redis_node_type")


def test_doctor_refuses_invalid_settings_in_one_line(emulator: Callable[[str], Any]) -> None:
    result = runner.invoke(app, ["doctor", "--local", "--var", "task_cpu=512"])
    assert_one_line_error(result, 1, "task_memory does not fit task_cpu", "--var")


def test_deploy_at_the_vpc_quota_stops_before_planning(
    chatops_home: Path, emulator: Callable[[str], Any]
) -> None:
    ec2 = emulator("ec2")
    for _ in range(5 - len(ec2.describe_vpcs()["Vpcs"])):
        ec2.create_vpc(CidrBlock="10.9.0.0/16")
    before = sorted(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"])
    started = time.monotonic()
    result = runner.invoke(app, ["deploy", "--local", "--yes"])
    elapsed = time.monotonic() - started
    assert_one_line_error(
        result,
        1,
        "preflight: VPCs per region: 5 of 5 used, the stack needs 1 more (quota L-F678F1CE)",
        "ask for more in Service Quotas: https://ap-northeast-2.console.aws.amazon.com/"
        "servicequotas/home/services/vpc/quotas/L-F678F1CE or delete an unused VPC",
    )
    assert "Planning" not in result.stderr + result.stdout
    # Nothing was created: no VPC, no Terraform data or state, no snapshot of app/.
    assert sorted(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]) == before
    local = chatops_home / "local"
    assert not (local / "terraform").exists() and not (local / "terraform.tfstate").exists()
    assert not (local / "images").exists()
    assert elapsed < 15, elapsed
