"""What a destroy must clear before Terraform can delete the stack."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from chatops.errors import ChatopsError

_BATCH = 1000  # DeleteObjects takes at most 1000 keys


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version, delete marker and pending upload; return the count.

    A bucket that does not exist counts as empty.
    """
    deleted = 0
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        batch: list[dict[str, str]] = []
        for page in pages:
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                batch.append({"Key": item["Key"], "VersionId": item["VersionId"]})
                if len(batch) == _BATCH:
                    deleted += _delete(s3, bucket, batch)
                    batch = []
        if batch:
            deleted += _delete(s3, bucket, batch)
        uploads = s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket)
        for page in uploads:
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return deleted
        raise ChatopsError(
            f"could not empty bucket {bucket}: {error}",
            "check that your credentials may list and delete object versions in it",
        ) from None
    return deleted


def stop_access_logging(s3: Any, bucket: str) -> None:
    """Stop S3 server access logging from `bucket`, so no new log objects arrive mid-destroy."""
    try:
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise


def _delete(s3: Any, bucket: str, objects: list[dict[str, str]]) -> int:
    response = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    errors = response.get("Errors", [])
    if errors:
        first = errors[0]
        raise ChatopsError(
            f"could not delete {len(errors)} object(s) from {bucket}: "
            f"{first.get('Key')} ({first.get('Code')}: {first.get('Message')})",
            "check for object lock or legal holds on the bucket",
        )
    return len(objects)


def release_deletion_protection(elbv2: Any, load_balancer_arn: str) -> bool:
    """Turn the ALB's deletion protection off (the destroy is confirmed). True if it was on."""
    try:
        attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=load_balancer_arn)
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") == "LoadBalancerNotFound":
            return False
        raise
    enabled = any(
        item["Key"] == "deletion_protection.enabled" and item["Value"] == "true"
        for item in attributes["Attributes"]
    )
    if enabled:
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=load_balancer_arn,
            Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
        )
    return enabled
