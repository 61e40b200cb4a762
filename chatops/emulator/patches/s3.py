"""S3: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses

from chatops.emulator.patches.registry import Patch, Revert, chain, replace


def _install_eventbridge_notifications() -> Revert:
    cls = s3_responses.S3Response

    def get_bucket_notification(self: Any) -> Any:
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if not configuration:
            return self.serialized(EmptyResult())

        def entries(items: Any, arn_key: str) -> list[dict[str, Any]]:
            found = []
            for item in items:
                entry: dict[str, Any] = {"Id": item.id, arn_key: item.arn, "Events": item.events}
                if item.filters:
                    entry["Filter"] = {"Key": {"FilterRules": item.filters["S3Key"]["FilterRule"]}}
                found.append(entry)
            return found

        result: dict[str, Any] = {
            "TopicConfigurations": entries(configuration.topic, "TopicArn"),
            "QueueConfigurations": entries(configuration.queue, "QueueArn"),
            "LambdaFunctionConfigurations": entries(
                configuration.cloud_function, "LambdaFunctionArn"
            ),
        }
        if configuration.event_bridge is not None:
            result["EventBridgeConfiguration"] = {}
        self.data["Action"] = "GetBucketNotificationConfiguration"
        return self.serialized(ActionResult(result))

    return replace(cls, "get_bucket_notification", get_bucket_notification)


def _install_suspended_version_delete() -> Revert:
    backend_cls = s3_models.S3Backend
    original = backend_cls.delete_object

    def delete_object(
        self: Any,
        bucket_name: str,
        key_name: str,
        version_id: str | None = None,
        bypass: bool = False,
    ) -> Any:
        bucket = self.get_bucket(bucket_name)
        if version_id is None or bucket.versioning_status != "Suspended":
            return original(self, bucket_name, key_name, version_id, bypass)
        # A version delete removes that one version whatever the versioning state.
        bucket.versioning_status = "Enabled"
        try:
            return original(self, bucket_name, key_name, version_id, bypass)
        finally:
            bucket.versioning_status = "Suspended"

    return chain(
        replace(backend_cls, "delete_object", delete_object),
        replace(s3_models.FakeDeleteMarker, "dispose", lambda self, garbage=False: None),
    )


PATCHES: tuple[Patch, ...] = (
    Patch(
        "s3-eventbridge-notifications",
        "GetBucketNotificationConfiguration leaves out EventBridgeConfiguration: every plan "
        "turns the buckets' EventBridge notifications back on.",
        _install_eventbridge_notifications,
    ),
    Patch(
        "s3-suspended-version-delete",
        "Deleting an object version in a versioning-suspended bucket with a delete marker "
        "fails with HTTP 500 ('FakeDeleteMarker' object has no attribute 'dispose').",
        _install_suspended_version_delete,
    ),
)
