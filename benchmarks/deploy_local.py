"""Benchmark: deploy the whole stack from an empty emulator, as a new user would.

Prints the seconds each phase took, the number of resources created, and how long after
the apply ended the chat was serving (the deploy command waits for the local edge and
ALB to serve before it returns). Targets on a 2-core machine: the deploy, data plane
included, in <= 100 s (the AWS provider's fixed waits, ~60 s for the ALB alone, put the
floor near 80 s), the chat serving within 5 s of the apply's end.

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


def timed_deploy(home: Path) -> tuple[float, float]:
    """Seconds the deploy took, and seconds from the apply's end to the command's end
    (when the local stack serves)."""
    env = {**os.environ, "CHATOPS_HOME": str(home)}
    started = time.monotonic()
    applied = None
    process = subprocess.Popen(
        [sys.executable, "-m", "chatops", "deploy", "--local", "--yes"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line)
        if line.startswith("Deployed ") and applied is None:
            applied = time.monotonic()
    process.wait()
    ended = time.monotonic()
    if process.returncode != 0 or applied is None:
        sys.exit("chatops deploy failed:\n" + "".join(output)[-3000:])
    return ended - started, ended - applied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack deployed")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="chatops-bench-"))

    start_s, _ = chatops(home, "local", "start")
    init_s, _ = chatops(home, "init", "--local")
    deploy_s, serving_s = timed_deploy(home)
    state = json.loads((home / "local" / "terraform.tfstate").read_text())
    resources = sum(len(r["instances"]) for r in state["resources"] if r["mode"] == "managed")
    plan_s, plan = chatops(home, "plan", "--local")

    print(f"emulator start:          {start_s:6.1f} s")
    print(f"terraform init:          {init_s:6.1f} s")
    print(f"deploy (plan + apply):   {deploy_s:6.1f} s   {resources} resources created")
    print(f"chat serving:            {serving_s:6.1f} s after the apply ended (target: <= 5 s)")
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
