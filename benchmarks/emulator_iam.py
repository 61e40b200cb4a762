"""Benchmark: what IAM enforcement costs a DynamoDB PutItem on the emulator.

Starts an emulator (every patch installed) in a temporary home, creates a table shaped
like the chat's messages table and a task role allowed to write it (the stack's trust
policy and a one-statement inline policy), assumes the role as the local ECS agent does,
then writes the same items in alternating rounds two ways:

- unenforced: signed with the emulator's own keys (Terraform's and the data plane's);
- enforced: signed with the role session's keys, so the `iam-role-sessions` rule checks
  the key, its session token, the signature and the role's policies on every call.

Printed: per-call latency (mean, p50, p99) seen by the client for each, and the extra
cost of enforcement per call (the medians' difference: the mean carries the machine's
noise). Calls are sequential on one kept-alive connection, so the
difference is the emulator's added work per request.

    python benchmarks/emulator_iam.py [--calls 2000] [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatops.emulator.dataplane.control import ControlPlane  # noqa: E402
from chatops.emulator.dataplane.ecs import ECS_TASKS_PRINCIPAL  # noqa: E402
from chatops.emulator.manager import EmulatorManager  # noqa: E402

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"


def setup(endpoint: str) -> tuple[Any, Any]:
    """(unenforced client, enforced client) of DynamoDB."""
    control = ControlPlane(endpoint, REGION)
    dynamodb = control.client("dynamodb")
    dynamodb.create_table(
        TableName="bench-messages",
        KeySchema=[
            {"AttributeName": "roomId", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "roomId", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    table = dynamodb.describe_table(TableName="bench-messages")["Table"]["TableArn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ECS_TASKS_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ],
    }
    iam = control.client("iam")
    role = iam.create_role(RoleName="bench-task", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="bench-task",
        PolicyName="chat-application",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "MessagesTable",
                        "Effect": "Allow",
                        "Action": ["dynamodb:PutItem", "dynamodb:Query"],
                        "Resource": table,
                    }
                ],
            }
        ),
    )
    credentials = control.assume_role_as_service(
        role["Role"]["Arn"],
        "0123456789abcdef",
        service=ECS_TASKS_PRINCIPAL,
        source_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/bench/0123456789abcdef",
    )
    enforced = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    ).client("dynamodb", endpoint_url=endpoint)
    unenforced = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    return unenforced, enforced


def run(client: Any, calls: int, offset: int) -> list[float]:
    durations = []
    for n in range(calls):
        item = {
            "roomId": {"S": f"room-{n % 20}"},
            "timestamp": {"N": str(offset + n)},
            "userId": {"S": "u1"},
            "text": {"S": "hello " * 10},
        }
        started = time.perf_counter()
        client.put_item(
            TableName="bench-messages",
            Item=item,
            ConditionExpression="attribute_not_exists(roomId)",
        )
        durations.append(time.perf_counter() - started)
    return durations


def summary(name: str, durations: list[float]) -> tuple[float, float]:
    ordered = sorted(durations)
    mean = statistics.fmean(ordered) * 1e6
    p50 = ordered[len(ordered) // 2] * 1e6
    p99 = ordered[int(len(ordered) * 0.99)] * 1e6
    print(f"{name:<11} mean {mean:7.0f} us   p50 {p50:7.0f} us   p99 {p99:7.0f} us")
    return mean, p50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="PutItems per round and way")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatops-bench-iam-") as home:
        manager = EmulatorManager(Path(home) / "local")
        manager.start()
        try:
            unenforced, enforced = setup(manager.require_running().endpoint)
            run(unenforced, 200, 10**9)  # warm both connections and moto's code paths
            run(enforced, 200, 2 * 10**9)
            results: dict[str, list[float]] = {"unenforced": [], "enforced": []}
            for round_number in range(args.rounds):
                base = round_number * 2 * args.calls
                results["unenforced"] += run(unenforced, args.calls, base)
                results["enforced"] += run(enforced, args.calls, base + args.calls)
        finally:
            manager.stop()
    print(f"{args.rounds} rounds of {args.calls} conditional PutItems each way, sequential")
    without = summary("unenforced", results["unenforced"])
    with_iam = summary("enforced", results["enforced"])
    print(
        f"enforcement adds {with_iam[1] - without[1]:.0f} us per PutItem at the median "
        f"({with_iam[1] / without[1]:.2f}x), {with_iam[0] - without[0]:.0f} us on the mean"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
