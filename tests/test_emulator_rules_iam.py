"""IAM for role sessions and STS trust: each rule refuses what AWS refuses, and without it
the emulator lets it through.

The rule scenarios call moto in-process (mock_aws), signed as boto3 signs; the local ECS
agent's side (task role sessions, secrets read with the execution role, the credentials
endpoint) runs against the suite's emulator process, where every rule is installed.
"""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.credentials
import botocore.exceptions
import pytest
from moto import mock_aws

from chatops.emulator import patches
from chatops.emulator.dataplane import ecs
from chatops.emulator.dataplane.control import ControlPlane
from chatops.emulator.patches.sts import (
    SERVICE_PRINCIPAL_HEADER,
    SOURCE_ACCOUNT_HEADER,
    SOURCE_ARN_HEADER,
)

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
TASK_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/chat/0123456789abcdef"


def ecs_tasks_trust(region: str = REGION) -> str:
    """The stack's trust policy (terraform/modules/iam): ECS tasks of this account and region."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": ACCOUNT},
                        "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{region}:{ACCOUNT}:*"},
                    },
                }
            ],
        }
    )


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def as_ecs(client: Any, source_arn: str = TASK_ARN) -> Any:
    """An STS client whose AssumeRole is made as ECS makes it for a task."""

    def add(params: dict[str, Any], **_: Any) -> None:
        params["headers"].update(
            {
                SERVICE_PRINCIPAL_HEADER: "ecs-tasks.amazonaws.com",
                SOURCE_ACCOUNT_HEADER: source_arn.split(":")[4],
                SOURCE_ARN_HEADER: source_arn,
            }
        )

    client.meta.events.register("before-call.sts.AssumeRole", add)
    return client


def session_of(credentials: dict[str, Any], **endpoint: str) -> Callable[[str], Any]:
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )
    return lambda service: session.client(service, **endpoint)  # type: ignore[call-overload]


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return dict(caught.value.response["Error"])


@pytest.fixture
def aws() -> Iterator[Callable[[str], Any]]:
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


def with_rules(applied: bool, *rules: str) -> Any:
    return patches.patched(without=() if applied else rules)


# --- sts-root-caller -------------------------------------------------------------------


@pytest.mark.parametrize("applied", [True, False])
def test_the_emulators_own_keys_are_the_account_root(aws, applied: bool) -> None:
    with with_rules(applied, "sts-root-caller"):
        identity = aws("sts").get_caller_identity()
        iam = aws("iam")
        iam.create_user(UserName="deployer")
        keys = iam.create_access_key(UserName="deployer")["AccessKey"]
        as_user = boto3.client(
            "sts",
            region_name=REGION,
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
        ).get_caller_identity()
    assert as_user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/deployer"
    if applied:
        assert (identity["Arn"], identity["UserId"]) == (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    else:
        assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:user/moto"


# --- sts-role-trust ----------------------------------------------------------------------


@pytest.mark.parametrize("applied", [True, False])
def test_a_role_only_ecs_tasks_may_assume_refuses_the_account_keys(aws, applied: bool) -> None:
    with with_rules(applied, "sts-role-trust"):
        role = aws("iam").create_role(RoleName="task", AssumeRolePolicyDocument=ecs_tasks_trust())
        arn = role["Role"]["Arn"]

        def assume() -> Any:
            return aws("sts").assume_role(RoleArn=arn, RoleSessionName="someone")

        if applied:
            assert error_of(assume) == {
                "Code": "AccessDenied",
                "Message": f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: "
                f"sts:AssumeRole on resource: {arn}",
                "Type": "Sender",
            }
        else:
            assert assume()["Credentials"]["AccessKeyId"].startswith("ASIA")


@pytest.mark.parametrize("applied", [True, False])
def test_ecs_tasks_may_assume_it_for_a_task_of_the_account_and_region(aws, applied: bool) -> None:
    with with_rules(applied, "sts-role-trust"):
        arn = aws("iam").create_role(RoleName="task", AssumeRolePolicyDocument=ecs_tasks_trust())[
            "Role"
        ]["Arn"]
        sts = as_ecs(aws("sts"))
        assumed = sts.assume_role(RoleArn=arn, RoleSessionName="0123456789abcdef")
        assert assumed["AssumedRoleUser"]["Arn"] == (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/task/0123456789abcdef"
        )
        other_region = as_ecs(aws("sts"), TASK_ARN.replace(REGION, "us-east-1"))

        def assume_elsewhere() -> Any:
            return other_region.assume_role(RoleArn=arn, RoleSessionName="elsewhere")

        if applied:  # the confused-deputy condition holds only for this region's tasks
            assert error_of(assume_elsewhere)["Message"] == (
                "User: ecs-tasks.amazonaws.com is not authorized to perform: "
                f"sts:AssumeRole on resource: {arn}"
            )
        else:
            assume_elsewhere()


@pytest.mark.parametrize("applied", [True, False])
def test_a_role_trusting_another_service_refuses_ecs_tasks(aws, applied: bool) -> None:
    with with_rules(applied, "sts-role-trust"):
        trust = policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        )
        arn = aws("iam").create_role(RoleName="wrong", AssumeRolePolicyDocument=trust)["Role"][
            "Arn"
        ]

        def assume() -> Any:
            return as_ecs(aws("sts")).assume_role(RoleArn=arn, RoleSessionName="task-1")

        if applied:
            assert error_of(assume)["Code"] == "AccessDenied"
        else:
            assume()


def test_a_role_trusting_the_account_may_be_assumed_with_its_keys(aws) -> None:
    with patches.patched():
        trust = policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        )
        arn = aws("iam").create_role(RoleName="admin", AssumeRolePolicyDocument=trust)["Role"][
            "Arn"
        ]
        assert aws("sts").assume_role(RoleArn=arn, RoleSessionName="me")["Credentials"]
        missing = arn.replace("admin", "missing")
        assert error_of(lambda: aws("sts").assume_role(RoleArn=missing, RoleSessionName="me"))[
            "Message"
        ].endswith(f"sts:AssumeRole on resource: {missing}")


# --- iam-role-sessions --------------------------------------------------------------------


def task_session(aws: Callable[[str], Any], *statements: dict[str, Any]) -> Callable[[str], Any]:
    """Clients signed with a session of a role whose inline policy holds `statements`."""
    iam = aws("iam")
    iam.create_role(RoleName="task", AssumeRolePolicyDocument=ecs_tasks_trust())
    if statements:
        iam.put_role_policy(RoleName="task", PolicyName="app", PolicyDocument=policy(*statements))
    sts = as_ecs(aws("sts"))
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/task", RoleSessionName="0123456789abcdef"
    )["Credentials"]
    return session_of(credentials)


def messages_table(aws: Callable[[str], Any]) -> str:
    dynamodb = aws("dynamodb")
    dynamodb.create_table(
        TableName="messages",
        KeySchema=[
            {"AttributeName": "roomId", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "roomId", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "N"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "userId-timestamp-index",
                "KeySchema": [
                    {"AttributeName": "userId", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return str(dynamodb.describe_table(TableName="messages")["Table"]["TableArn"])


ITEM = {"roomId": {"S": "lobby"}, "timestamp": {"N": "1"}, "userId": {"S": "u1"}}
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/task/0123456789abcdef"


@pytest.mark.parametrize("applied", [True, False])
def test_a_write_the_task_role_does_not_allow_is_refused(aws, applied: bool) -> None:
    with with_rules(applied, "iam-role-sessions"):
        table = messages_table(aws)
        client = task_session(
            aws, {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": table}
        )("dynamodb")

        def put() -> Any:
            return client.put_item(TableName="messages", Item=ITEM)

        if applied:
            assert error_of(put) == {
                "Code": "AccessDeniedException",
                "Message": f"User: {SESSION} is not authorized to perform: dynamodb:PutItem on "
                f"resource: {table} because no identity-based policy allows the "
                "dynamodb:PutItem action",
            }
            assert "Item" not in aws("dynamodb").get_item(
                TableName="messages", Key={k: ITEM[k] for k in ("roomId", "timestamp")}
            )
        else:
            put()
        query = {
            "KeyConditionExpression": "roomId = :r",
            "ExpressionAttributeValues": {":r": ITEM["roomId"]},
        }
        client.query(TableName="messages", **query)  # allowed: the statement names the table


@pytest.mark.parametrize("applied", [True, False])
def test_an_index_is_its_own_resource(aws, applied: bool) -> None:
    with with_rules(applied, "iam-role-sessions"):
        table = messages_table(aws)
        client = task_session(
            aws, {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": table}
        )("dynamodb")

        def by_user() -> Any:
            return client.query(
                TableName="messages",
                IndexName="userId-timestamp-index",
                KeyConditionExpression="userId = :u",
                ExpressionAttributeValues={":u": {"S": "u1"}},
            )

        if applied:
            assert (
                f"on resource: {table}/index/userId-timestamp-index "
                in error_of(by_user)["Message"]
            )
        else:
            by_user()


def test_an_explicit_deny_wins_and_says_so(aws) -> None:
    with patches.patched():
        table = messages_table(aws)
        client = task_session(
            aws,
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": table},
        )("dynamodb")
        assert error_of(lambda: client.put_item(TableName="messages", Item=ITEM))[
            "Message"
        ].endswith("with an explicit deny in an identity-based policy")
        client.get_item(TableName="messages", Key={k: ITEM[k] for k in ("roomId", "timestamp")})


def test_a_metrics_namespace_condition_is_evaluated(aws) -> None:
    with patches.patched():
        cloudwatch = task_session(
            aws,
            {
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": "Chat"}},
            },
        )("cloudwatch")
        datum = [{"MetricName": "Connections", "Value": 1.0}]
        cloudwatch.put_metric_data(Namespace="Chat", MetricData=datum)
        refused = error_of(lambda: cloudwatch.put_metric_data(Namespace="Other", MetricData=datum))
        assert refused["Code"] == "AccessDenied"
        assert "cloudwatch:PutMetricData on resource: *" in refused["Message"]


def test_the_emulators_own_keys_stay_unenforced(aws) -> None:
    """Terraform and the data plane sign with the emulator's keys: nothing is evaluated."""
    with patches.patched():
        messages_table(aws)
        task_session(aws)  # a role with no policy at all exists
        aws("dynamodb").put_item(TableName="messages", Item=ITEM)
        assert aws("elbv2").describe_load_balancers()["LoadBalancers"] == []


