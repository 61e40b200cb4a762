from __future__ import annotations

import typer
from rich.table import Table

from chatops.cli import options
from chatops.cli.commands.fault import fault
from chatops.cli.ui import confirm, console, err_console, print_json
from chatops.emulator.manager import EmulatorManager
from chatops.local import reset as reset_local
from chatops.local import shell_exports
from chatops.local import status as local_status
from chatops.project import load_project
from chatops.targets import local_target

app = typer.Typer(
    name="local",
    help=(
        "The embedded AWS that --local commands use: the emulator (moto, patched by "
        "chatops) and its data plane (tasks, Redis, ALB, edge)."
    ),
    no_args_is_help=True,
)


app.command()(fault)


@app.command()
def start(directory: options.Dir = None, json_output: options.Json = False) -> None:
    """Start the emulator in the background (no-op if it is already running)."""
    target, started = local_target(load_project(directory), region=None)
    assert target.emulator is not None
    if json_output:
        print_json(
            {"endpoint": target.emulator.endpoint, "started": started, "pid": target.emulator.pid}
        )
        return
    verb = "Started" if started else "Already running:"
    console.print(
        f"{verb} the local emulator at {target.emulator.endpoint} (pid {target.emulator.pid})."
    )


@app.command()
def stop(directory: options.Dir = None) -> None:
    """Stop the emulator and its data plane. Everything it held is gone; so is the local
    stack."""
    project = load_project(directory)
    stopped = EmulatorManager(project.local_dir).stop()
    if stopped is None:
        console.print("The local emulator is not running.")
        return
    console.print(f"Stopped the local emulator (pid {stopped.pid}).")
    if local_status(project).state_resources:
        err_console.print(
            "The local Terraform state still lists the stack it held; "
            "run `chatops local reset` before the next `chatops deploy --local`."
        )


@app.command()
def status(directory: options.Dir = None, json_output: options.Json = False) -> None:
    """The emulator (endpoint, how much of the stack it holds) and every process of the
    data plane: role, colour, pid, address, health; the network paths the security
    groups allow (each closed one with the rule it lacks); and the stack's local URLs."""
    report = local_status(load_project(directory))
    if json_output:
        print_json(report.to_json())
        return
    if not report.running:
        console.print("The local emulator is [bold]not running[/] (`chatops local start`).")
        if report.state_resources:
            console.print(
                f"The local state lists {report.state_resources} resources of a stack it no "
                "longer holds: `chatops local reset` discards it."
            )
        return
    minutes = (report.uptime_seconds or 0) / 60
    console.print(f"The local emulator is [green]running[/] at [bold]{report.endpoint}[/]")
    console.print(f"  pid {report.pid}, instance {report.instance_id}, up {minutes:.0f} min")
    console.print(
        f"  holds {report.stack_resource_count} resources of the stack "
        f"(Terraform state: {report.state_resources})"
    )
    dataplane = report.dataplane
    if dataplane is None:
        return
    if dataplane.supervisor_pid is None:
        console.print(
            "The data plane's supervisor is [red]not running[/] (any --local command restarts it)."
        )
    else:
        console.print(f"The data plane's supervisor runs (pid {dataplane.supervisor_pid}).")
    if dataplane.processes:
        table = Table()
        for column in ("Role", "Colour", "Pid", "Address", "Health"):
            table.add_column(column)
        for process in dataplane.processes:
            health = process.health or "-"
            if not process.alive:
                health = "[red]gone[/]"
            table.add_row(
                process.role, process.colour or "-", str(process.pid), process.address, health
            )
        console.print(table)
    if dataplane.paths:
        closed = dataplane.closed_paths
        opened = len(dataplane.paths) - len(closed)
        line = f"Security groups: {opened} of {len(dataplane.paths)} paths open"
        console.print(line + ("; closed (the rule each lacks):" if closed else "."))
        for path in closed:
            console.print(f"  {path.name}: {path.missing}", highlight=False)
    for name, url in dataplane.urls.items():
        role, _, what = name.partition(":")
        label = "Chat (edge)" if role == "chat" else "ALB"
        console.print(f"  {label} {what}: [bold]{url}[/]")


@app.command()
def env(
    directory: options.Dir = None,
    region: options.Region = None,
) -> None:
    """Print shell exports that point AWS tools at the emulator.

    Use it as:  eval "$(chatops local env)"  then  aws elbv2 describe-target-groups
    """
    emulator = EmulatorManager(load_project(directory).local_dir).require_running()
    typer.echo(shell_exports(emulator, region))


@app.command()
def reset(directory: options.Dir = None, yes: options.Yes = False) -> None:
    """Stop the emulator and discard the local stack's Terraform state.

    Use it when the local state outlived its emulator (restart, crash).
    """
    project = load_project(directory)
    confirm(
        "Stop the local emulator and discard the local Terraform state?",
        yes=yes,
        what="reset the local target",
    )
    stopped = reset_local(project)
    console.print(
        "Discarded the local state"
        + (f" and stopped the emulator (pid {stopped.pid})." if stopped else ".")
    )
