"""`chatops release --local` on the session's stack (conftest.py): a changed app/ goes to
green while blue keeps the old code, then rollout, retire, and a plan with no changes.

The change is made in a copy of the checkout (terraform/ and app/, with a new version
string in chatapp), released with `--dir` into the session's CHATOPS_HOME, so the real
checkout is never touched. Runs after test_local_stack.py and leaves the stack as the
modules after it expect: blue serving everything, both colours running (green the new
code).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from chatops.release import content_id, image_of
from tests.e2e.conftest import LocalStack, open_chat
from tests.helpers import ROOT

pytestmark = pytest.mark.e2e

CHANGED_VERSION = '__version__ = "0.1.0+e2e-release"'


@pytest.fixture(scope="module")
def changed_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout whose chatapp reports another package version."""
    copy = tmp_path_factory.mktemp("checkout")
    shutil.copytree(
        ROOT / "terraform",
        copy / "terraform",
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfplan", "*.auto.tfvars.json"),
    )
    shutil.copytree(
        ROOT / "app", copy / "app", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    init = copy / "app" / "chatapp" / "__init__.py"
    original = init.read_text()
    assert '__version__ = "' in original
    init.write_text(
        "\n".join(
            CHANGED_VERSION if line.startswith("__version__ =") else line
            for line in original.splitlines()
        )
        + "\n"
    )
    return copy


def ok(stack: LocalStack, *args: str) -> str:
    result = stack.cli(*args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def hello(url: str) -> dict[str, Any]:
    async def first_frame() -> dict[str, Any]:
        connection, frame = await open_chat(url, nickname="release")
        await connection.close()
        return frame

    return asyncio.run(first_frame())


def task_of(stack: LocalStack, colour: str) -> dict[str, Any]:
    tasks = [t for t in stack.tasks(colour) if t["health"] == "healthy"]
    assert len(tasks) == 1, stack.tasks(colour)
    return tasks[0]


def snapshot_run_by(pid: int) -> Path:
    """The code a task process runs: its PYTHONPATH (the data plane sets it)."""
    environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    paths = [item.split(b"=", 1)[1] for item in environment if item.startswith(b"PYTHONPATH=")]
    assert paths, f"task {pid} has no PYTHONPATH"
    return Path(paths[0].decode())


def test_release_refuses_the_serving_colour_and_a_rollout_in_progress(stack: LocalStack) -> None:
    ok(stack, "shift", "--local", "100", "0")
    serving = stack.cli("release", "--local", "--to", "blue", "--yes")
    assert serving.returncode == 2, serving.stderr
    assert "blue receives 100% of new connections" in serving.stderr
    assert "--force" in serving.stderr

    ok(stack, "shift", "--local", "90", "10")
    try:
        midway = stack.cli("release", "--local", "--yes")
        assert midway.returncode == 1 and "no colour is idle" in midway.stderr, midway.stderr
    finally:
        ok(stack, "shift", "--local", "100", "0")


def test_a_changed_app_goes_to_green_while_blue_keeps_the_old_code(
    stack: LocalStack, changed_checkout: Path
) -> None:
    images = stack.home / "local" / "images"
    before = json.loads(ok(stack, "status", "--local", "--json"))["colours"]
    old = before["blue"]["version"]
    assert (images / old).is_dir(), "deploy --local starts blue on a snapshot of app/"
    new = content_id(changed_checkout / "app")
    assert new != old

    out = ok(
        stack,
        "release", "--local", "--dir", str(changed_checkout / "terraform"),
        "--yes", "--reason", "e2e: a changed app/",
    )  # fmt: skip

    assert f"Released {new} to green" in out and "1 task(s) serving" in out
    assert "Next: chatops rollout --local --to green" in out
    weights = json.loads((stack.home / "local" / "weights.tfvars.json").read_text())
    assert weights["green_image"] == image_of(new)
    assert weights["blue_image"] == image_of(old)

    # Green, reached directly (it takes no traffic yet), runs and reports the new code.
    green = task_of(stack, "green")
    frame = hello(f"ws://{green['address']}/ws")
    assert (frame["colour"], frame["version"]) == ("green", new)
    assert snapshot_run_by(green["pid"]) == images / new
    assert CHANGED_VERSION in (images / new / "chatapp" / "__init__.py").read_text()
    # Blue, through the ALB, still the old one.
    frame = hello(stack.ws_url())
    assert (frame["colour"], frame["version"]) == ("blue", old)
    blue = task_of(stack, "blue")
    assert snapshot_run_by(blue["pid"]) == images / old
    assert CHANGED_VERSION not in (images / old / "chatapp" / "__init__.py").read_text()

    history = json.loads(ok(stack, "history", "--local", "--json"))
    assert history[-1]["action"] == "release" and history[-1]["colour"] == "green"
    assert history[-1]["after"] == {"version": new}
    assert history[-1]["reason"] == "e2e: a changed app/"


def test_after_rollout_and_retire_the_plan_is_clean(
    stack: LocalStack, changed_checkout: Path
) -> None:
    new = content_id(changed_checkout / "app")
    ok(stack, "rollout", "--local", "--to", "green", "--steps", "100", "--bake", "0")
    frame = hello(stack.ws_url(edge=True))
    assert (frame["colour"], frame["version"]) == ("green", new)

    ok(stack, "retire", "--local", "blue")
    plan = stack.cli("plan", "--local")
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    assert "No changes." in plan.stdout

    # A second release of the same content reuses its snapshot and changes nothing.
    again = ok(
        stack, "release", "--local", "--dir", str(changed_checkout / "terraform"),
        "--to", "green", "--force", "--yes",
    )  # fmt: skip
    assert "reused: same content" in again and f"green already runs {new}" in again


def test_blue_comes_back_for_the_modules_after_this_one(
    stack: LocalStack, changed_checkout: Path
) -> None:
    ok(stack, "scale", "--local", "blue", "1")
    ok(stack, "shift", "--local", "100", "0")
    assert hello(stack.ws_url())["colour"] == "blue"
    status = json.loads(ok(stack, "status", "--local", "--json"))
    assert status["colours"]["green"]["version"] == content_id(changed_checkout / "app")


def test_a_broken_release_trips_the_circuit_breaker_and_rolls_back(
    stack: LocalStack, changed_checkout: Path, tmp_path: Path
) -> None:
    """A version whose tasks exit at once: ECS's deployment circuit breaker (on in the ecs
    module, with rollback) fails the deployment after 3 failed tasks and puts the service
    back on the task definition that worked; the release reports it and exits 1."""
    broken = tmp_path / "broken"
    shutil.copytree(changed_checkout, broken)
    (broken / "app" / "chatapp" / "__main__.py").write_text(
        "import sys\n\nsys.exit('this version cannot start')\n"
    )
    working = content_id(changed_checkout / "app")
    result = stack.cli(
        "release", "--local", "--dir", str(broken / "terraform"), "--yes", "--timeout", "180"
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "circuit breaker" in result.stderr
    status = json.loads(ok(stack, "status", "--local", "--json"))
    green = status["colours"]["green"]
    assert green["version"] == working  # rolled back to what worked
    assert green["targets"]["healthy"] == 1 and status["weights"] == {"blue": 100, "green": 0}

    # Releasing the working version again puts the records and Terraform back in step.
    ok(stack, "release", "--local", "--dir", str(changed_checkout / "terraform"), "--yes")
    plan = stack.cli("plan", "--local")
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