def test_a_forged_session_token_is_refused(aws) -> None:
    with patches.patched():
        client = task_session(aws, {"Effect": "Allow", "Action": "*", "Resource": "*"})
        good = client("sts").get_caller_identity()
        assert good["Arn"] == SESSION
        credentials = client("sts")._request_signer._credentials
        forged = boto3.client(
            "elbv2",
            region_name=REGION,
            aws_access_key_id=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            aws_session_token="forged",
        )
        assert error_of(forged.describe_load_balancers)["Code"] == "InvalidClientTokenId"


# --- the local ECS agent: task role sessions, execution role, credentials endpoint ---------


@pytest.fixture
def control(emulator_endpoint: str) -> ControlPlane:
    return ControlPlane(emulator_endpoint, REGION)


def make_role(control: ControlPlane, name: str, *statements: dict[str, Any]) -> str:
    iam = control.client("iam")
    arn = str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=ecs_tasks_trust())["Role"]["Arn"]
    )
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy(*statements))
    return arn


def secret_definition(execution_role: str, parameter: str) -> dict[str, Any]:
    return {
        "executionRoleArn": execution_role,
        "containerDefinitions": [
            {"name": "app", "secrets": [{"name": "SESSION_SECRET", "valueFrom": parameter}]}
        ],
    }


