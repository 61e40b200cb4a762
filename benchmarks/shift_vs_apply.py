"""Benchmark: `chatops shift` against the usual way of changing ALB weights.

On the embedded emulator, in one run: deploy the stack, then time `chatops shift`
end to end (a new CLI process each time, as a user runs it) and a full
`terraform apply -var blue_weight=.. -var green_weight=..` of the whole stack, and
print both and the ratio. Targets: shift under 1.5 s, and at least 10x faster.

    python benchmarks/shift_vs_apply.py [--rounds 5] [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chatops.project import load_project
from chatops.targets import local_target
from chatops.terraform.runner import Terraform

ROOT = Path(__file__).resolve().parent.parent
SPLITS = [("50", "50"), ("90", "10")]


def chatops(home: Path, *args: str) -> float:
    env = {**os.environ, "CHATOPS_HOME": str(home)}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "chatops", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(
            f"chatops {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return elapsed


def terraform_apply(home: Path, blue: str, green: str) -> float:
    os.environ["CHATOPS_HOME"] = str(home)
    target, _ = local_target(load_project(), region=None, emulator="require")
    terraform = Terraform(target.terraform_settings())
    args = [
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        f"-state={target.state_path}",
        f"-var=blue_weight={blue}",
        f"-var=green_weight={green}",
    ]
    started = time.monotonic()
    terraform.run(args)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="shifts to time (default 5)")
    parser.add_argument("--keep", action="store_true", help="leave the stack deployed")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="chatops-bench-"))

    print("deploying the stack on the emulator...", flush=True)
    chatops(home, "deploy", "--local", "--yes")

    shifts = [chatops(home, "shift", "--local", *SPLITS[i % 2]) for i in range(args.rounds)]
    applies = [terraform_apply(home, *SPLITS[i % 2]) for i in range(2)]

    shift_s, apply_s = statistics.median(shifts), statistics.median(applies)
    print(
        f"chatops shift (end to end, {len(shifts)} runs): median {shift_s:.2f} s, "
        f"min {min(shifts):.2f} s, max {max(shifts):.2f} s   (target < 1.5 s)"
    )
    print(
        f"terraform apply -var weights ({len(applies)} runs): median {apply_s:.2f} s, "
        f"min {min(applies):.2f} s"
    )
    print(f"ratio: chatops shift is {apply_s / shift_s:.1f}x faster   (target >= 10x)")
    if not args.keep:
        chatops(home, "destroy", "--local", "--yes")
        chatops(home, "local", "stop")


if __name__ == "__main__":
    main()
