from __future__ import annotations

from rich import box
from rich.table import Table

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import console, describe_connections, describe_targets, print_json
from chatops.traffic import COLOURS, StatusReport, status


def _render(report: StatusReport) -> None:
    sticky = "on" if report.stickiness else "off"
    console.print(
        f"Traffic on {report.target}: [bold]{report.live}[/] "
        f"(stable: {report.stable}, stickiness {sticky})"
    )
    # Narrow on purpose: one line per colour in an 80-column terminal.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Colour")
    table.add_column("Weight", justify="right")
    table.add_column("Targets", overflow="fold")
    table.add_column("Tasks", justify="right")
    table.add_column("Conns", justify="right")
    table.add_column("Version", overflow="ellipsis", max_width=14, no_wrap=True)
    for colour in COLOURS:
        health = report.colours[colour]
        table.add_row(
            colour,
            f"{report.live.of(colour)}%",
            describe_targets(health),
            f"{health.running}/{health.desired}",
            describe_connections(health),
            health.version or "-",
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

    Tasks are running/desired; Conns are the open WebSockets the colour's tasks last
    reported (CloudWatch). A colour keeps its WebSockets until it is retired
    (`chatops retire`).
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
