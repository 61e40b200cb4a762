"""Last: the stack's destroy (nothing of it left, in the emulator or running), the
emulator's stop, and the parallel acme-prod cycle's report."""

from __future__ import annotations

import json
from concurrent.futures import Future
from typing import Any

import pytest

from chatops.inventory import StackId, find_resources
from chatops.processes import alive
from tests.e2e.conftest import LocalStack, client_factory, state_resources

pytestmark = pytest.mark.e2e


def test_destroy_empties_versioned_buckets_and_removes_everything(stack: LocalStack) -> None:
    home, outputs = stack.home, stack.outputs
    s3 = client_factory(home)("s3")
    site, logs = outputs["s3_bucket_name"], outputs["alb_logs_bucket_name"]
    for bucket in (site, logs):
        for body in (b"v1", b"v2", b"v3"):
            s3.put_object(Bucket=bucket, Key="index.html", Body=body)
        s3.delete_object(Bucket=bucket, Key="index.html")
    s3.put_bucket_versioning(Bucket=logs, VersioningConfiguration={"Status": "Suspended"})
    running = stack.dataplane()["processes"]
    assert running and all(alive(p["pid"]) for p in running)

    result = stack.cli("destroy", "--local", "--yes")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"Emptied s3://{site} (" in result.stdout
    assert "Nothing of the stack is left." in result.stdout
    assert find_resources(client_factory(home), StackId("chatapp", "dev")) == {}
    assert state_resources(home) == 0
    # Nothing of the stack runs any more: tasks, Redis, ALB, edge (checked by pid).
    assert [p["pid"] for p in running if alive(p["pid"])] == []
    assert stack.dataplane()["processes"] == []


def test_local_stop_leaves_no_process(stack: LocalStack) -> None:
    supervisor = stack.dataplane()["supervisor_pid"]
    emulator = json.loads((stack.home / "local" / "emulator.json").read_text())["pid"]
    result = stack.cli("local", "stop")
    assert result.returncode == 0, result.stderr
    assert not alive(supervisor) and not alive(emulator)


def test_non_default_project_and_environment(other_stack: Future[dict[str, Any]]) -> None:
    report = other_stack.result(timeout=900)
    assert report["deploy"][0] == 0, report["deploy"][1]
    assert report["outputs"]["name_prefix"] == "acme-prod"
    assert report["outputs"]["ecs_cluster_name"] == "acme-prod-cluster"
    assert sum(len(v) for v in report["held"].values()) == 51  # with the origin secret
    assert all(
        name.startswith(("acme-prod", "/acme-prod", "/ecs/acme-prod"))
        or kind.startswith(("ec2:", "cloudfront:distribution"))
        for kind, names in report["held"].items()
        for name in names
    )
    assert report["plan"][0] == 0, report["plan"][1]
    assert report["destroy"][0] == 0, report["destroy"][1]
    assert report["left"] == {}
