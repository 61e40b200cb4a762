from __future__ import annotations

from rich.table import Table

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import console, print_json
from chatops.traffic import COLOURS, StatusReport, status


def _render(report: StatusReport) -> None:
    console.print(
        f"Traffic on {report.target}: [bold]{report.live}[/] (stable colour: {report.stable})"
    )
    table = Table()
    for column in (
        "Colour",
        "Weight",
        "Targets healthy",
        "Unhealthy",
        "Draining",
        "Tasks",
        "Image",
    ):
        table.add_column(column)
    for colour in COLOURS:
        health = report.colours[colour]
        table.add_row(
            colour,
            f"{report.live.of(colour)}%",
            f"{health.healthy}/{health.targets}",
            str(health.unhealthy),
            str(health.draining),
            f"{health.running} running / {health.desired} desired / {health.pending} pending",
            health.image or "-",
        )
    console.print(table)
    firing = report.firing
    if firing:
        console.print("[bold red]Alarms firing:[/] " + ", ".join(a.name for a in firing))
    else:
        console.print(f"Alarms: none firing ({len(report.alarms)} watched)")
    if report.drift and report.configured is not None:
        console.print(
            f"[yellow]Drift:[/] the live weights differ from the Terraform configuration "
            f"({report.configured}). Reconcile with: [bold]{report.reconcile_command}[/]"
        )
    else:
        console.print("No drift: the live weights match the Terraform configuration.")


def status_command(
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    json_output: options.Json = False,
) -> None:
    """Live traffic and health: weights, targets and tasks per colour, alarms, drift.

    A colour still has targets (and WebSockets) until its tasks are scaled down; see
    DEMO_GUIDE.md for when that is safe.
    """
    stack = open_stack(
        local=local, directory=directory, profile=profile, region=region, emulator="require"
    )
    stack.target.check_local_state()
    outputs = stack.outputs()
    report = status(
        stack.traffic(outputs=outputs),
        stack.configured_weights(outputs),
        target=stack.target.label,
        shift_command=stack.target.shift_command,
    )
    if json_output:
        print_json(report.to_json())
    else:
        _render(report)
