"""The seed schema as the server's developers create it, and as Terraform does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from typing import Any

from chatapp.tables import SCHEMAS, TTL_ATTRIBUTE

from tests.helpers import TERRAFORM_DIR


def test_python_m_chatapp_tables_creates_them_and_prints_the_environment(
    emulator_endpoint: str, dynamodb: Any
) -> None:
    prefix = f"alone-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": emulator_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "ap-northeast-2",
    }
    result = subprocess.run(
        [sys.executable, "-m", "chatapp.tables", "--prefix", prefix],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"export MESSAGES_TABLE={prefix}-messages",
        f"export CONNECTIONS_TABLE={prefix}-connections",
        f"export USER_COUNTER_TABLE={prefix}-user-counter",
    ]
    messages = dynamodb.describe_table(TableName=f"{prefix}-messages")["Table"]
    assert [k["AttributeName"] for k in messages["KeySchema"]] == ["roomId", "timestamp"]
    ttl = dynamodb.describe_time_to_live(TableName=f"{prefix}-connections")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "ttl"
    again = subprocess.run(
        [sys.executable, "-m", "chatapp.tables", "--prefix", prefix],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 1 and again.stderr.count("\n") == 1  # one line: they exist


def test_the_schema_is_the_one_terraform_creates() -> None:
    module = (TERRAFORM_DIR / "modules" / "dynamodb" / "main.tf").read_text()
    for role, schema in SCHEMAS.items():
        block = module[module.index(f"    {role} = {{") :]
        block = block[: block.index("\n    }\n")]
        keys = {k["KeyType"]: k["AttributeName"] for k in schema["KeySchema"]}
        assert (
            f'hash_key   = "{keys["HASH"]}"' in block
            or f'hash_key      = "{keys["HASH"]}"' in block
        )
        if "RANGE" in keys:
            assert f'range_key  = "{keys["RANGE"]}"' in block
        for attribute in schema["AttributeDefinitions"]:
            assert re.search(
                rf'{attribute["AttributeName"]}\s*=\s*"{attribute["AttributeType"]}"', block
            )
        for index in schema.get("GlobalSecondaryIndexes", []):
            assert f'"{index["IndexName"]}"' in block
        ttl = (
            f'ttl_attribute = "{TTL_ATTRIBUTE[role]}"'
            if role in TTL_ATTRIBUTE
            else "ttl_attribute = null"
        )
        assert ttl in block
