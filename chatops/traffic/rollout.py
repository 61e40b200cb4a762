"""Progressive rollout: shift step by step, bake, and roll back by itself on trouble."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from chatops.errors import ChatopsError, UsageError
from chatops.traffic.control import TrafficControl
from chatops.traffic.health import ColourHealth, UnhealthyColour
from chatops.traffic.records import TrafficRecord
from chatops.traffic.weights import Colour, Weights, other


class RolloutFailed(ChatopsError):
    pass


@dataclass(frozen=True)
class RolloutEvent:
    kind: Literal["step", "tick", "rollback", "done"]
    step: int
    steps: int
    weights: Weights
    remaining: float = 0.0
    health: ColourHealth | None = None
    firing: tuple[str, ...] = ()
    reason: str = ""


def rollout_steps(to: Colour, percentages: Sequence[int]) -> list[Weights]:
    """Weights per step, always ending with everything on `to`."""
    cleaned = list(percentages)
    if not cleaned or any(not 1 <= p <= 100 for p in cleaned):
        raise UsageError(
            "rollout steps must be percentages from 1 to 100", "for example: --steps 10,50,100"
        )
    if any(b <= a for a, b in zip(cleaned, cleaned[1:], strict=False)):
        raise UsageError("rollout steps must increase", "for example: --steps 10,50,100")
    if cleaned[-1] != 100:
        cleaned.append(100)
    return [
        Weights(blue=100 - p, green=p) if to == "green" else Weights(blue=p, green=100 - p)
        for p in cleaned
    ]


def parse_steps(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(
            f"--steps takes comma-separated whole percentages; got {text!r}",
            "for example: --steps 10,50,100",
        ) from None


def rollout(
    control: TrafficControl,
    to: Colour,
    steps: Sequence[Weights],
    *,
    bake: float,
    poll: float = 5.0,
    force: bool = False,
    reason: str | None = None,
    observe: Callable[[RolloutEvent], None] = lambda event: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Weights:
    """Shift step by step; roll back on any alarm, unhealthy target or Ctrl-C."""
    firing = [a for a in control.alarms() if a.state == "ALARM"]
    if firing and not force:
        raise RolloutFailed(
            "not starting: alarms are already firing: " + ", ".join(a.name for a in firing),
            "fix what they report first, or pass --force",
        )
    start = control.live_weights()
    if start.holder() is not None and start.holder() != to:
        record = TrafficRecord.load(control.record_path)
        record.stable = other(to)
        record.save(control.record_path)

    def roll_back(why: str, index: int) -> None:
        _, result = control.rollback(reason=why, automatic=True)
        observe(RolloutEvent("rollback", index, len(steps), result.after, reason=why))

    for index, weights in enumerate(steps, start=1):
        try:
            control.shift(
                weights, force=force, reason=reason, action=f"rollout step {index}/{len(steps)}"
            )
            observe(RolloutEvent("step", index, len(steps), weights))
            deadline = time.monotonic() + bake
            while True:
                health = control.colour_health(to, with_connections=False)
                firing_now = tuple(a.name for a in control.alarms() if a.state == "ALARM")
                remaining = max(0.0, deadline - time.monotonic())
                observe(
                    RolloutEvent("tick", index, len(steps), weights, remaining, health, firing_now)
                )
                why = ""
                if firing_now:
                    why = "alarm in ALARM: " + ", ".join(firing_now)
                elif health.unhealthy or health.healthy == 0:
                    why = (
                        f"{to} has {health.healthy} healthy and {health.unhealthy} unhealthy "
                        "target(s)"
                    )
                if why:
                    roll_back(why, index)
                    raise RolloutFailed(
                        f"rollout to {to} stopped at step {index} of {len(steps)} ({weights}): "
                        f"{why}; traffic rolled back to {control.stable_colour()}",
                        "investigate with `chatops status` and the CloudWatch dashboard",
                    )
                if remaining <= 0:
                    break
                sleep(min(poll, remaining))
        except KeyboardInterrupt:
            roll_back("interrupted", index)
            raise RolloutFailed(
                f"rollout to {to} interrupted at step {index} of {len(steps)}; "
                f"traffic rolled back to {control.stable_colour()}",
                "run the rollout again when ready",
            ) from None
        except UnhealthyColour:
            if index > 1:
                roll_back(f"{to} stopped being ready", index)
            raise
    final = steps[-1]
    observe(RolloutEvent("done", len(steps), len(steps), final))
    return final
