"""Site publishing (under moto) and task logs (local files), and their commands."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from chatops.cli.main import app
from chatops.errors import UsageError
from chatops.logs import LocalLogs, LogEvent, parse_since, tail
from chatops.site import ASSET_CACHE, PAGE_CACHE, publish, site_files
from chatops.terraform.models import OutputValue

REGION = "ap-northeast-2"


# --- site ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "cache"),
    [
        ("index.html", "text/html; charset=utf-8", PAGE_CACHE),
        ("js/app.js", "text/javascript; charset=utf-8", ASSET_CACHE),
        ("style.css", "text/css; charset=utf-8", ASSET_CACHE),
        ("icon.svg", "image/svg+xml", ASSET_CACHE),
        ("manifest.webmanifest", "application/manifest+json", ASSET_CACHE),
    ],
)
def test_site_files_get_content_types_and_cache_headers(
    tmp_path: Path, name: str, content_type: str, cache: str
) -> None:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text("x")
    (tmp_path / ".hidden").write_text("secret")
    files = site_files(tmp_path)
    assert [(f.key, f.content_type, f.cache_control) for f in files] == [
        (name, content_type, cache)
    ]


@dataclass
class FakeTarget:
    """The part of a Target that publishing uses, on moto."""

    is_local: bool
    label: str = "test"

    def client(self, service: str, region: str | None = None) -> Any:
        return boto3.client(service, region_name=region or REGION)


@pytest.fixture
def bucket() -> Iterator[str]:
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket="site", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield "site"


def outputs(**extra: str) -> dict[str, OutputValue]:
    values = {"s3_bucket_name": "site", "aws_region": REGION, **extra}
    return {name: OutputValue(name, value) for name, value in values.items()}


def test_publish_uploads_changes_removes_what_is_gone_and_skips_the_rest(
    tmp_path: Path, bucket: str
) -> None:
    (tmp_path / "index.html").write_text("<p>v1</p>")
    (tmp_path / "app.js").write_text("console.log(1)")
    first = publish(FakeTarget(is_local=True), outputs(), tmp_path)  # type: ignore[arg-type]
    assert sorted(first.uploaded) == ["app.js", "index.html"] and first.unchanged == 0
    (tmp_path / "index.html").write_text("<p>v2</p>")
    (tmp_path / "app.js").unlink()
    second = publish(FakeTarget(is_local=True), outputs(), tmp_path)  # type: ignore[arg-type]
    assert (second.uploaded, second.deleted, second.unchanged) == (["index.html"], ["app.js"], 0)
    third = publish(FakeTarget(is_local=True), outputs(), tmp_path)  # type: ignore[arg-type]
    assert (third.uploaded, third.deleted, third.unchanged) == ([], [], 1)
    head = boto3.client("s3", region_name=REGION).head_object(Bucket=bucket, Key="index.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["CacheControl"] == "no-cache"
    assert third.invalidation_id is None


def test_publish_on_aws_invalidates_the_distribution_when_something_changed(
    tmp_path: Path, bucket: str
) -> None:
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "x",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "s3",
                        "DomainName": f"site.s3.{REGION}.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "s3",
                "ViewerProtocolPolicy": "allow-all",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            },
        }
    )["Distribution"]["Id"]
    (tmp_path / "index.html").write_text("<p>v1</p>")
    aws = FakeTarget(is_local=False)
    report = publish(aws, outputs(cloudfront_distribution_id=distribution), tmp_path)  # type: ignore[arg-type]
    assert report.invalidation_id
    again = publish(aws, outputs(cloudfront_distribution_id=distribution), tmp_path)  # type: ignore[arg-type]
    assert again.invalidation_id is None  # nothing changed, nothing to invalidate


# --- logs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1w", 604800)]
)
def test_since(text: str, seconds: int) -> None:
    assert parse_since(text) == seconds


@pytest.mark.parametrize("text", ["10", "m", "-5m", "1y", "ten minutes"])
def test_since_refused(text: str) -> None:
    with pytest.raises(UsageError):
        parse_since(text)


def _line(ts: float, event: str) -> str:
    return json.dumps({"ts": ts, "level": "info", "event": event})


def test_local_logs_by_colour_since_and_following(tmp_path: Path) -> None:
    now = time.time()
    blue = tmp_path / "chat-service-blue"
    green = tmp_path / "chat-service-green"
    blue.mkdir()
    green.mkdir()
    (blue / "task1.log").write_text(
        _line(now - 3600, "old") + "\n" + _line(now - 60, "recent") + "\n"
    )
    (green / "task2.log").write_text(_line(now - 30, "green") + "\n")
    services = {"blue": "chat-service-blue", "green": "chat-service-green"}

    events = list(tail(LocalLogs(tmp_path, services), since=600, follow=False))
    assert [(e.stream, json.loads(e.message)["event"]) for e in events] == [
        ("blue/app/task1", "recent"),
        ("green/app/task2", "green"),
    ]
    only_green = list(tail(LocalLogs(tmp_path, services, "green"), since=600, follow=False))
    assert [e.stream for e in only_green] == ["green/app/task2"]

    source = LocalLogs(tmp_path, services, "blue")
    followed: list[LogEvent] = []
    sleeps = []

    def sleep(_: float) -> None:
        sleeps.append(1)
        if len(sleeps) == 1:
            with (blue / "task3.log").open("a") as log:
                log.write(_line(time.time(), "new task") + "\n" + "half a li")
        else:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        for event in tail(source, since=600, follow=True, sleep=sleep):
            followed.append(event)
    assert [json.loads(e.message)["event"] for e in followed] == ["recent", "new task"]


def test_a_log_event_renders_as_aws_logs_tail_does() -> None:
    event = LogEvent(0.5, "blue/app/abc", "hello")
    assert event.render() == "1970-01-01T00:00:00.500+00:00 blue/app/abc hello"


def test_logs_command_refuses_a_bad_since() -> None:
    result = CliRunner().invoke(app, ["logs", "--local", "--since", "soon"])
    assert result.exit_code == 2
    assert "--since 'soon' is not a duration" in result.stderr


def test_logs_command_refuses_a_bad_colour() -> None:
    result = CliRunner().invoke(app, ["logs", "--local", "--colour", "red"])
    assert result.exit_code == 2
    assert "--colour must be blue or green" in result.stderr
