"""Paths and helpers shared by the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chatops.terraform.mirror import find_mirror

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = ROOT / "terraform"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The password of the suite's Redis server (the `redis_server` fixture).
REDIS_PASSWORD = "test-redis-auth-token"


def terraform_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if not Path(env.get("TF_CLI_CONFIG_FILE", "/")).is_file():
        env.pop("TF_CLI_CONFIG_FILE", None)
    env.update(TF_DATA_DIR=str(data_dir), TF_IN_AUTOMATION="1", **extra)
    return env


def tftest_on_emulator(endpoint: str, directory: Path, data_dir: Path) -> Any:
    """A tftest handle on `directory`, initialised offline, whose provider talks to `endpoint`."""
    import tftest

    env = terraform_env(
        data_dir,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="ap-northeast-2",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_S3_USE_PATH_STYLE="true",
    )
    tf = tftest.TerraformTest(str(directory), env=env)
    mirror = find_mirror()
    tf.setup(plugin_dir=str(mirror) if mirror else None, cleanup_on_exit=False)
    return tf


def create_network(client: Any) -> tuple[str, list[str], str]:
    """A VPC with one subnet in each of two zones and a security group (boto3 client: ec2)."""
    vpc = client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        client.create_subnet(
            VpcId=vpc, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=f"ap-northeast-2{zone}"
        )["Subnet"]["SubnetId"]
        for index, zone in enumerate("ab")
    ]
    group = client.create_security_group(GroupName="chat", Description="chat", VpcId=vpc)
    return vpc, subnets, group["GroupId"]


def terraform_init(data_dir: Path, directory: Path = TERRAFORM_DIR) -> dict[str, str]:
    """Initialise `directory` into `data_dir` (offline through the provider mirror)."""
    env = terraform_env(data_dir)
    args = ["terraform", "init", "-input=false", "-no-color"]
    mirror = find_mirror()
    if mirror is not None:
        args.append(f"-plugin-dir={mirror}")
    result = subprocess.run(args, cwd=directory, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return env


_LOCK_HOLDER = r"""
import fcntl, json, os, sys
state, info = sys.argv[1], json.loads(sys.argv[2])
info_path = os.path.join(os.path.dirname(state), "." + os.path.basename(state) + ".lock.info")
with open(info_path, "w") as f:
    json.dump(info, f)
fd = os.open(state, os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
sys.stdin.read()
"""


@contextmanager
def state_lock_held(state: Path, lock_id: str, who: str, created: str) -> Iterator[None]:
    """Another process holds Terraform's lock on a local state file, as a running apply does."""
    info = {
        "ID": lock_id,
        "Operation": "OperationTypeApply",
        "Info": "",
        "Who": who,
        "Version": "1.11.4",
        "Created": created,
        "Path": str(state),
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", _LOCK_HOLDER, str(state), json.dumps(info)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        (state.parent / f".{state.name}.lock.info").unlink(missing_ok=True)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """`condition()`'s first truthy value, polled every `every` s; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
