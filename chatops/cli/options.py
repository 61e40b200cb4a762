"""Options shared by the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _parse_vars(values: list[str] | None) -> list[str]:
    for value in values or []:
        name, sep, _ = value.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{value!r} is not KEY=VALUE (e.g. --var green_weight=10)")
    return values or []


Local = Annotated[
    bool,
    typer.Option(
        "--local",
        help="Act on the embedded AWS emulator (started if needed) instead of real AWS.",
    ),
]
Dir = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="Terraform root module to use. Default: the project's terraform/ directory.",
        file_okay=False,
    ),
]
Profile = Annotated[
    str | None,
    typer.Option("--profile", help="AWS profile for real AWS (default: the standard chain)."),
]
Region = Annotated[
    str | None,
    typer.Option("--region", help="AWS region, e.g. ap-northeast-2 (sets aws_region)."),
]
Yes = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Do not ask for confirmation (needed without a terminal)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
Reason = Annotated[
    str | None,
    typer.Option("--reason", help="Why: kept with the action in `chatops history`."),
]
Vars = Annotated[
    list[str] | None,
    typer.Option(
        "--var",
        metavar="KEY=VALUE",
        help="Set a Terraform variable; repeatable, e.g. --var green_image=repo:v2.",
        callback=_parse_vars,
    ),
]
VarFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--var-file",
        exists=True,
        dir_okay=False,
        # Terraform runs in terraform/: a path relative to where the user typed it.
        resolve_path=True,
        help="Load Terraform variables from a .tfvars or .tfvars.json file; repeatable.",
    ),
]


def variables(values: list[str] | None) -> dict[str, str]:
    return dict(value.split("=", 1) for value in values or [])
