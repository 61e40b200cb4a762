"""Seq allocation on the emulator's DynamoDB: concurrent sends to one room share calls."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from chatapp.aws import Aws, AwsError
from chatapp.config import Config
from chatapp.store import Store
from chatapp.tables import create_tables

from tests.app.helpers import store_config


async def _allocate(config: Config, asks: list[str]) -> tuple[list[int | str], int]:
    """Ask for a seq for each room in `asks` at once: (results, UpdateItem calls made)."""
    aws = Aws(config.aws_region)
    store = Store(config, aws, task="task")
    calls = 0

    def count(**_: Any) -> None:
        nonlocal calls
        calls += 1

    store._client.meta.events.register("before-call.dynamodb.UpdateItem", count)
    try:
        results = await asyncio.gather(
            *(store.next_seq(room) for room in asks), return_exceptions=True
        )
    finally:
        await store.close()
        aws.close()
    return [r if isinstance(r, int) else type(r).__name__ for r in results], calls


def test_concurrent_sends_to_a_room_get_its_next_seqs_in_order_from_fewer_calls(
    dynamodb: Any, emulator_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = create_tables(dynamodb, f"seqs-{uuid.uuid4().hex[:8]}")
    config = store_config(monkeypatch, emulator_endpoint, tables)
    results, calls = asyncio.run(_allocate(config, ["a"] * 40 + ["b"] * 3))
    assert results == list(range(1, 41)) + [1, 2, 3]
    assert 2 <= calls < 43  # at least one per room, and batches of waiting asks
    again, _ = asyncio.run(_allocate(config, ["a"]))
    assert again == [41]  # the counter holds every seq handed out


def test_a_failing_counter_fails_every_waiting_send_and_hangs_none(
    dynamodb: Any, emulator_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = create_tables(dynamodb, f"seqs-{uuid.uuid4().hex[:8]}")
    config = store_config(monkeypatch, emulator_endpoint, tables)
    dynamodb.delete_table(TableName=tables["user-counter"])
    results, _ = asyncio.run(asyncio.wait_for(_allocate(config, ["a"] * 5), 30))
    assert results == [AwsError.__name__] * 5
