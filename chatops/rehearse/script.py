"""The demo script a rehearsal plays (DEMO_GUIDE.md), as steps, and its bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chatops.errors import UsageError
from chatops.traffic.weights import Colour, Weights, other

StepKind = Literal["shift", "rollback", "retire", "broken-rollout"]

# A rehearsal is load the user points at their own stack: bounded so a typo cannot
# turn it into a load test (or a bill).
MAX_USERS = 1000
MAX_ROOMS = 50
MAX_RATE = 60.0  # messages per user per minute
MAX_STEP_SECONDS = 600.0


@dataclass(frozen=True)
class Step:
    name: str
    kind: StepKind
    weights: Weights | None = None
    colour: Colour | None = None


@dataclass(frozen=True)
class Plan:
    users: int
    rooms: int
    rate: float  # messages per user per minute
    step_seconds: float
    steps: tuple[Step, ...]
    origin: Colour  # the colour that holds everything when the rehearsal starts
    history_every: float = 15.0  # seconds between a user's history fetches (HTTP)

    @property
    def to(self) -> Colour:
        return other(self.origin)


def split(origin: Colour, to_share: int) -> Weights:
    return Weights.all_to(origin) if to_share == 0 else _weights(origin, 100 - to_share, to_share)


def _weights(origin: Colour, origin_share: int, to_share: int) -> Weights:
    if origin == "blue":
        return Weights(blue=origin_share, green=to_share)
    return Weights(blue=to_share, green=origin_share)


def demo_steps(origin: Colour, *, rollback: bool = False, broken: bool = False) -> list[Step]:
    """90/10, 50/50, 10/90, 0/100 and retire the old colour; or the broken-release run.

    With `rollback`, a rollback to the old colour follows 10/90 (the demo's 3:15), then
    the release resumes. With `broken`, the new colour fails: an automatic rollout to it
    must roll itself back, and nothing is retired.
    """
    to = other(origin)
    if broken:
        return [Step(f"rollout to broken {to}", "broken-rollout", colour=to)]
    steps = [
        Step("90/10", "shift", split(origin, 10)),
        Step("50/50", "shift", split(origin, 50)),
        Step("10/90", "shift", split(origin, 90)),
    ]
    if rollback:
        steps += [Step(f"rollback to {origin}", "rollback", Weights.all_to(origin))]
    steps += [
        Step("0/100", "shift", Weights.all_to(to)),
        Step(f"retire {origin}", "retire", colour=origin),
    ]
    return steps


def check_bounds(users: int, rooms: int, rate: float, step_seconds: float) -> None:
    problems = []
    if not 1 <= users <= MAX_USERS:
        problems.append(f"--users must be from 1 to {MAX_USERS}")
    if not 1 <= rooms <= min(MAX_ROOMS, users):
        problems.append(f"--rooms must be from 1 to {min(MAX_ROOMS, users)}")
    if not 0 < rate <= MAX_RATE:
        problems.append(f"--rate must be above 0 and at most {MAX_RATE:g} messages a minute")
    if not 1 <= step_seconds <= MAX_STEP_SECONDS:
        problems.append(f"--step-seconds must be from 1 to {MAX_STEP_SECONDS:g}")
    if problems:
        raise UsageError(
            "; ".join(problems), "for example: chatops rehearse --users 200 --step-seconds 30"
        )
