"""Benchmark: deploy the whole stack from an empty emulator, as a new user would.

Prints the seconds each phase took and the number of resources created. Target: the
deploy itself in <= 100 s on a 2-core machine (the AWS provider's fixed waits, ~60 s
for the ALB alone, put the floor near 80 s).

    python benchmarks/deploy_local.py [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def chatops(home: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "CHATOPS_HOME": str(home)}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "chatops", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    elapsed = time.monotonic() - started
    if result.returncode not in (0, 2):
        sys.exit(
            f"chatops {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack deployed")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="chatops-bench-"))

    start_s, _ = chatops(home, "local", "start")
    init_s, _ = chatops(home, "init", "--local")
    deploy_s, _ = chatops(home, "deploy", "--local", "--yes")
    state = json.loads((home / "local" / "terraform.tfstate").read_text())
    resources = sum(len(r["instances"]) for r in state["resources"] if r["mode"] == "managed")
    plan_s, plan = chatops(home, "plan", "--local")

    print(f"emulator start:          {start_s:6.1f} s")
    print(f"terraform init:          {init_s:6.1f} s")
    print(f"deploy (plan + apply):   {deploy_s:6.1f} s   {resources} resources created")
    print(f"plan after deploy:       {plan_s:6.1f} s   exit {plan.returncode} (0 = no changes)")
    print(
        f"first deploy, end to end:{start_s + init_s + deploy_s:6.1f} s   (target: deploy <= 100 s)"
    )
    if not args.keep:
        destroy_s, _ = chatops(home, "destroy", "--local", "--yes")
        print(f"destroy:                 {destroy_s:6.1f} s")
        chatops(home, "local", "stop")


if __name__ == "__main__":
    main()
