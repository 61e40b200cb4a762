"""Publishing the web client to the stack's site bucket, on AWS and locally.

What the seed did by hand (`aws s3 sync` of the site, then `create-invalidation`) as one
library call: every file under the web client's directory is uploaded to the bucket the
`s3_bucket_name` output names, with its content type and cache headers (pages
`no-cache`, so a release shows at once; other assets a short max-age), files unchanged
since the last upload are skipped (same MD5), objects no longer in the directory are
removed, and on AWS the distribution is invalidated when anything changed (the local
edge does not cache, so there is nothing to invalidate).
"""

from __future__ import annotations

import hashlib
import mimetypes
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatops.errors import ChatopsError
from chatops.project import Project
from chatops.targets import DEFAULT_REGION, Target
from chatops.terraform.models import OutputValue

PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=300"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}


class SiteNotDeployed(ChatopsError):
    """The stack has no site bucket to publish to."""


@dataclass(frozen=True)
class SiteFile:
    key: str
    path: Path
    content_type: str
    cache_control: str
    md5: str


@dataclass(frozen=True)
class PublishReport:
    bucket: str
    source: Path
    uploaded: list[str] = field(default_factory=list)
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    invalidation_id: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.uploaded or self.deleted)

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "source": str(self.source),
            "uploaded": self.uploaded,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "invalidation_id": self.invalidation_id,
        }


def web_dir(project: Project) -> Path:
    """The web client in the checkout: app/web beside terraform/."""
    return project.terraform_dir.parent / "app" / "web"


def content_type(path: Path) -> str:
    return _TYPES.get(path.suffix.lower()) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )


def cache_control(key: str) -> str:
    return (
        PAGE_CACHE
        if key.endswith((".html", "/")) or "." not in key.rsplit("/", 1)[-1]
        else ASSET_CACHE
    )


def site_files(source: Path) -> list[SiteFile]:
    """The files to publish: everything under `source` but hidden files and caches."""
    if not source.is_dir():
        return []
    files = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if not path.is_file() or any(
            part.startswith(".") or part in ("__pycache__", "node_modules")
            for part in relative.parts
        ):
            continue
        key = relative.as_posix()
        files.append(
            SiteFile(
                key,
                path,
                content_type(path),
                cache_control(key),
                hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest(),
            )
        )
    return files


def _existing(s3: Any, bucket: str) -> dict[str, str]:
    """Key -> ETag (without quotes) of every current object in the bucket."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = str(item.get("ETag", "")).strip('"')
    return found


def publish(target: Target, outputs: Mapping[str, OutputValue], source: Path) -> PublishReport:
    """Upload `source` to the stack's site bucket; remove what is gone; invalidate on AWS."""
    if "s3_bucket_name" not in outputs:
        raise SiteNotDeployed(
            f"no site bucket is deployed on {target.label}",
            "deploy the stack first: `chatops deploy"
            + (" --local" if target.is_local else "")
            + "`",
        )
    bucket = str(outputs["s3_bucket_name"].value)
    region = str(outputs["aws_region"].value) if "aws_region" in outputs else DEFAULT_REGION
    s3 = target.client("s3", region)
    files = site_files(source)
    existing = _existing(s3, bucket)
    uploaded, unchanged = [], 0
    for item in files:
        if existing.get(item.key) == item.md5:
            unchanged += 1
            continue
        s3.put_object(
            Bucket=bucket,
            Key=item.key,
            Body=item.path.read_bytes(),
            ContentType=item.content_type,
            CacheControl=item.cache_control,
        )
        uploaded.append(item.key)
    wanted = {item.key for item in files}
    deleted = sorted(key for key in existing if key not in wanted)
    for start in range(0, len(deleted), 1000):
        s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in deleted[start : start + 1000]]},
        )
    invalidation = None
    distribution = outputs.get("cloudfront_distribution_id")
    if (uploaded or deleted) and not target.is_local and distribution is not None:
        answer = target.client("cloudfront", "us-east-1").create_invalidation(
            DistributionId=str(distribution.value),
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/*"]},
                "CallerReference": f"chatops-{time.time():.6f}",
            },
        )
        invalidation = str(answer["Invalidation"]["Id"])
    return PublishReport(bucket, source, uploaded, unchanged, deleted, invalidation)


def publish_site(stack: Any, source: Path | None = None) -> PublishReport:
    """Publish `source` (default: the checkout's app/web) to the deployed stack (a `Stack`)."""
    stack.target.check_local_state()
    return publish(stack.target, stack.outputs(), source or web_dir(stack.target.project))
