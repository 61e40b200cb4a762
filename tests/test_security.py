"""The security gate: checkov offline with documented skips, non-root containers, secrets."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tftest

from chatops.emulator.manager import EmulatorManager
from tests.helpers import ROOT, TERRAFORM_DIR, tftest_on_emulator

pytestmark = pytest.mark.terraform

SKIP = re.compile(r"#checkov:skip=(?P<check>[A-Z0-9_]+):(?P<reason>.*)$", re.M)
MAX_SKIPPED_CHECKS = 8


def checkov(directory: Path) -> dict[str, Any]:
    binary = Path(sys.executable).with_name("checkov")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        [
            str(binary),
            "-d",
            str(directory),
            "--framework",
            "terraform",
            "--skip-download",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.stdout.strip(), result.stderr
    report = json.loads(result.stdout)
    return dict(report[0] if isinstance(report, list) else report)


def skips() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(TERRAFORM_DIR.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        for match in SKIP.finditer(path.read_text()):
            found.append((str(path.relative_to(TERRAFORM_DIR)), match["check"], match["reason"]))
    return found


def test_checkov_passes_offline_with_no_failed_check() -> None:
    report = checkov(TERRAFORM_DIR)
    failed = [(c["check_id"], c["resource"]) for c in report["results"].get("failed_checks", [])]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 100


def test_skips_are_few_justified_and_documented() -> None:
    found = skips()
    checks = {check for _, check, _ in found}
    assert 0 < len(checks) <= MAX_SKIPPED_CHECKS, sorted(checks)
    architecture = (ROOT / "ARCHITECTURE.md").read_text()
    for path, check, reason in found:
        assert len(reason.split()) >= 6, f"{path}: {check} needs a real reason"
        assert f"`{check}`" in architecture, f"{check} ({path}) is not listed in ARCHITECTURE.md"


def test_checkov_catches_a_weakened_control(tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy, ignore=shutil.ignore_patterns(".terraform", "tests"))
    alb = copy / "modules" / "alb" / "main.tf"
    alb.write_text(
        alb.read_text().replace(
            "drop_invalid_header_fields = true", "drop_invalid_header_fields = false"
        )
    )
    failed = {c["check_id"] for c in checkov(copy)["results"].get("failed_checks", [])}
    assert "CKV_AWS_131" in failed


def test_the_secrets_test_lists_every_output() -> None:
    declared = set(
        re.findall(r'^output "([^"]+)"', (TERRAFORM_DIR / "outputs.tf").read_text(), re.M)
    )
    native = (TERRAFORM_DIR / "tests" / "secrets.tftest.hcl").read_text()
    listed = set(re.findall(r"output\.([a-z0-9_]+)", native))
    assert declared == listed


# --- containers never run as root -------------------------------------------------------


def root_users(definitions: list[dict[str, Any]]) -> list[str]:
    """Containers that run as root: no user, "root", or uid 0 (with or without a group)."""
    offenders = []
    for container in definitions:
        user = str(container.get("user") or "").strip()
        uid = user.split(":")[0]
        if not user or uid in ("root", "0"):
            offenders.append(f"{container.get('name')} (user {user or 'unset'})")
    return offenders


@pytest.mark.parametrize(
    ("definitions", "offenders"),
    [
        ([{"name": "app", "user": "1000:1000"}], []),
        ([{"name": "app", "user": "1337"}], []),
        ([{"name": "app"}], ["app (user unset)"]),
        ([{"name": "app", "user": ""}], ["app (user unset)"]),
        ([{"name": "app", "user": "root"}], ["app (user root)"]),
        ([{"name": "app", "user": "0"}], ["app (user 0)"]),
        ([{"name": "app", "user": "0:1000"}], ["app (user 0:1000)"]),
        ([{"name": "app", "user": "1000"}, {"name": "sidecar"}], ["sidecar (user unset)"]),
    ],
)
def test_root_detection(definitions, offenders) -> None:
    assert root_users(definitions) == offenders


@pytest.fixture(scope="module")
def ecs_module(session_emulator: EmulatorManager, tmp_path_factory) -> tftest.TerraformTest:
    # A copy, so that init leaves no lock file in the source tree.
    module = tmp_path_factory.mktemp("ecs-source") / "ecs"
    shutil.copytree(TERRAFORM_DIR / "modules" / "ecs", module)
    return tftest_on_emulator(
        session_emulator.require_running().endpoint, module, tmp_path_factory.mktemp("ecs-data")
    )


ECS_INPUTS = {
    "name_prefix": "chatapp-dev",
    "private_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    "security_group_ids": ["sg-0123456789abcdef0"],
    "target_group_arns": {
        "blue": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/b/1",
        "green": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/g/2",
    },
    "images": {"blue": "repo:blue", "green": "repo:green"},
    "desired_counts": {"blue": 1, "green": 1},
    "container_port": 8080,
    "execution_role_arn": "arn:aws:iam::123456789012:role/execution",
    "task_role_arn": "arn:aws:iam::123456789012:role/task",
    "secrets": {"REDIS_AUTH_TOKEN": "arn:aws:ssm:ap-northeast-2:123456789012:parameter/t"},
    "metrics_namespace": "chatapp-dev/chat",
}


@pytest.mark.parametrize("xray", [False, True])
def test_every_planned_container_runs_as_a_non_root_user(ecs_module, xray: bool) -> None:
    flag = "true" if xray else "false"
    plan = ecs_module.plan(output=True, tf_vars={**ECS_INPUTS, "enable_xray": flag})
    definitions = {
        address: json.loads(change["change"]["after"]["container_definitions"])
        for address, change in plan.resource_changes.items()
        if change["type"] == "aws_ecs_task_definition"
    }
    assert len(definitions) == 2
    for address, containers in definitions.items():
        assert len(containers) == (2 if xray else 1), address
        assert root_users(containers) == [], address
        for container in containers:
            assert container["readonlyRootFilesystem"] is True, address
            assert container["privileged"] is False, address


def test_a_root_container_user_is_refused(ecs_module) -> None:
    with pytest.raises(tftest.TerraformTestError, match="must name a non-root user"):
        ecs_module.plan(output=True, tf_vars={**ECS_INPUTS, "container_user": "0:0"})
