from __future__ import annotations

from typing import Annotated

import typer

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import output_values, print_json, render_outputs
from chatops.errors import ChatopsError


def outputs(
    name: Annotated[
        str | None, typer.Argument(help="Print only this output's value (raw, for scripts).")
    ] = None,
    local: options.Local = False,
    directory: options.Dir = None,
    json_output: options.Json = False,
) -> None:
    """Show the stack's outputs: URLs, names and ARNs of what was deployed.

    With --local the emulator must be running: outputs of a stack the emulator no
    longer holds would point at nothing.
    """
    stack = open_stack(
        local=local,
        directory=directory,
        profile=None,
        region=None,
        emulator="require",
        check_credentials=False,
    )
    stack.target.check_local_state()
    values = stack.outputs()
    if not values:
        raise ChatopsError(
            f"the stack on {stack.target.label} has no outputs: it is not deployed",
            f"deploy it with `chatops deploy{' --local' if local else ''}`",
        )
    if name is not None:
        if name not in values:
            raise ChatopsError(
                f"no output named {name!r}",
                f"choose one of: {', '.join(sorted(values))}",
            )
        value = output_values(values)[name]
        if json_output:
            print_json(value)
        else:
            typer.echo(value if isinstance(value, str) else str(value))
        return
    if json_output:
        print_json(output_values(values))
    else:
        render_outputs(values)
