"""DynamoDB: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

import json
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.models import table as dynamodb_table

from chatops.emulator.patches.registry import Patch, Revert, replace


def _install_partition_queries() -> Revert:
    """A Query on a table's own key reads that partition, as DynamoDB does.

    moto's Table.query sorts every item of the table and keeps the partition's (O(n log
    n) in the table for every Query); here its filtering, paging and projection run on
    the partition alone. Index queries are left to moto as they are.
    """
    original = dynamodb_table.Table.query

    def query(
        self: Any,
        hash_key: Any,
        range_comparison: Any,
        range_objs: Any,
        limit: Any,
        exclusive_start_key: Any,
        scan_index_forward: Any,
        projection_expressions: Any,
        index_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        arguments = (range_comparison, range_objs, limit, exclusive_start_key)
        rest = (scan_index_forward, projection_expressions, index_name, *args)
        if index_name or not self.range_key_attr:
            return original(self, hash_key, *arguments, *rest, **kwargs)
        partition = list(self.items.get(hash_key, {}).values())
        # moto's query reads `all_items()`: for this call (requests run one at a time),
        # the partition stands in for the table.
        self.all_items = lambda: partition
        try:
            return original(self, hash_key, *arguments, *rest, **kwargs)
        finally:
            del self.all_items

    return replace(dynamodb_table.Table, "query", query)


# The item calls the chat makes for every message, join and history page. Their results
# are already DynamoDB's wire JSON (items of {"S": ...}, counts, keys); DeleteItem is not
# among them, as moto adds a legacy field to it that the serializer drops.
_ITEM_ACTIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "Query"})


def _install_item_responses() -> Revert:
    """Item calls answered with their result as JSON, without moto's shape walk."""
    original = dynamodb_responses.DynamoHandler.serialized

    def serialized(self: Any, action_result: ActionResult) -> Any:
        result = action_result.result
        if type(result) is not dict or self._get_action() not in _ITEM_ACTIONS:
            return original(self, action_result)
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
        return 200, headers, json.dumps(result)

    return replace(dynamodb_responses.DynamoHandler, "serialized", serialized)


PATCHES: tuple[Patch, ...] = (
    Patch(
        "dynamodb-partition-queries",
        "Query sorts the whole table and filters it for the partition: a room's history "
        "or replay costs O(n log n) in every message of every room, and with the chat's "
        "traffic the emulator falls behind (calls time out). A Query on the table's key "
        "reads its partition; index queries are unchanged.",
        _install_partition_queries,
    ),
    Patch(
        "dynamodb-item-responses",
        "Every response goes through moto's generic serializer, which walks each item "
        "attribute by attribute against the API's shapes: most of the emulator's time "
        "under the chat's traffic. GetItem, PutItem, UpdateItem and Query answer with "
        "their result as JSON (the same document).",
        _install_item_responses,
    ),
)
