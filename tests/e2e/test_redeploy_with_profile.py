"""A redeploy with a var file keeps what chatops changed live (README, "Traffic and
Terraform"): the outage a profile redeploy caused, replayed on a stack of its own.

Deploy with the default settings (both colours run one task), release to green (which
sets no count: green already runs one, yet records it), `shift 0 100`, `retire blue`,
then deploy again with the hackathon profile, which sets green (by then all the
traffic) to 0 tasks and blue to 1, and also changes the cache (one Valkey node) and the
network (no NAT): green keeps its task, blue stays retired, the chat still answers, the
deploy says which values of the profile lost and how to make them win, and the next
plan is clean. The stack has its own CHATOPS_HOME and emulator and is destroyed at the
end, so the session's stack (conftest.py) and the order of the modules do not matter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from chatops.emulator.manager import EmulatorManager
from tests.e2e.conftest import LocalStack, open_chat, run_cli
from tests.helpers import TERRAFORM_DIR

pytestmark = pytest.mark.e2e

PROFILE = str(TERRAFORM_DIR / "profiles" / "hackathon.tfvars")


def ok(stack: LocalStack, *args: str) -> tuple[str, str]:
    result = stack.cli(*args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout, result.stderr


def hello(stack: LocalStack) -> dict[str, Any]:
    async def first_frame() -> dict[str, Any]:
        connection, frame = await open_chat(stack.ws_url(edge=True), nickname="redeploy")
        await connection.close()
        return frame

    return asyncio.run(first_frame())


def desired_counts(stack: LocalStack) -> dict[str, int]:
    services = stack.client("ecs").describe_services(
        cluster=stack.outputs["ecs_cluster_name"],
        services=[stack.outputs["blue_service_name"], stack.outputs["green_service_name"]],
    )["services"]
    by_name = {s["serviceName"]: int(s["desiredCount"]) for s in services}
    return {c: by_name[stack.outputs[f"{c}_service_name"]] for c in ("blue", "green")}


@pytest.fixture(scope="module")
def retired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack after release to green, `shift 0 100` and `retire blue`."""
    home = tmp_path_factory.mktemp("redeploy")
    try:
        result = run_cli(home, "deploy", "--local", "--yes")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        outputs = json.loads(run_cli(home, "outputs", "--local", "--json").stdout)
        stack = LocalStack(home, result.stdout, outputs)
        ok(stack, "release", "--local", "--yes")
        ok(stack, "shift", "--local", "0", "100")
        ok(stack, "retire", "--local", "blue")
        assert desired_counts(stack) == {"blue": 0, "green": 1}
        yield stack
        destroy = run_cli(home, "destroy", "--local", "--yes", "--var-file", PROFILE)
        assert destroy.returncode == 0, destroy.stdout[-3000:] + destroy.stderr[-3000:]
    finally:
        EmulatorManager(home / "local").stop()


def test_a_redeploy_with_the_profile_keeps_green_serving(retired: LocalStack) -> None:
    _, stderr = ok(retired, "deploy", "--local", "--yes", "--var-file", PROFILE)

    assert desired_counts(retired) == {"blue": 0, "green": 1}
    assert "healthy" in [t["health"] for t in retired.tasks("green")]
    assert retired.tasks("blue") == []
    assert hello(retired)["colour"] == "green"
    warnings = " ".join(stderr.split())  # the console may wrap long lines
    assert (
        "hackathon.tfvars sets green_desired_count = 0; chatops' record (1, from release, "
        "scale or retire) wins; pass --var green_desired_count=0 to change it" in warnings
    )
    assert "hackathon.tfvars sets blue_desired_count = 1; chatops' record (0," in warnings


def test_then_a_plan_with_the_profile_is_clean(retired: LocalStack) -> None:
    result = retired.cli("plan", "--local", "--var-file", PROFILE)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "No changes." in result.stdout


def test_a_var_still_beats_the_record(retired: LocalStack) -> None:
    """Naming the variable on the command line wins, and becomes the record."""
    ok(
        retired,
        "deploy",
        "--local",
        "--yes",
        "--var-file",
        PROFILE,
        "--var",
        "blue_desired_count=1",
    )
    assert desired_counts(retired) == {"blue": 1, "green": 1}
    plan = retired.cli("plan", "--local", "--var-file", PROFILE)
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    assert "blue_desired_count" not in plan.stderr
