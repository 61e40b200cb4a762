from __future__ import annotations

import typer

from chatops.cli import options
from chatops.cli.common import open_stack, prepare
from chatops.cli.ui import (
    PlanView,
    err_console,
    plan_json,
    print_json,
    render_plan,
    render_plan_warnings,
)


def plan(
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    var: options.Vars = None,
    var_file: options.VarFiles = None,
    json_output: options.Json = False,
) -> None:
    """Show what a deploy would change, per module.

    Exits 0 when the stack matches the configuration and 2 when there are changes
    (Terraform's -detailed-exitcode), so scripts can test for drift.
    """
    stack = open_stack(local=local, directory=directory, profile=profile, region=region)
    prepare(stack)
    with PlanView(f"Planning against {stack.target.label}...", out=err_console) as view:
        result = stack.plan(options.variables(var), var_file or [], on_event=view.handle)
    render_plan_warnings(result.warnings)
    if json_output:
        print_json({**plan_json(result.summary), "warnings": list(result.warnings)})
    else:
        render_plan(result.summary, stack.target.label)
    raise typer.Exit(2 if result.has_changes else 0)
