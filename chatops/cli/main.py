"""The `chatops` command: registers the commands and handles errors at one edge."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from chatops import __version__
from chatops.cli.commands import (
    cost,
    deploy,
    destroy,
    doctor,
    history,
    init,
    local,
    logs,
    outputs,
    plan,
    rehearse,
    release,
    retire,
    rollback,
    rollout,
    scale,
    shift,
    site,
    status,
)
from chatops.cli.ui import err_console, print_error
from chatops.errors import ChatopsError


class ChatopsGroup(TyperGroup):
    """Turns every expected failure into one line on stderr and exit code 1 (2: usage)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ChatopsError as error:
            print_error(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("Interrupted.")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=ChatopsGroup,
    name="chatops",
    help=(
        "Deploy the real-time chat stack to AWS and move live traffic between blue and "
        "green. Add --local to any command to run it on the embedded AWS emulator instead."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chatops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """chatops: the chat stack's deploy and traffic tool."""


app.command(rich_help_panel="Stack")(init.init)
app.command(rich_help_panel="Stack")(plan.plan)
app.command(rich_help_panel="Stack")(deploy.deploy)
app.command(rich_help_panel="Stack")(outputs.outputs)
app.command(rich_help_panel="Stack")(destroy.destroy)
app.command(rich_help_panel="Stack")(cost.cost)
app.command(rich_help_panel="Stack")(doctor.doctor)
app.command(
    rich_help_panel="Traffic",
    context_settings={"ignore_unknown_options": True},  # so `shift -10 110` is validated by us
)(shift.shift)
app.command(rich_help_panel="Traffic")(rollback.rollback)
app.command("release", rich_help_panel="Traffic")(release.release_command)
app.command("rollout", rich_help_panel="Traffic")(rollout.rollout_command)
app.command("status", rich_help_panel="Traffic")(status.status_command)
app.command(
    "scale",
    rich_help_panel="Traffic",
    context_settings={"ignore_unknown_options": True},  # so `scale green -1` is validated by us
)(scale.scale_command)
app.command("retire", rich_help_panel="Traffic")(retire.retire_command)
app.command("history", rich_help_panel="Traffic")(history.history_command)
app.command("rehearse", rich_help_panel="Traffic")(rehearse.rehearse_command)
app.command(rich_help_panel="Stack")(logs.logs)
app.add_typer(site.app, name="site", rich_help_panel="Stack")
app.add_typer(local.app, name="local", rich_help_panel="Embedded AWS")


def main() -> None:
    app()
