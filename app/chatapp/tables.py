"""The three tables of the seed schema, for running the server without Terraform.

On AWS, terraform/modules/dynamodb creates them; this module creates the same tables on
any DynamoDB endpoint (the embedded AWS, moto_server) for development, tests and
benchmarks, and prints the environment the server needs to find them:

    python -m chatapp.tables --prefix chat-dev      # honours AWS_ENDPOINT_URL

The server itself never creates tables.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import boto3
import botocore.exceptions

# Table role -> the environment variable naming it (the ecs module's names).
VARIABLES = {
    "messages": "MESSAGES_TABLE",
    "connections": "CONNECTIONS_TABLE",
    "user-counter": "USER_COUNTER_TABLE",
}


def _index(name: str, *keys: tuple[str, str]) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": key, "KeyType": kind} for key, kind in keys],
        "Projection": {"ProjectionType": "ALL"},
    }


SCHEMAS: dict[str, dict[str, Any]] = {
    # One partition per room, ordered by time; the user index serves "my messages".
    "messages": {
        "KeySchema": [
            {"AttributeName": "roomId", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "roomId", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "N"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            _index("userId-timestamp-index", ("userId", "HASH"), ("timestamp", "RANGE"))
        ],
    },
    # Live connections; rows of a task that died expire through the `ttl` attribute.
    "connections": {
        "KeySchema": [{"AttributeName": "connectionId", "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": "connectionId", "AttributeType": "S"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [_index("userId-index", ("userId", "HASH"))],
    },
    # Atomic counters: user ids, and one sequence per room.
    "user-counter": {
        "KeySchema": [{"AttributeName": "counterId", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "counterId", "AttributeType": "S"}],
    },
}
TTL_ATTRIBUTE = {"connections": "ttl"}


def create_tables(dynamodb: Any, prefix: str) -> dict[str, str]:
    """Create `<prefix>-messages`, `-connections` and `-user-counter`; role -> name."""
    names = {role: f"{prefix}-{role}" for role in SCHEMAS}
    for role, schema in SCHEMAS.items():
        dynamodb.create_table(TableName=names[role], BillingMode="PAY_PER_REQUEST", **schema)
        if role in TTL_ATTRIBUTE:
            dynamodb.update_time_to_live(
                TableName=names[role],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE[role]},
            )
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chatapp.tables",
        description="Create the chat's tables on a DynamoDB endpoint (AWS_ENDPOINT_URL).",
    )
    parser.add_argument("--prefix", default="chat-dev", help="table name prefix")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "ap-northeast-2"))
    args = parser.parse_args(argv)
    try:
        names = create_tables(boto3.client("dynamodb", region_name=args.region), args.prefix)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        print(f"chatapp.tables: could not create the tables: {error}", file=sys.stderr)
        return 1
    for role, name in names.items():
        print(f"export {VARIABLES[role]}={name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
