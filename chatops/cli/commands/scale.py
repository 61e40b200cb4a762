from __future__ import annotations

from typing import Annotated

import typer

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import CapacityView, console, err_console, print_json
from chatops.traffic import parse_colour, parse_count, scale


def scale_command(
    colour: Annotated[str, typer.Argument(metavar="COLOUR", help="blue or green.")],
    count: Annotated[
        str, typer.Argument(metavar="N", help="Tasks the colour should run, 0 to 10.")
    ],
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    wait: Annotated[
        bool,
        typer.Option("--wait/--no-wait", help="Wait until the tasks run behind healthy targets."),
    ] = True,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait at most.")
    ] = 600,
    reason: options.Reason = None,
    json_output: options.Json = False,
) -> None:
    """Run N tasks of a colour, e.g. `chatops scale green 2`.

    Changes the ECS service's desired count directly (no terraform run) and records it
    for Terraform, so the next plan shows no changes. Scaling in drains: each removed
    task's target stops receiving new connections and its clients reconnect elsewhere.
    To take a colour out of service, use `chatops retire`.
    """
    chosen, wanted = parse_colour(colour), parse_count(count)
    stack = open_stack(
        local=local, directory=directory, profile=profile, region=region, emulator="require"
    )
    stack.target.check_local_state()
    control = stack.traffic(prefer_record=True)
    with CapacityView(err_console if json_output else console) as view:
        result = scale(
            control, chosen, wanted, wait=wait, timeout=timeout, reason=reason, observe=view
        )
    if json_output:
        print_json(
            {
                "colour": result.colour,
                "before": result.before,
                "after": result.after,
                "changed": result.changed,
                "seconds": round(result.seconds, 1),
            }
        )
        return
    if not result.changed:
        console.print(f"Unchanged: {chosen} already runs {wanted} task(s).")
    elif result.health is None:
        console.print(f"Scaling {chosen}: {result.before} -> {wanted} task(s) (not waiting).")
    else:
        console.print(
            f"Scaled {chosen}: {result.before} -> [bold]{wanted}[/] task(s) "
            f"in {result.seconds:.0f}s."
        )
