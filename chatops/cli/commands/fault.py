from __future__ import annotations

from typing import Annotated

import typer

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import console, print_json
from chatops.local import check_fault, set_fault
from chatops.traffic import parse_colour


def fault(
    colour: Annotated[str, typer.Argument(metavar="COLOUR", help="blue or green.")],
    http_5xx: Annotated[
        float | None,
        typer.Option("--http-5xx", metavar="PCT", help="Answer this % of requests with 500."),
    ] = None,
    latency: Annotated[
        float | None,
        typer.Option("--latency", metavar="MS", help="Delay every request this many ms."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the colour's fault.")] = False,
    directory: options.Dir = None,
    json_output: options.Json = False,
) -> None:
    """Break a colour on purpose: the local ALB fails or slows a share of its requests
    and WebSocket upgrades, as a bad release would.

    The stack's alarms see it (the local ALB publishes its metrics and the alarms are
    evaluated), so `chatops rollout --local` rolls back by itself, naming the alarm.
    Local only.
    """
    chosen = parse_colour(colour)
    check_fault(http_5xx, latency, clear)
    stack = open_stack(
        local=True, directory=directory, profile=None, region=None, emulator="require"
    )
    stack.target.check_local_state()
    group = str(stack.outputs()[f"{chosen}_target_group_arn"].value)
    setting = set_fault(
        stack.target.project,
        chosen,
        group,
        http_5xx_percent=0 if clear else http_5xx,
        latency_ms=0 if clear else latency,
    )
    if json_output:
        print_json(setting.to_json())
    elif setting.cleared:
        console.print(f"No fault on {chosen}: its requests reach its tasks untouched.")
    else:
        console.print(
            f"Fault on {chosen}: {setting.http_5xx_percent:g}% of requests answered 500, "
            f"{setting.latency_ms:g} ms added (clear with `chatops local fault {chosen} --clear`)."
        )
