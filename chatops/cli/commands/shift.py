from __future__ import annotations

from typing import Annotated

import typer

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import console, print_json
from chatops.traffic import Weights


def shift(
    weights: Annotated[
        list[str],
        typer.Argument(
            metavar="BLUE GREEN",
            help="New share of connections for blue and for green: whole numbers summing to 100.",
            show_default=False,
        ),
    ],
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Shift even to a colour with no healthy targets or running tasks."
        ),
    ] = False,
    reason: options.Reason = None,
    json_output: options.Json = False,
) -> None:
    """Move new connections between blue and green, e.g. `chatops shift 90 10`.

    Changes the ALB listener's weights directly (no terraform run), reads them back,
    and records them for Terraform, so the next plan shows no changes and the next
    deploy keeps them. Open WebSockets stay where they are. Refuses to send traffic to
    a colour without healthy targets unless --force.
    """
    wanted = Weights.parse(weights)
    stack = open_stack(
        local=local, directory=directory, profile=profile, region=region, emulator="require"
    )
    stack.target.check_local_state()
    result = stack.traffic(prefer_record=True).shift(wanted, force=force, reason=reason)
    if json_output:
        print_json(
            {
                "before": result.before.as_dict(),
                "after": result.after.as_dict(),
                "changed": result.changed,
                "seconds": round(result.seconds, 3),
            }
        )
        return
    if result.changed:
        console.print(f"Shifted: {result.before}  ->  [bold]{result.after}[/]")
    else:
        console.print(f"Unchanged: already {result.after}")
