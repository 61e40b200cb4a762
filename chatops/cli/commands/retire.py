from __future__ import annotations

from typing import Annotated

import typer

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import CapacityView, console, err_console, print_json
from chatops.traffic import other, parse_colour, retire


def retire_command(
    colour: Annotated[str, typer.Argument(metavar="COLOUR", help="blue or green.")],
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Retire even while the colour has weight or the other colour is not ready.",
        ),
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Watch the drain until the tasks stop.")
    ] = True,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to watch at most.")
    ] = 600,
    reason: options.Reason = None,
    json_output: options.Json = False,
) -> None:
    """Take a colour out of service once its traffic has moved: scale it to 0.

    Refuses while the colour still has weight (unless --force). Its targets drain:
    each task notices, moves its clients to the other colour (they reconnect and
    resume), and stops after the deregistration delay. Shows connections left,
    targets draining and tasks stopping as it happens. Recorded for Terraform.
    """
    chosen = parse_colour(colour)
    stack = open_stack(
        local=local, directory=directory, profile=profile, region=region, emulator="require"
    )
    stack.target.check_local_state()
    control = stack.traffic(prefer_record=True)
    with CapacityView(err_console if json_output else console) as view:
        result = retire(
            control, chosen, force=force, wait=wait, timeout=timeout, reason=reason, observe=view
        )
    if json_output:
        print_json(
            {
                "colour": result.colour,
                "before": result.before,
                "after": 0,
                "seconds": round(result.seconds, 1),
                "drained": result.health is not None,
            }
        )
        return
    if result.health is None:
        console.print(f"Retiring {chosen}: scaled to 0; its clients are moving (not waiting).")
    else:
        console.print(
            f"Retired {chosen} in {result.seconds:.0f}s: no task, no target left; "
            f"{other(chosen)} serves everyone."
        )