def test_secrets_are_read_with_the_execution_role(control: ControlPlane) -> None:
    name = f"/iam-test/{uuid.uuid4().hex[:8]}/session-secret"
    ssm = control.client("ssm")
    ssm.put_parameter(Name=name, Value="s" * 32, Type="SecureString")
    parameter_arn = str(ssm.get_parameter(Name=name)["Parameter"]["ARN"])
    allowed = make_role(
        control,
        f"exec-{uuid.uuid4().hex[:8]}",
        {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameter_arn},
    )
    roles = ecs.TaskRoles(control)
    assert roles.read_secrets(secret_definition(allowed, parameter_arn), TASK_ARN, REGION) == {
        "SESSION_SECRET": "s" * 32
    }
    denied = make_role(control, f"exec-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ecs.TaskStartError) as caught:
        roles.read_secrets(secret_definition(denied, parameter_arn), TASK_ARN, REGION)
    reason = str(caught.value)
    assert reason.startswith("ResourceInitializationError: unable to pull secrets")
    assert f"is not authorized to perform: ssm:GetParameters on resource: {parameter_arn}" in reason


def test_a_role_ecs_tasks_may_not_assume_fails_the_task(control: ControlPlane) -> None:
    name = f"ec2-only-{uuid.uuid4().hex[:8]}"
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    arn = control.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"][
        "Arn"
    ]
    with pytest.raises(ecs.TaskStartError, match="ECS was unable to assume the role"):
        ecs.TaskRoles(control).assume(arn, TASK_ARN, REGION)


def test_a_task_gets_its_role_from_the_credentials_endpoint(control: ControlPlane) -> None:
    """botocore in a task (no keys, only the endpoint's URI and token) acts as the role."""
    role = make_role(
        control,
        f"task-{uuid.uuid4().hex[:8]}",
        {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
    )
    task = ecs.LocalTask(
        id="0123456789abcdef",
        arn=TASK_ARN,
        service_arn="service",
        service_name="chat-blue",
        cluster_arn="cluster",
        region=REGION,
        definition_arn="definition",
        image="image",
        container_name="app",
        colour="blue",
        port=1,
        pid=1,
        marker="m",
        log_path="log",
        stop_timeout=1.0,
        targets=[],
        task_role_arn=role,
        credentials_token="token",
    )
    roles = ecs.TaskRoles(control)
    tasks = {task.id: task}
    path = ecs.CREDENTIALS_PATH + task.id
    assert ecs.credentials_response(path, "wrong", tasks, roles)[0] == 401
    status, document = ecs.credentials_response(path, "token", tasks, roles)
    assert status == 200
    assert document["RoleArn"] == role and document["Expiration"].endswith("Z")
    with credentials_endpoint(tasks, roles) as port:
        # What botocore does in a task: no keys, only the endpoint's URI and token.
        provider = botocore.credentials.ContainerProvider(
            environ={
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://127.0.0.1:{port}{path}",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": "token",
            }
        )
        credentials = provider.load().get_frozen_credentials()
    sts = boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=control.endpoint,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
    )
    assert sts.get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/{task.id}"
    )


@contextmanager
def credentials_endpoint(tasks: dict[str, ecs.LocalTask], roles: ecs.TaskRoles) -> Iterator[int]:
    """The supervisor's answer to credential requests, served over HTTP."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, document = ecs.credentials_response(
                self.path, self.headers.get("Authorization"), tasks, roles
            )
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
