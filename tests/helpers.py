"""Paths and helpers shared by the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chatops.terraform.mirror import find_mirror

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = ROOT / "terraform"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def terraform_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if not Path(env.get("TF_CLI_CONFIG_FILE", "/")).is_file():
        env.pop("TF_CLI_CONFIG_FILE", None)
    env.update(TF_DATA_DIR=str(data_dir), TF_IN_AUTOMATION="1", **extra)
    return env


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
