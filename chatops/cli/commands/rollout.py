from __future__ import annotations

import time
from typing import Annotated

import typer

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import LiveLine, console, print_json
from chatops.traffic import RolloutEvent, parse_colour, parse_steps, rollout, rollout_steps


class RolloutView(LiveLine):
    """The live rollout line (step, weights, bake time left, health, alarms); steps,
    rollbacks and the end are printed as they happen."""

    def __init__(self) -> None:
        super().__init__(console, quiet_without_terminal=True)

    def __call__(self, event: RolloutEvent) -> None:
        if event.kind == "tick":
            health = event.health
            healthy = f"{health.healthy}/{health.targets} healthy" if health else "?"
            alarms = "alarms: " + (", ".join(event.firing) if event.firing else "none firing")
            self.show(
                f"step {event.step}/{event.steps}  {event.weights}  "
                f"bake {event.remaining:4.0f}s left  {healthy}  {alarms}"
            )
            return
        if event.kind == "step":
            message = f"Step {event.step}/{event.steps}: shifted to {event.weights}"
        elif event.kind == "rollback":
            message = f"[bold red]Rolling back[/] ({event.reason}): now {event.weights}"
        else:
            message = f"[green]Rollout complete:[/] {event.weights}"
        console.print(message)


def rollout_command(
    to: Annotated[str, typer.Option("--to", help="The colour to move traffic to: blue or green.")],
    steps: Annotated[
        str, typer.Option("--steps", help="Percentages for the new colour, e.g. 10,50,100.")
    ] = "10,50,100",
    bake: Annotated[
        float, typer.Option("--bake", min=0, help="Seconds to watch each step before the next.")
    ] = 60,
    poll: Annotated[
        float, typer.Option("--poll", min=0.1, help="Seconds between health and alarm checks.")
    ] = 5,
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    force: Annotated[
        bool, typer.Option("--force", help="Start even with alarms firing or an unready colour.")
    ] = False,
    reason: options.Reason = None,
    json_output: options.Json = False,
) -> None:
    """Progressive shift with a bake time per step, and automatic rollback.

    During each bake it watches the stack's CloudWatch alarms and the target health
    of the receiving colour; any alarm or unhealthy target rolls everything back to
    the stable colour and exits 1 with the reason. Ctrl-C rolls back too. A
    successful rollout always ends with all traffic on the new colour.
    """
    colour = parse_colour(to)
    plan = rollout_steps(colour, parse_steps(steps))
    stack = open_stack(
        local=local, directory=directory, profile=profile, region=region, emulator="require"
    )
    stack.target.check_local_state()
    started = time.monotonic()
    with RolloutView() as view:
        final = rollout(
            stack.traffic(),
            colour,
            plan,
            bake=bake,
            poll=poll,
            force=force,
            reason=reason,
            observe=view,
        )
    if json_output:
        print_json(
            {"to": colour, "weights": final.as_dict(), "seconds": time.monotonic() - started}
        )
