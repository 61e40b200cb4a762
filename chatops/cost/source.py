"""Where a plan comes from: a fresh plan of a stack, or a plan file the user saved.

Both go through the project's Terraform runner: a saved plan of the stack's target
(its working directory, state and variable files) and `terraform show -json` of it,
the JSON representation that `plan.read_plan` reads. A `--plan-file` may be that JSON
already (no terraform needed) or a saved plan (shown with the runner in an
initialised working directory).
"""

from __future__ import annotations

import json
import os
import tempfile
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
    """Plan the stack with these options and return the plan as JSON; leaves no plan file.

    The plan goes to a file of its own, never to the one `chatops deploy` applies: a
    deploy waiting for its confirmation must not apply the options of a cost estimate.
    """
    merged = dict(variables)
    if stack.target.region and "aws_region" not in merged:
        merged["aws_region"] = stack.target.region
    stack.target.data_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix="chatops-cost-", suffix=".tfplan", dir=stack.target.data_dir
    )
    os.close(handle)
    out = Path(name)
    try:
        stack.terraform.plan(out, merged, stack.var_files(var_files), on_event=on_event)
        return show_json(stack.terraform, out)
    finally:
        out.unlink(missing_ok=True)


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
