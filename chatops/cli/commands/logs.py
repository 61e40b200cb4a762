from __future__ import annotations

from typing import Annotated

import typer

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.logs import check_colour, open_logs, parse_since, tail


def logs(
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    colour: Annotated[
        str | None, typer.Option("--colour", "--color", help="Only this colour: blue or green.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")
    ] = False,
    since: Annotated[
        str, typer.Option("--since", help="How far back to start: 30s, 10m, 2h, 1d.")
    ] = "10m",
) -> None:
    """The chat tasks' logs, oldest first: `<time> <colour>/app/<task> <line>`.

    On AWS from the stack's CloudWatch log group (as `aws logs tail` shows it); with
    --local from the data plane's files under .chatops/local/logs/.

      chatops logs --local --colour green --follow
    """
    seconds = parse_since(since)
    check_colour(colour)
    stack = open_stack(
        local=local, directory=directory, profile=profile, region=region, emulator="none"
    )
    source = open_logs(stack.target, {k: v.value for k, v in stack.outputs().items()}, colour)
    for event in tail(source, since=seconds, follow=follow):
        typer.echo(event.render())
