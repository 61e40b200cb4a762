"""Rendering: consoles, confirmations, progress views and tables."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from chatops.errors import Aborted, ChatopsError, ConfirmationRequired
from chatops.terraform.models import OutputValue, PlanSummary, UIEvent
from chatops.traffic import CapacityEvent, ColourHealth

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(error: ChatopsError) -> None:
    """One line on stderr: the message, then the hint."""
    line = Text("Error: ", style="bold red")
    line.append(error.message)
    if error.hint:
        line.append(" Hint: ", style="bold")
        line.append(error.hint)
    err_console.print(line, soft_wrap=True)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def stdin_is_interactive() -> bool:
    return sys.stdin.isatty()


def _require_terminal(what: str) -> None:
    if not stdin_is_interactive():
        raise ConfirmationRequired(
            f"refusing to {what} without confirmation: there is no terminal to ask on",
            "pass --yes to confirm non-interactively",
        )


def confirm(question: str, *, yes: bool, what: str) -> None:
    """Ask a yes/no question unless --yes; raise Aborted on no."""
    if yes:
        return
    _require_terminal(what)
    if not typer.confirm(question, default=False):
        raise Aborted(f"{what} cancelled; nothing was changed")


def confirm_by_typing(question: str, expected: str, *, yes: bool, what: str) -> None:
    """Make the user type `expected` (e.g. the environment name) unless --yes."""
    if yes:
        return
    _require_terminal(what)
    answer = typer.prompt(question, default="", show_default=False)
    if answer.strip() != expected:
        raise Aborted(
            f"{what} cancelled: you typed {answer.strip()!r}, not {expected!r}; nothing was changed"
        )


# --- plans and outputs ---------------------------------------------------------------

_SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "-/+"}


def render_plan(summary: PlanSummary, target_label: str) -> None:
    counts = summary.counts
    if not summary.has_changes:
        console.print(
            f"[green]No changes.[/] The stack on {target_label} matches the configuration."
        )
        if summary.output_changes:
            console.print(
                "Only output values differ from the state (saved by the next deploy): "
                + ", ".join(summary.output_changes)
            )
        return
    table = Table(title=f"Plan for {target_label}", title_justify="left")
    table.add_column("Module")
    table.add_column("Add", justify="right", style="green")
    table.add_column("Change", justify="right", style="yellow")
    table.add_column("Destroy", justify="right", style="red")
    for module, module_counts in summary.by_module().items():
        table.add_row(
            module.removeprefix("module."),
            str(module_counts.add or ""),
            str(module_counts.change or ""),
            str(module_counts.destroy or ""),
        )
    console.print(table)
    for change in summary.pending:
        if change.kind != "create":
            console.print(f"  {_SYMBOLS.get(change.kind, '?'):>3} {change.address}")
    console.print(
        f"[bold]Plan:[/] {counts.add} to add, {counts.change} to change, "
        f"{counts.destroy} to destroy."
    )


def render_plan_warnings(warnings: Sequence[str]) -> None:
    """What the plan does that the user may not expect (on stderr: --json stays clean)."""
    for warning in warnings:
        err_console.print(Text.assemble(("Warning: ", "yellow"), warning))


def plan_json(summary: PlanSummary) -> dict[str, Any]:
    counts = summary.counts
    return {
        "changes": summary.has_changes,
        "output_changes": list(summary.output_changes),
        "add": counts.add,
        "change": counts.change,
        "destroy": counts.destroy,
        "modules": {
            module: {"add": c.add, "change": c.change, "destroy": c.destroy}
            for module, c in summary.by_module().items()
        },
        "resources": [
            {"address": change.address, "action": change.kind} for change in summary.pending
        ],
    }


def output_values(outputs: Mapping[str, OutputValue]) -> dict[str, Any]:
    return {name: ("<sensitive>" if o.sensitive else o.value) for name, o in outputs.items()}


def render_outputs(outputs: Mapping[str, OutputValue]) -> None:
    table = Table(show_header=True)
    table.add_column("Output")
    table.add_column("Value", overflow="fold")
    for name, value in sorted(output_values(outputs).items()):
        table.add_row(name, value if isinstance(value, str) else json.dumps(value))
    console.print(table)


KEY_OUTPUTS = (
    ("Chat (ALB)", "alb_url"),
    ("Static site (CloudFront)", "cloudfront_domain_name"),
    ("Push images to (ECR)", "ecr_repository_url"),
)


def render_key_outputs(outputs: Mapping[str, OutputValue]) -> None:
    edge_only = "alb_direct_access" in outputs and outputs["alb_direct_access"].value is False
    for label, name in KEY_OUTPUTS:
        if name in outputs:
            value = outputs[name].value
            if name == "alb_url" and edge_only:
                label = "ALB (edge-only, 403)"
            if name == "cloudfront_domain_name":
                value = f"https://{value}"
            console.print(f"  {label + ':':<28} [bold]{value}[/]")
    if "blue_weight" in outputs and "green_weight" in outputs:
        console.print(
            f"  {'Traffic:':<28} blue {outputs['blue_weight'].value}% / "
            f"green {outputs['green_weight'].value}%"
        )


# --- progress -------------------------------------------------------------------------


class _InFlight:
    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def __rich__(self) -> RenderableType:
        now = time.monotonic()
        lines = [
            Text(f"    {address}  ({now - started:.0f}s)", style="dim")
            for address, started in sorted(self.started.items(), key=lambda item: item[1])[:6]
        ]
        more = len(self.started) - len(lines)
        if more > 0:
            lines.append(Text(f"    ... and {more} more", style="dim"))
        return Group(*lines)


class ApplyView:
    """Live progress of an apply or destroy: resources done/total, in flight, elapsed.

    On a terminal it is a live bar; elsewhere (CI logs) one line per finished resource.
    """

    def __init__(self, title: str, total: int, out: Console | None = None) -> None:
        self.out = out or console
        self.total = max(total, 1)
        self.done = 0
        self.failed = 0
        self.in_flight = _InFlight()
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.out,
        )
        self.task = self.progress.add_task(title, total=self.total)
        self.live: Live | None = None
        self.started = time.monotonic()

    def __enter__(self) -> ApplyView:
        if self.out.is_terminal:
            self.live = Live(
                Group(self.progress, self.in_flight), console=self.out, refresh_per_second=4
            )
            self.live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.live is not None:
            self.in_flight.started.clear()
            self.live.__exit__(exc_type, exc, tb)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def handle(self, event: UIEvent) -> None:
        address = event.resource_address
        if event.action == "read":
            return  # data sources read during the apply are not resource changes
        if event.type == "apply_start":
            self.in_flight.started[address] = time.monotonic()
        elif event.type in ("apply_complete", "apply_errored"):
            self.in_flight.started.pop(address, None)
            if event.type == "apply_complete":
                self.done += 1
            else:
                self.failed += 1
            self.progress.update(self.task, completed=self.done + self.failed)
            if self.live is None:
                status = "done" if event.type == "apply_complete" else "FAILED"
                self.out.print(
                    f"[{self.done + self.failed}/{self.total}] {address}: {event.action} {status} "
                    f"({event.elapsed_seconds:.0f}s)",
                    soft_wrap=True,
                )
        elif (
            event.type == "diagnostic" and event.diagnostic and event.diagnostic.severity == "error"
        ):
            self.out.print(f"[red]error:[/] {event.diagnostic.one_line()}", soft_wrap=True)


class PlanView:
    """A spinner while Terraform refreshes and plans."""

    def __init__(self, title: str, out: Console | None = None) -> None:
        self.out = out or console
        self.title = title
        self.refreshed = 0
        self.status = self.out.status(title) if self.out.is_terminal else None

    def __enter__(self) -> PlanView:
        if self.status is not None:
            self.status.__enter__()
        else:
            self.out.print(self.title)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.status is not None:
            self.status.__exit__(exc_type, exc, tb)

    def handle(self, event: UIEvent) -> None:
        if event.type == "refresh_complete":
            self.refreshed += 1
            if self.status is not None:
                self.status.update(f"{self.title} (refreshed {self.refreshed} resources)")


# --- traffic ---------------------------------------------------------------------------


def describe_targets(health: ColourHealth) -> str:
    """`2/2 healthy`, plus the draining, unhealthy and starting ones when there are any."""
    text = f"{health.healthy}/{health.targets} healthy"
    for count, label in (
        (health.draining, "draining"),
        (health.unhealthy, "unhealthy"),
        (health.initial, "starting"),
    ):
        if count:
            text += f", {count} {label}"
    return text


def describe_connections(health: ColourHealth) -> str:
    return "-" if health.connections is None else str(health.connections)


class LiveLine:
    """One line redrawn in place on a terminal; elsewhere (CI logs) one line per change,
    or nothing with `quiet_without_terminal`."""

    def __init__(self, out: Console | None = None, *, quiet_without_terminal: bool = False) -> None:
        self.out = out or console
        self.quiet = quiet_without_terminal
        self.live: Live | None = None
        self.line = Text("")
        self.last = ""

    def __enter__(self) -> Self:
        if self.out.is_terminal:
            self.live = Live(self.line, console=self.out, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def show(self, text: str) -> None:
        if self.live is not None:
            self.line.plain = text
            self.live.update(self.line)
        elif text != self.last and not self.quiet:
            self.out.print(text, soft_wrap=True)
        self.last = text


class CapacityView(LiveLine):
    """While a colour's tasks start or drain: tasks, targets, connections."""

    def __call__(self, event: CapacityEvent) -> None:
        health = event.health
        self.show(
            f"{event.colour} -> {event.wanted} task(s), {event.elapsed:4.0f}s: "
            f"{health.running} running, {health.pending} pending; targets "
            f"{describe_targets(health)}; connections {describe_connections(health)}"
        )
