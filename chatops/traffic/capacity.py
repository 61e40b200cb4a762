"""`chatops scale` and `chatops retire`: how many tasks a colour runs.

Desired counts change through the ECS API (seconds, no Terraform run) and are recorded
for Terraform like the weights, so the next plan shows no changes. Retiring a colour
is scaling it to 0 once nothing sends it new connections: ECS deregisters its targets,
each task sees its target draining and moves its clients to the other colour (close
1012, reconnect, resume), and the tasks stop once the deregistration delay has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from chatops.errors import ChatopsError, UsageError
from chatops.traffic.control import TrafficControl
from chatops.traffic.health import ColourHealth, UnhealthyColour
from chatops.traffic.records import record_live_variables
from chatops.traffic.weights import Colour, other

# The ecs module's validation of desired counts.
MAX_TASKS = 10
# The tag a colour's image has until a first release (terraform/main.tf).
UNRELEASED = "unreleased"


class DrainIncomplete(ChatopsError):
    pass


def parse_count(value: str) -> int:
    text = value.strip()
    if not text.isdigit() or not 0 <= int(text) <= MAX_TASKS:
        raise UsageError(
            f"a colour runs a whole number of tasks from 0 to {MAX_TASKS}; got {value!r}",
            "for example: chatops scale green 2",
        )
    return int(text)


@dataclass(frozen=True)
class ScaleResult:
    colour: Colour
    before: int
    after: int
    health: ColourHealth | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class CapacityEvent:
    """One look at a colour while its tasks start or drain."""

    colour: Colour
    wanted: int
    elapsed: float
    health: ColourHealth


def set_desired_count(
    control: TrafficControl,
    colour: Colour,
    count: int,
    *,
    action: str = "scale",
    reason: str | None = None,
) -> ScaleResult:
    ecs = control.clients("ecs")
    cluster, service = control.endpoints.cluster, control.endpoints.services[colour]
    found = ecs.describe_services(cluster=cluster, services=[service])["services"]
    if not found:
        raise ChatopsError(
            f"the {colour} service {service} does not exist",
            "deploy the stack first with `chatops deploy`",
        )
    before = int(found[0].get("desiredCount", 0))
    if count > 0 and control.colour_health(colour, with_connections=False).version == UNRELEASED:
        raise ChatopsError(
            f"{colour} has no released version yet: its tasks would pull an image that does "
            "not exist",
            f"release one first: chatops release --to {colour}",
        )
    if before != count:
        ecs.update_service(cluster=cluster, service=service, desiredCount=count)
    record_live_variables(control.weights_path, **{f"{colour}_desired_count": count})
    if before != count:
        control.history.record(
            action, {"tasks": before}, {"tasks": count}, colour=colour, reason=reason
        )
    return ScaleResult(colour=colour, before=before, after=count)


def settled(health: ColourHealth, wanted: int) -> bool:
    """The colour runs `wanted` tasks behind `wanted` healthy targets (none left at 0)."""
    if wanted == 0:
        return health.running == 0 and health.pending == 0 and health.targets == 0
    return health.running == wanted and health.healthy == wanted and health.targets == wanted


def wait_for(
    control: TrafficControl,
    colour: Colour,
    wanted: int,
    *,
    timeout: float,
    poll: float = 2.0,
    observe: Callable[[CapacityEvent], None] = lambda event: None,
    sleep: Callable[[float], None] = time.sleep,
) -> ColourHealth:
    started = time.monotonic()
    while True:
        health = control.colour_health(colour)
        elapsed = time.monotonic() - started
        observe(CapacityEvent(colour, wanted, elapsed, health))
        if settled(health, wanted):
            return health
        if elapsed >= timeout:
            raise DrainIncomplete(
                f"{colour} did not settle at {wanted} task(s) within {timeout:.0f} s: "
                f"{health.running} running, {health.healthy} healthy, "
                f"{health.draining} draining",
                "follow it with `chatops status`; the change itself is made and recorded",
            )
        sleep(min(poll, max(0.0, timeout - elapsed)))


def scale(
    control: TrafficControl,
    colour: Colour,
    count: int,
    *,
    wait: bool = True,
    timeout: float = 600.0,
    poll: float = 2.0,
    reason: str | None = None,
    observe: Callable[[CapacityEvent], None] = lambda event: None,
    sleep: Callable[[float], None] = time.sleep,
) -> ScaleResult:
    started = time.monotonic()
    result = set_desired_count(control, colour, count, reason=reason)
    health = (
        wait_for(control, colour, count, timeout=timeout, poll=poll, observe=observe, sleep=sleep)
        if wait
        else None
    )
    return ScaleResult(colour, result.before, count, health, time.monotonic() - started)


def retire(
    control: TrafficControl,
    colour: Colour,
    *,
    force: bool = False,
    wait: bool = True,
    timeout: float = 600.0,
    poll: float = 2.0,
    reason: str | None = None,
    observe: Callable[[CapacityEvent], None] = lambda event: None,
    sleep: Callable[[float], None] = time.sleep,
) -> ScaleResult:
    """Scale `colour` to 0 once it receives no new connections, and watch it drain."""
    started = time.monotonic()
    weight = control.live_weights().of(colour)
    if weight > 0 and not force:
        raise UsageError(
            f"{colour} still receives {weight}% of new connections; retiring it now would "
            "send them to tasks that are stopping",
            f"move its traffic first (`chatops rollout --to {other(colour)}`), or pass --force",
        )
    if not force:
        try:
            control.require_ready([other(colour)])
        except UnhealthyColour as error:
            raise UnhealthyColour(
                f"retiring {colour} would leave nothing to serve: {error.message}",
                "make the other colour healthy first, or pass --force",
            ) from None
    # Pinned clients would follow their cookie back to the stopping colour.
    control.release_stickiness(reason=f"retiring {colour}")
    result = set_desired_count(control, colour, 0, action="retire", reason=reason)
    health = (
        wait_for(control, colour, 0, timeout=timeout, poll=poll, observe=observe, sleep=sleep)
        if wait
        else None
    )
    return ScaleResult(colour, result.before, 0, health, time.monotonic() - started)
