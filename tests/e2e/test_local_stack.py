"""The whole stack, end to end, on the embedded emulator, driven through the CLI.

The session's one deployment (`stack`, see conftest.py), in order: deploy, inspect,
plan, traffic commands, refused and declined destroys. The destroy itself, and the
parallel acme-prod cycle's report, are checked last (test_zz_destroy.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chatops.cli import ui
from chatops.cli.main import app
from chatops.inventory import StackId, find_resources
from chatops.project import STATE_DIR_ENV
from tests.e2e.conftest import (
    LocalStack,
    client_factory,
    run_cli,
    set_traffic_action,
    state_resources,
    traffic_action,
)
from tests.helpers import state_lock_held

pytestmark = pytest.mark.e2e
REGION = "ap-northeast-2"


def chatops(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(home, *args)


@pytest.fixture(scope="module")
def home(stack: LocalStack) -> Path:
    return stack.home


@pytest.fixture(scope="module")
def deployment(stack: LocalStack) -> dict[str, Any]:
    return {"stdout": stack.deploy_stdout, "outputs": stack.outputs}


def test_deploy_creates_every_resource(home: Path, deployment: dict[str, Any]) -> None:
    assert "Deployed" in deployment["stdout"] and "ALB (edge-only, 403):" in deployment["stdout"]
    # It ends with the local URLs, serving.
    assert deployment["stdout"].rstrip().splitlines()[-1].split()[:4] == [
        "Local",
        "chat",
        "(open",
        "this):",
    ]
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
        "ssm:parameter": 3,  # the Redis token, the session secret, the origin secret
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
    """Real tasks, registered as (127.0.0.1, port) and healthy by real checks."""
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
        assert [t["Target"]["Id"] for t in health["TargetHealthDescriptions"]] == ["127.0.0.1"]
    weights = {
        group["TargetGroupArn"]: group["Weight"]
        for group in traffic_action(elbv2, outputs)["ForwardConfig"]["TargetGroups"]
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


def test_a_capacity_provider_change_updates_the_services_in_place(
    home: Path, deployment: dict[str, Any]
) -> None:
    """The real provider's plan: with force_new_deployment the services are updated, not
    replaced (both colours would go down at once)."""
    result = chatops(home, "plan", "--local", "--var", "capacity_provider=FARGATE_SPOT", "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    actions = {r["address"]: r["action"] for r in json.loads(result.stdout)["resources"]}
    services = {address: kind for address, kind in actions.items() if "aws_ecs_service." in address}
    assert services == {
        'module.ecs.aws_ecs_service.this["blue"]': "update",
        'module.ecs.aws_ecs_service.this["green"]': "update",
    }


def listener_weights(home: Path, outputs: dict[str, Any]) -> dict[str, int]:
    groups = traffic_action(client_factory(home)("elbv2"), outputs)["ForwardConfig"]["TargetGroups"]
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
        image, version = status["colours"][colour]["image"], status["colours"][colour]["version"]
        assert image == f"localhost/chatapp:{version}"  # deploy --local: a snapshot of app/
    assert status["colours"]["blue"]["version"] == status["colours"]["green"]["version"]
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
    set_traffic_action(
        client_factory(home)("elbv2"),
        outputs,
        {
            "TargetGroups": [
                {"TargetGroupArn": outputs["blue_target_group_arn"], "Weight": 70},
                {"TargetGroupArn": outputs["green_target_group_arn"], "Weight": 30},
            ],
            # A weight change in the console keeps the stickiness setting.
            "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 3600},
        },
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
    assert status["stack_resources"] == 51  # with the origin secret parameter
    assert status["state_resources"] == state_resources(home)
    dataplane = status["dataplane"]
    assert dataplane["supervisor_pid"]
    roles = sorted((p["role"], p["colour"]) for p in dataplane["processes"])
    assert roles == [
        ("alb", None),
        ("edge", None),
        ("redis", None),
        ("redis-gate", None),  # one per service: the tasks reach Redis through it
        ("redis-gate", None),
        ("task", "blue"),
        ("task", "green"),
    ]
    assert all(p["alive"] and p["address"].startswith("127.0.0.1:") for p in dataplane["processes"])
    assert {p["health"] for p in dataplane["processes"] if p["role"] == "task"} == {"healthy"}
    # The ALB as the internet reaches it, as CloudFront does, and the edge.
    assert sorted(name.split(":")[0] for name in dataplane["urls"]) == ["alb", "alb-origin", "chat"]


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
