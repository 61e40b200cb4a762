"""`chatops rehearse`: the demo script, played against the stack with simulated users.

- `script`: the steps (90/10, 50/50, 10/90, 0/100, retire; a rollback; a broken release)
  and the bounds a rehearsal stays within;
- `client`: one simulated user, behaving as the web client does;
- `ledger`: what every user sent, got and felt, and the figures drawn from it;
- `runner`: the run itself: users chatting while the steps move the traffic;
- `report`: JSON, and an HTML page with the timeline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatops.errors import ChatopsError
from chatops.local import serving_stack, set_fault
from chatops.processes import connection_gc
from chatops.rehearse import report
from chatops.rehearse.runner import Breaker, Progress, Rehearsal, Runner
from chatops.rehearse.script import Plan, check_bounds, demo_steps
from chatops.stack import Stack
from chatops.traffic.weights import Colour, other

# The share of requests a broken release answers with 500 (`--break`): all of them, as a
# release whose every request fails (its health check still passes).
BROKEN_SHARE = 100.0


@dataclass(frozen=True)
class Options:
    users: int = 200
    rooms: int = 10
    rate: float = 6.0  # messages per user per minute
    step_seconds: float = 30.0
    rollback: bool = False
    broken: Colour | None = None


@dataclass(frozen=True)
class Result:
    rehearsal: Rehearsal
    target: str
    report_path: Path

    def to_json(self) -> dict[str, Any]:
        return {**report.to_json(self.rehearsal, self.target), "report": str(self.report_path)}


def chat_url(stack: Stack, values: Mapping[str, Any]) -> str:
    """The stack's own WebSocket URL (never another one): the local edge, or CloudFront."""
    if stack.target.is_local:
        urls = serving_stack(stack.target, values)
        if urls.chat is None:
            raise ChatopsError(
                "the local stack has no edge to rehearse through",
                "deploy it with `chatops deploy --local`",
            )
        return urls.chat.replace("http://", "ws://", 1).rstrip("/") + "/ws"
    domain = values.get("cloudfront_domain_name")
    if not domain:
        raise ChatopsError(
            "the stack has no CloudFront domain in its outputs", "deploy it with `chatops deploy`"
        )
    return f"wss://{domain}/ws"


def local_breaker(stack: Stack, values: Mapping[str, Any]) -> Breaker:
    def breaker(colour: str, on: bool) -> None:
        set_fault(
            stack.target.project,
            colour,
            str(values[f"{colour}_target_group_arn"]),
            http_5xx_percent=BROKEN_SHARE if on else 0,
        )

    return breaker


def rehearse(
    stack: Stack,
    options: Options,
    *,
    observe: Callable[[Progress], None] = lambda progress: None,
    report_path: Path | None = None,
) -> Result:
    check_bounds(options.users, options.rooms, options.rate, options.step_seconds)
    outputs = stack.outputs()
    values = {name: output.value for name, output in outputs.items()}
    control = stack.traffic(outputs=outputs)
    origin = control.live_weights().holder()
    if origin is None:
        raise ChatopsError(
            f"a rehearsal starts with all traffic on one colour; the listener has "
            f"{control.live_weights()}",
            "finish or roll back the current rollout first (`chatops rollback`)",
        )
    if options.broken is not None and options.broken != other(origin):
        raise ChatopsError(
            f"--break {options.broken}: the colour to break is the one being released, "
            f"{other(origin)} ({origin} holds the traffic)",
            f"use --break {other(origin)}",
        )
    breaker = local_breaker(stack, values) if stack.target.is_local else None
    if options.broken is not None and breaker is None:
        raise ChatopsError(
            "--break needs the local stack: only the local ALB can fail a colour on purpose",
            "rehearse the broken release with --local",
        )
    plan = Plan(
        users=options.users,
        rooms=options.rooms,
        rate=options.rate,
        step_seconds=options.step_seconds,
        steps=tuple(
            demo_steps(origin, rollback=options.rollback, broken=options.broken is not None)
        ),
        origin=origin,
    )
    runner = Runner(plan, control, chat_url(stack, values), breaker=breaker, observe=observe)
    runner.prepare()
    with connection_gc():  # hundreds of users: no full collection every few seconds
        rehearsal = asyncio.run(runner.run())
    path = report_path or (
        stack.target.control_dir
        / "rehearsals"
        / time.strftime("rehearsal-%Y%m%d-%H%M%S.html", time.gmtime())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.to_html(rehearsal, stack.target.label))
    return Result(rehearsal, stack.target.label, path)


__all__ = ["Options", "Progress", "Result", "rehearse"]
