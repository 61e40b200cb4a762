"""The whole stack, end to end, on the embedded emulator, driven through the CLI.

One deployment is shared by the module's tests, in order: deploy, inspect, plan,
refused and declined destroys, destroy. A second stack with a non-default project and
environment runs its own deploy/plan/destroy cycle in parallel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from chatops.cli import ui
from chatops.cli.main import app
from chatops.emulator.manager import EmulatorManager
from chatops.inventory import StackId, find_resources
from chatops.project import STATE_DIR_ENV
from tests.helpers import ROOT, state_lock_held

pytestmark = pytest.mark.e2e
REGION = "ap-northeast-2"


def chatops(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, with its own state directory."""
    env = {**os.environ, STATE_DIR_ENV: str(home)}
    return subprocess.run(
        [sys.executable, "-m", "chatops", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )


def client_factory(home: Path, region: str = REGION) -> Callable[[str], Any]:
    emulator = EmulatorManager(home / "local").require_running()
    return lambda service: boto3.client(
        service,
        endpoint_url=emulator.endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def state_resources(home: Path) -> int:
    state = json.loads((home / "local" / "terraform.tfstate").read_text())
    return sum(len(r["instances"]) for r in state["resources"] if r["mode"] == "managed")


def other_stack_lifecycle(home: Path, var_file: Path) -> dict[str, Any]:
    """Deploy, plan and destroy a stack named acme-prod; report what happened."""
    report: dict[str, Any] = {}
    deploy = chatops(home, "deploy", "--local", "--yes", "--var-file", str(var_file))
    report["deploy"] = (deploy.returncode, deploy.stderr[-2000:])
    if deploy.returncode != 0:
        return report
    outputs = json.loads(chatops(home, "outputs", "--local", "--json").stdout)
    report["outputs"] = outputs
    client = client_factory(home, outputs["aws_region"])
    report["held"] = find_resources(client, StackId("acme", "prod"))
    plan = chatops(home, "plan", "--local", "--var-file", str(var_file))
    report["plan"] = (plan.returncode, plan.stdout[-2000:])
    destroy = chatops(home, "destroy", "--local", "--yes", "--var-file", str(var_file))
    report["destroy"] = (destroy.returncode, destroy.stdout[-2000:] + destroy.stderr[-2000:])
    report["left"] = find_resources(client, StackId("acme", "prod"))
    return report


@pytest.fixture(scope="module")
def other_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future[dict[str, Any]]]:
    home = tmp_path_factory.mktemp("acme-prod")
    var_file = home / "acme.tfvars"
    var_file.write_text('project_name = "acme"\nenvironment  = "prod"\n')
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(other_stack_lifecycle, home, var_file)
        yield future
        future.result(timeout=900)
    EmulatorManager(home / "local").stop()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("chatapp-dev")
    yield path
    EmulatorManager(path / "local").stop()


@pytest.fixture(scope="module")
def deployment(home: Path, other_stack: Future[dict[str, Any]]) -> dict[str, Any]:
    result = chatops(home, "deploy", "--local", "--yes")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outputs = json.loads(chatops(home, "outputs", "--local", "--json").stdout)
    return {"stdout": result.stdout, "outputs": outputs}


def test_deploy_creates_every_resource(home: Path, deployment: dict[str, Any]) -> None:
    assert "Deployed" in deployment["stdout"] and "Chat (ALB):" in deployment["stdout"]
    held = find_resources(client_factory(home), StackId("chatapp", "dev"))
    counts = {kind: len(names) for kind, names in held.items()}
    assert counts == {
        "cloudfront:distribution": 1,
        "cloudfront:origin-access-control": 1,
        "cloudwatch:alarm": 8,
        "cloudwatch:dashboard": 1,
        "dynamodb:table": 3,
        "ec2:elastic-ip": 1,
        "ec2:internet-gateway": 1,
        "ec2:nat-gateway": 1,
        "ec2:route-table": 2,
        "ec2:security-group": 3,
        "ec2:subnet": 4,
        "ec2:vpc": 1,
        "ec2:vpc-endpoint": 2,
        "ecr:repository": 1,
        "ecs:cluster": 1,
        "ecs:service": 2,
        "ecs:task-definition": 2,
        "elasticache:cache-cluster": 2,
        "elasticache:replication-group": 1,
        "elasticache:subnet-group": 1,
        "elbv2:load-balancer": 1,
        "elbv2:target-group": 2,
        "iam:role": 2,
        "logs:log-group": 1,
        "s3:bucket": 2,
        "sns:topic": 1,
        "ssm:parameter": 2,
    }
    assert state_resources(home) >= 70


def test_deployed_tasks_get_the_redis_token_only_as_a_secret(
    home: Path, deployment: dict[str, Any]
) -> None:
    client = client_factory(home)
    outputs = deployment["outputs"]
    parameter = client("ssm").get_parameter(
        Name=outputs["redis_auth_token_parameter"], WithDecryption=True
    )["Parameter"]
    token = parameter["Value"]
    assert len(token) == 64
    assert token not in json.dumps(outputs)
    ecs = client("ecs")
    for colour in ("blue", "green"):
        service = ecs.describe_services(
            cluster=outputs["ecs_cluster_name"], services=[outputs[f"{colour}_service_name"]]
        )["services"][0]
        definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
        containers = definition["taskDefinition"]["containerDefinitions"]
        assert token not in json.dumps(containers)
        app = next(c for c in containers if c["name"] == "app")
        assert {"name": "REDIS_AUTH_TOKEN", "valueFrom": parameter["ARN"]} in app["secrets"]
        assert all(c["user"].split(":")[0] not in ("", "0", "root") for c in containers)


def test_services_run_behind_healthy_targets(home: Path, deployment: dict[str, Any]) -> None:
    client = client_factory(home)
    outputs = deployment["outputs"]
    services = client("ecs").describe_services(
        cluster=outputs["ecs_cluster_name"],
        services=[outputs["blue_service_name"], outputs["green_service_name"]],
    )["services"]
    assert [(s["runningCount"], s["desiredCount"]) for s in services] == [(1, 1), (1, 1)]
    elbv2 = client("elbv2")
    for colour in ("blue", "green"):
        health = elbv2.describe_target_health(TargetGroupArn=outputs[f"{colour}_target_group_arn"])
        assert [t["TargetHealth"]["State"] for t in health["TargetHealthDescriptions"]] == [
            "healthy"
        ]
    listener = elbv2.describe_listeners(ListenerArns=[outputs["listener_arn"]])["Listeners"][0]
    weights = {
        group["TargetGroupArn"]: group["Weight"]
        for group in listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    }
    assert weights == {outputs["blue_target_group_arn"]: 100, outputs["green_target_group_arn"]: 0}


def test_redis_has_a_primary_and_a_replica_in_two_zones(
    home: Path, deployment: dict[str, Any]
) -> None:
    elasticache = client_factory(home)("elasticache")
    group = elasticache.describe_replication_groups()["ReplicationGroups"][0]
    zones = {
        elasticache.describe_cache_clusters(CacheClusterId=member)["CacheClusters"][0][
            "PreferredAvailabilityZone"
        ]
        for member in group["MemberClusters"]
    }
    assert len(group["MemberClusters"]) == 2 and len(zones) == 2
    assert deployment["outputs"]["redis_reader_endpoint"]


def test_plan_right_after_deploy_shows_no_changes(home: Path, deployment: dict[str, Any]) -> None:
    result = chatops(home, "plan", "--local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes." in result.stdout


def listener_weights(home: Path, outputs: dict[str, Any]) -> dict[str, int]:
    listener = client_factory(home)("elbv2").describe_listeners(
        ListenerArns=[outputs["listener_arn"]]
    )
    groups = listener["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    names = {outputs["blue_target_group_arn"]: "blue", outputs["green_target_group_arn"]: "green"}
    return {names[g["TargetGroupArn"]]: g["Weight"] for g in groups}


def traffic_status(home: Path) -> dict[str, Any]:
    result = chatops(home, "status", "--local", "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_status_after_deploy(home: Path, deployment: dict[str, Any]) -> None:
    status = traffic_status(home)
    assert status["weights"] == {"blue": 100, "green": 0}
    assert status["drift"] is False and status["stable"] == "blue"
    for colour in ("blue", "green"):
        assert status["colours"][colour]["targets"]["healthy"] == 1
        assert status["colours"][colour]["tasks"] == {"running": 1, "desired": 1, "pending": 0}
        assert status["colours"][colour]["image"].endswith(f"chatapp-dev:{colour}")
    assert len(status["alarms"]) == 8 and status["alarms_firing"] == []


def test_shift_moves_traffic_and_the_next_plan_shows_no_changes(
    home: Path, deployment: dict[str, Any]
) -> None:
    result = chatops(home, "shift", "--local", "50", "50")
    assert result.returncode == 0, result.stderr
    assert "blue 100% / green 0%  ->  blue 50% / green 50%" in result.stdout
    assert listener_weights(home, deployment["outputs"]) == {"blue": 50, "green": 50}
    plan = chatops(home, "plan", "--local")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "No changes." in plan.stdout
    status = traffic_status(home)
    assert status["weights"] == {"blue": 50, "green": 50} and status["drift"] is False


@pytest.mark.parametrize(
    "weights",
    [["60", "50"], ["-10", "110"], ["50.5", "49.5"], ["abc", "50"], ["50"], ["1", "2", "97"]],
)
def test_bad_shift_input_changes_nothing(
    home: Path, deployment: dict[str, Any], weights: list[str]
) -> None:
    result = chatops(home, "shift", "--local", *weights)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    assert listener_weights(home, deployment["outputs"]) == {"blue": 50, "green": 50}


def test_drift_is_reported_with_the_command_that_reconciles_it(
    home: Path, deployment: dict[str, Any]
) -> None:
    outputs = deployment["outputs"]
    client_factory(home)("elbv2").modify_listener(
        ListenerArn=outputs["listener_arn"],
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": outputs["blue_target_group_arn"], "Weight": 70},
                        {"TargetGroupArn": outputs["green_target_group_arn"], "Weight": 30},
                    ],
                    # A weight change in the console keeps the stickiness setting.
                    "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 3600},
                },
            }
        ],
    )
    status = traffic_status(home)
    assert status["weights"] == {"blue": 70, "green": 30}
    assert status["drift"] is True
    assert status["reconcile"] == "chatops shift --local 50 50"
    assert chatops(home, "shift", "--local", "50", "50").returncode == 0
    assert traffic_status(home)["drift"] is False


