"""Benchmark: the whole demo script on a fresh local stack with 500 simulated users.

Deploys the stack on the embedded AWS (its own chatops home), runs `chatops rehearse`
with the default script (90/10, 50/50, 10/90, 0/100, retire the old colour), then a
broken-release rehearsal (`--break`), destroys the stack, and prints the figures beside
the goals:

- 0 lost, 0 duplicates shown, 0 unexpected disconnects during the weight shifts;
- every user of the retired colour reconnected and resumed before its tasks stopped;
- reconnect p99 <= 2 s, end-to-end latency p99 <= 250 ms;
- the broken release rolled back within one alarm period (60 s) + 10 s of the fault.

    python benchmarks/rehearse.py [--users 500] [--step-seconds 30] [--keep] [--json]
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ALARM_PERIOD = 60.0


def chatops(home: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "CHATOPS_HOME": str(home)}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "chatops", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    return time.monotonic() - started, result


def rehearse(home: Path, users: int, step_seconds: float, *extra: str) -> dict[str, Any]:
    seconds, result = chatops(
        home,
        "rehearse",
        "--local",
        "--users",
        str(users),
        "--step-seconds",
        str(step_seconds),
        "--json",
        *extra,
    )
    if not result.stdout.strip():
        raise SystemExit(f"rehearse failed: {result.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(result.stdout)
    report["wall_seconds"] = round(seconds, 1)
    report["exit_code"] = result.returncode
    return report


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--step-seconds", type=float, default=30.0)
    parser.add_argument("--keep", action="store_true", help="leave the stack deployed")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="chatops-rehearse-bench-"))
    print(f"chatops home: {home}", file=sys.stderr)
    deployed, result = chatops(home, "deploy", "--local", "--yes")
    if result.returncode != 0:
        print(result.stdout[-2000:] + result.stderr[-2000:], file=sys.stderr)
        return 1
    print(f"deployed in {deployed:.0f} s; rehearsing with {args.users} users", file=sys.stderr)
    try:
        release = rehearse(home, args.users, args.step_seconds, "--rooms", str(args.rooms))
        broken_colour = "blue" if release["steps"][-1]["connections"].get("green") else "green"
        broken = rehearse(
            home,
            args.users,
            args.step_seconds,
            "--rooms",
            str(args.rooms),
            "--break",
            broken_colour,
        )
    finally:
        if not args.keep:
            chatops(home, "destroy", "--local", "--yes")
            chatops(home, "local", "stop")

    total = release["total"]
    shifts = [s for s in release["steps"] if "/" in s["name"]]
    retired = next((o for o in release["outcomes"] if o["step"].startswith("retire")), {})
    rollback = next((o for o in broken["outcomes"]), {})
    reconnect_p99 = (total["reconnect_ms"]["p99"] or 0) / 1000
    latency_p99 = (total["latency_ms"]["p99"] or 0) / 1000
    rolled_back_after = rollback.get("seconds_after_fault")
    rows = [
        ("lost (acknowledged, not shown to a member)", total["lost"], "0", total["lost"] == 0),
        ("duplicates shown", total["duplicates_shown"], "0", total["duplicates_shown"] == 0),
        (
            "unexpected disconnects during the shifts",
            sum(s["unexpected_disconnects"] for s in shifts),
            "0",
            all(s["unexpected_disconnects"] == 0 for s in shifts),
        ),
        (
            "users of the retired colour resumed before its tasks stopped",
            f"{retired.get('resumed_before_stop')}/{retired.get('users_on_colour')}",
            "all",
            retired.get("failed") is False,
        ),
        ("reconnect p99 (s)", f"{reconnect_p99:.2f}", "<= 2", reconnect_p99 <= 2.0),
        ("end-to-end latency p99 (s)", f"{latency_p99:.3f}", "<= 0.25", latency_p99 <= 0.25),
        (
            "broken release rolled back after the fault (s)",
            rolled_back_after,
            f"<= {ALARM_PERIOD + 10:.0f}",
            rolled_back_after is not None and rolled_back_after <= ALARM_PERIOD + 10,
        ),
    ]
    figures = {
        "users": args.users,
        "deploy_seconds": round(deployed, 1),
        "messages_sent": total["sent"],
        "messages_acknowledged": total["acknowledged"],
        "deliveries": total["delivered"],
        "latency_ms": total["latency_ms"],
        "reconnect_ms": total["reconnect_ms"],
        "release_run_seconds": release["seconds"],
        "broken_run_seconds": broken["seconds"],
        "rollback_reason": rollback.get("reason"),
        "goals": {
            name: {"measured": value, "goal": goal, "met": ok} for name, value, goal, ok in rows
        },
        "reports": [release["report"], broken["report"]],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"\n{args.users} users, {args.rooms} rooms, {args.step_seconds:g} s steps: "
        f"{total['sent']} messages sent, {total['acknowledged']} acknowledged, "
        f"{total['delivered']} shown; latency p50 {total['latency_ms']['p50']} ms; "
        f"reconnect p50 {total['reconnect_ms']['p50']} ms"
    )
    width = max(len(name) for name, *_ in rows)
    print(f"\n{'':<{width}}  {'measured':>10}  {'goal':>8}")
    for name, value, goal, ok in rows:
        print(f"{name:<{width}}  {value!s:>10}  {goal:>8}  {verdict(ok)}")
    print("\nPer step (release run):")
    for step in release["steps"]:
        print(
            f"  {step['name']:<14} users b/g {step['connections'].get('blue', 0):>3}/"
            f"{step['connections'].get('green', 0):<3}  sent {step['sent']:>5}  lost "
            f"{step['lost']}  drops {step['unexpected_disconnects']}  reconnect p99 "
            f"{step['reconnect_ms']['p99']} ms  latency p99 {step['latency_ms']['p99']} ms"
        )
    print(f"\nRollback: {rollback.get('reason')}")
    print(f"Reports: {release['report']} {broken['report']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
