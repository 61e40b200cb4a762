from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import LiveLine, confirm, console, err_console, print_json
from chatops.errors import ChatopsError
from chatops.rehearse import Options, Progress, Result, rehearse
from chatops.rehearse.ledger import Figures
from chatops.rehearse.script import check_bounds
from chatops.traffic import parse_colour


class RehearsalView(LiveLine):
    """The step, users per colour, messages and latency, redrawn in place; without a
    terminal, one line per step."""

    def __init__(self, quiet: bool) -> None:
        super().__init__(err_console if quiet else console, quiet_without_terminal=True)
        self.step = ""

    def __call__(self, progress: Progress) -> None:
        if progress.step != self.step:
            self.step = progress.step
            if self.live is None:
                self.out.print(f"[{progress.elapsed:5.0f}s] {progress.step}")
        sample = progress.sample
        if sample is None:
            return
        p99 = "-" if sample.latency_p99 is None else f"{sample.latency_p99 * 1000:.0f} ms"
        self.show(
            f"{progress.elapsed:5.0f}s  {progress.step:<16} {sample.weights}  users "
            f"blue {sample.connections.get('blue', 0)} / green "
            f"{sample.connections.get('green', 0)}  sent {progress.sent} acked "
            f"{progress.acknowledged}  p99 {p99}"
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def _render(result: Result) -> None:
    rehearsal = result.rehearsal
    table = Table(title="Rehearsal", title_justify="left")
    for column, justify in (
        ("Step", "left"),
        ("Users b/g", "right"),
        ("Sent", "right"),
        ("Acked", "right"),
        ("Lost", "right"),
        ("Dups", "right"),
        ("Drops", "right"),
        ("Reconn p99", "right"),
        ("Lat p50/p99", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    steps = [figures for figures in rehearsal.steps if not figures.quiet]
    rows: list[Figures] = [*steps, *([rehearsal.total] if rehearsal.total else [])]
    for figures in rows:
        style = "bold red" if figures.lost or figures.duplicates_shown else None
        table.add_row(
            figures.name,
            f"{figures.connections.get('blue', 0)}/{figures.connections.get('green', 0)}",
            str(figures.sent),
            str(figures.acknowledged),
            str(figures.lost),
            str(figures.duplicates_shown),
            str(figures.unexpected_disconnects),
            _ms(figures.reconnect_p99),
            f"{_ms(figures.latency_p50)}/{_ms(figures.latency_p99)}",
            style=style,
        )
    console.print(table)
    console.print(
        "Lost: acknowledged but never shown to a member of the room. Dups: one message "
        "shown under two sequence numbers. Drops: disconnects the server did not ask for."
    )
    for outcome in rehearsal.outcomes:
        details = ", ".join(f"{key} {value}" for key, value in outcome.detail.items())
        console.print(f"  {outcome.step}: {details}")
    if rehearsal.ok:
        console.print("[bold green]Nothing lost, no duplicate shown.[/]")
    console.print(f"Report: {result.report_path}")


def rehearse_command(
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    users: Annotated[int, typer.Option("--users", help="Simulated users (1-1000).")] = 200,
    rooms: Annotated[int, typer.Option("--rooms", help="Rooms they chat in.")] = 10,
    rate: Annotated[float, typer.Option("--rate", help="Messages per user per minute.")] = 6.0,
    step_seconds: Annotated[
        float, typer.Option("--step-seconds", help="How long each step lasts.")
    ] = 30.0,
    fast: Annotated[
        bool, typer.Option("--fast", help="5-second steps (for CI and quick checks).")
    ] = False,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Roll back after 10/90, then carry on.")
    ] = False,
    broken: Annotated[
        str | None,
        typer.Option(
            "--break",
            metavar="COLOUR",
            help="Release a broken COLOUR (local only): its rollout must roll itself back.",
        ),
    ] = None,
    yes: options.Yes = False,
    json_output: options.Json = False,
) -> None:
    """Play the four-minute demo against the stack with simulated users, and report what
    the audience would have felt.

    The users chat in several rooms through the stack's own entry (the local edge, or
    CloudFront), reconnecting and resuming as the web client does, while the script
    shifts 90/10, 50/50, 10/90, 0/100 and retires the old colour. Prints per step:
    users per colour, messages sent, acknowledged, lost and shown twice, unexpected
    disconnects, reconnect time and latency; writes an HTML report with a timeline.
    Exits 1 when a message was lost or a duplicate shown.
    """
    chosen = parse_colour(broken) if broken else None
    check_bounds(users, rooms, rate, 5.0 if fast else step_seconds)
    stack = open_stack(
        local=local, directory=directory, profile=profile, region=region, emulator="require"
    )
    stack.target.check_local_state()
    if not stack.target.is_local:
        confirm(
            f"Move live traffic on {stack.target.label} through the demo script, with "
            f"{users} simulated users?",
            yes=yes,
            what="rehearse on AWS",
        )
    settings = Options(
        users=users,
        rooms=rooms,
        rate=rate,
        step_seconds=5.0 if fast else step_seconds,
        rollback=rollback,
        broken=chosen,
    )
    with RehearsalView(quiet=json_output) as view:
        result = rehearse(stack, settings, observe=view)
    if json_output:
        print_json(result.to_json())
    else:
        _render(result)
    if not result.rehearsal.ok:
        raise ChatopsError(
            "the rehearsal failed: "
            + (
                result.rehearsal.failure
                or "a message was lost, a duplicate shown, or a step did not hold"
            ),
            f"see the report: {result.report_path}",
        )
