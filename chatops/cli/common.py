"""Turning the target options into a Stack."""

from __future__ import annotations

from pathlib import Path

from chatops.cli.ui import err_console
from chatops.errors import UsageError
from chatops.project import load_project
from chatops.stack import Stack
from chatops.targets import EmulatorMode, aws_target, local_target
from chatops.terraform.runner import locate_binary


def open_stack(
    *,
    local: bool,
    directory: Path | None,
    profile: str | None,
    region: str | None,
    emulator: EmulatorMode = "start",
    check_credentials: bool = True,
) -> Stack:
    """The stack on the chosen target; for --local, `emulator` says how to treat the emulator."""
    locate_binary()  # before anything starts: a missing terraform should change nothing
    project = load_project(directory)
    if local:
        if profile:
            raise UsageError(
                "--profile selects real-AWS credentials and cannot be combined with --local",
                "drop --profile, or drop --local to deploy to AWS",
            )
        target, started = local_target(project, region=region, emulator=emulator)
        if started and target.emulator is not None:
            err_console.print(f"Started the local emulator at {target.emulator.endpoint}")
    else:
        target = aws_target(
            project, profile=profile, region=region, check_credentials=check_credentials
        )
    return Stack(target)


def prepare(stack: Stack) -> None:
    """Version check, stale-state check, and `terraform init` when needed (shown live)."""
    stack.check()
    if stack.needs_init():
        err_console.print("Initialising Terraform (providers and modules)...")
        stack.init(on_line=lambda line: err_console.print(f"  {line}", style="dim"))
