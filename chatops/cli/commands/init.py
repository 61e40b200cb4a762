from __future__ import annotations

from typing import Annotated

import typer

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import console, err_console


def init(
    local: options.Local = False,
    directory: options.Dir = None,
    upgrade: Annotated[
        bool, typer.Option("--upgrade", help="Allow newer provider versions within the pins.")
    ] = False,
) -> None:
    """Initialise Terraform: install the AWS provider and the modules.

    Offline machines install the provider from a local mirror (found automatically, or
    set CHATOPS_PROVIDER_MIRROR); elsewhere it comes from the Terraform registry.
    """
    stack = open_stack(
        local=local,
        directory=directory,
        profile=None,
        region=None,
        emulator="none",
        check_credentials=False,
    )
    stack.terraform.check_version()
    stack.init(on_line=lambda line: err_console.print(f"  {line}", style="dim"), upgrade=upgrade)
    console.print(f"Terraform is initialised for {stack.target.label}.")
