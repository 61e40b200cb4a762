from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import console, print_json


def _change(before: dict[str, object], after: dict[str, object]) -> str:
    keys = [key for key in after if before.get(key) != after.get(key)] or list(after)
    return ", ".join(f"{key} {before.get(key, '-')}->{after.get(key)}" for key in keys)


def history_command(
    local: options.Local = False,
    directory: options.Dir = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Show the last N actions.")
    ] = 50,
    json_output: options.Json = False,
) -> None:
    """Every traffic action: shifts, rollbacks, rollout steps, scale, retire.

    When, who (OS user; on AWS the caller identity too), from and to, and the
    --reason given. Kept per target next to chatops' traffic record.
    """
    stack = open_stack(
        local=local,
        directory=directory,
        profile=None,
        region=None,
        emulator="none",
        check_credentials=False,
    )
    entries = stack.history().entries(limit)
    if json_output:
        print_json([entry.to_json() for entry in entries])
        return
    if not entries:
        console.print("No traffic action recorded yet.")
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("When (UTC)", "Action", "Change", "Who", "Reason"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        who = entry.user + (f" ({entry.caller})" if entry.caller else "")
        action = entry.action + (f" {entry.colour}" if entry.colour else "")
        table.add_row(
            entry.at.replace("T", " ").removesuffix("+00:00"),
            action,
            _change(dict(entry.before), dict(entry.after)),
            who,
            entry.reason or "",
        )
    console.print(table)
