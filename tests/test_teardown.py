"""Emptying versioned buckets: every version, every delete marker, pending uploads."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from chatops.emulator import patches
from chatops.teardown import empty_bucket

REGION = "ap-northeast-2"


@pytest.fixture
def s3():
    with mock_aws(), patches.patched():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(
            Bucket="chat-site", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield client


def test_empties_a_versioned_bucket_in_batches(s3) -> None:
    s3.put_bucket_versioning(Bucket="chat-site", VersioningConfiguration={"Status": "Enabled"})
    for index in range(600):
        s3.put_object(Bucket="chat-site", Key=f"page-{index % 300}.html", Body=b"x")
    for index in range(0, 300, 3):
        s3.delete_object(Bucket="chat-site", Key=f"page-{index}.html")
    s3.create_multipart_upload(Bucket="chat-site", Key="big.bin")

    deleted = empty_bucket(s3, "chat-site")

    assert deleted == 600 + 100
    listing = s3.list_object_versions(Bucket="chat-site")
    assert "Versions" not in listing and "DeleteMarkers" not in listing
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="chat-site")
    s3.delete_bucket(Bucket="chat-site")


def test_empties_a_bucket_whose_versioning_was_suspended(s3) -> None:
    s3.put_bucket_versioning(Bucket="chat-site", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="chat-site", Key="a", Body=b"1")
    s3.put_object(Bucket="chat-site", Key="a", Body=b"2")
    s3.delete_object(Bucket="chat-site", Key="a")
    s3.put_bucket_versioning(Bucket="chat-site", VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket="chat-site", Key="b", Body=b"3")

    assert empty_bucket(s3, "chat-site") == 4
    s3.delete_bucket(Bucket="chat-site")


def test_missing_bucket_counts_as_empty(s3) -> None:
    assert empty_bucket(s3, "no-such-bucket") == 0