def test_rollback_works_while_another_process_holds_the_state_lock(
    home: Path, deployment: dict[str, Any]
) -> None:
    state = home / "local" / "terraform.tfstate"
    with state_lock_held(state, "deploy-in-progress", "dave@laptop", "2026-11-26T10:00:00Z"):
        blocked = chatops(home, "plan", "--local")
        result = chatops(home, "rollback", "--local")
    assert blocked.returncode == 1 and "deploy-in-progress" in blocked.stderr
    assert result.returncode == 0, result.stderr
    assert (
        "Rolled back to blue: listener weights blue 50% / green 50%  ->  blue 100% / green 0%"
        in result.stdout
    )
    assert listener_weights(home, deployment["outputs"]) == {"blue": 100, "green": 0}
    status = traffic_status(home)
    assert status["weights"] == {"blue": 100, "green": 0} and status["drift"] is False
    assert chatops(home, "plan", "--local").returncode == 0


def test_rollout_to_green_ends_with_all_traffic_on_green(
    home: Path, deployment: dict[str, Any]
) -> None:
    result = chatops(
        home,
        "rollout",
        "--local",
        "--to",
        "green",
        "--steps",
        "10,50",
        "--bake",
        "1",
        "--poll",
        "0.2",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Rollout complete: blue 0% / green 100%" in result.stdout
    status = traffic_status(home)
    assert status["weights"] == {"blue": 0, "green": 100} and status["stable"] == "green"
    assert "Nothing to roll back" in chatops(home, "rollback", "--local").stdout
    assert chatops(home, "plan", "--local").returncode == 0


def test_local_status_counts_the_stack(home: Path, deployment: dict[str, Any]) -> None:
    status = json.loads(chatops(home, "local", "status", "--json").stdout)
    assert status["running"] is True
    assert status["stack_resources"] == 50
    assert status["state_resources"] == state_resources(home)


def test_destroy_without_a_terminal_refuses_and_changes_nothing(
    home: Path, deployment: dict[str, Any]
) -> None:
    before = state_resources(home)
    result = chatops(home, "destroy", "--local")
    assert result.returncode == 1
    assert "no terminal" in result.stderr and "--yes" in result.stderr
    assert state_resources(home) == before


def test_destroy_declined_at_the_prompt_changes_nothing(
    home: Path, deployment: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = state_resources(home)
    monkeypatch.setenv(STATE_DIR_ENV, str(home))
    monkeypatch.setattr(ui, "stdin_is_interactive", lambda: True)
    result = CliRunner().invoke(app, ["destroy", "--local"], input="production\n")
    assert result.exit_code == 1
    assert "Type the environment name (dev)" in result.stdout
    assert "destroy cancelled" in result.stderr and "nothing was changed" in result.stderr
    assert state_resources(home) == before
    assert chatops(home, "plan", "--local").returncode == 0


def test_destroy_empties_versioned_buckets_and_removes_everything(
    home: Path, deployment: dict[str, Any]
) -> None:
    s3 = client_factory(home)("s3")
    outputs = deployment["outputs"]
    site, logs = outputs["s3_bucket_name"], outputs["alb_logs_bucket_name"]
    for bucket in (site, logs):
        for body in (b"v1", b"v2", b"v3"):
            s3.put_object(Bucket=bucket, Key="index.html", Body=body)
        s3.delete_object(Bucket=bucket, Key="index.html")
    s3.put_bucket_versioning(Bucket=logs, VersioningConfiguration={"Status": "Suspended"})

    result = chatops(home, "destroy", "--local", "--yes")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"Emptied s3://{site} (4 object versions and delete markers)" in result.stdout
    assert "Nothing of the stack is left." in result.stdout
    assert find_resources(client_factory(home), StackId("chatapp", "dev")) == {}
    assert state_resources(home) == 0


def test_non_default_project_and_environment(other_stack: Future[dict[str, Any]]) -> None:
    report = other_stack.result(timeout=900)
    assert report["deploy"][0] == 0, report["deploy"][1]
    assert report["outputs"]["name_prefix"] == "acme-prod"
    assert report["outputs"]["ecs_cluster_name"] == "acme-prod-cluster"
    assert sum(len(v) for v in report["held"].values()) == 50
    assert all(
        name.startswith(("acme-prod", "/acme-prod", "/ecs/acme-prod"))
        or kind.startswith(("ec2:", "cloudfront:distribution"))
        for kind, names in report["held"].items()
        for name in names
    )
    assert report["plan"][0] == 0, report["plan"][1]
    assert report["destroy"][0] == 0, report["destroy"][1]
    assert report["left"] == {}
