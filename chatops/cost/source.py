"""Where a plan comes from: a fresh plan of a stack, or a plan file the user saved.

Both go through the project's Terraform runner: `Stack.plan` writes a saved plan and
`terraform show -json` turns it into the JSON representation that `plan.read_plan`
reads. A `--plan-file` may be that JSON already (no terraform needed) or a saved
plan (shown with the runner in an initialised working directory).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chatops.cost.errors import PlanFileInvalid
from chatops.stack import Stack
from chatops.terraform.runner import EventHandler, Terraform, show_args

_ZIP_MAGIC = b"PK\x03\x04"


def show_json(terraform: Terraform, plan: Path) -> dict[str, Any]:
    """`terraform show -json PLAN`, parsed."""
    _, stdout, _ = terraform.run(show_args(plan))
    try:
        document = json.loads(stdout)
    except ValueError:
        raise PlanFileInvalid(f"terraform show -json {plan} did not print JSON") from None
    if not isinstance(document, dict):
        raise PlanFileInvalid(f"terraform show -json {plan} did not print a JSON object")
    return document


def plan_json(
    stack: Stack,
    variables: Mapping[str, str],
    var_files: Sequence[Path],
    *,
    on_event: EventHandler | None = None,
) -> dict[str, Any]:
    """Plan the stack with these options and return the plan as JSON; leaves no plan file."""
    plan = stack.plan(variables, var_files, on_event=on_event)
    try:
        return show_json(stack.terraform, plan.path)
    finally:
        plan.path.unlink(missing_ok=True)


def is_saved_plan(path: Path) -> bool:
    """Saved plans are zip archives; their JSON form starts with '{'."""
    with path.open("rb") as handle:
        return handle.read(4) == _ZIP_MAGIC


def read_json_plan(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise PlanFileInvalid(
            f"{path} is neither a saved plan nor plan JSON: {' '.join(str(error).split())}",
            "pass a saved plan (terraform plan -out=FILE) or `terraform show -json FILE`",
        ) from None
    if not isinstance(document, dict):
        raise PlanFileInvalid(f"{path} is JSON but not a plan (expected an object)")
    return document
