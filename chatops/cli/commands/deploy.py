from __future__ import annotations

from typing import Annotated

import typer

from chatops.cli import options
from chatops.cli.commands.doctor import check_before_deploy
from chatops.cli.commands.site import render_publish
from chatops.cli.common import open_stack, prepare
from chatops.cli.ui import (
    ApplyView,
    PlanView,
    confirm,
    console,
    err_console,
    output_values,
    print_json,
    render_key_outputs,
    render_plan,
    render_plan_warnings,
)
from chatops.local import LocalUrls, serving_stack
from chatops.release import first_local_images
from chatops.site import publish, web_dir
from chatops.traffic import record_live_variables


def deploy(
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    var: options.Vars = None,
    var_file: options.VarFiles = None,
    yes: options.Yes = False,
    json_output: options.Json = False,
    no_preflight: Annotated[
        bool,
        typer.Option(
            "--no-preflight", help="Skip the checks `chatops doctor` runs (not recommended)."
        ),
    ] = False,
) -> None:
    """Deploy the stack: init if needed, plan, confirm, apply with live progress.

    Examples:

      chatops deploy --local --yes           # the whole stack, running, on this machine

      chatops deploy --var green_image=<account>.dkr.ecr.<region>.amazonaws.com/chatapp-dev:v2
    """
    stack = open_stack(local=local, directory=directory, profile=profile, region=region)
    out = err_console if json_output else console
    variables = options.variables(var)
    if not no_preflight:
        # Quotas, node type, roles: what would fail the apply minutes in, checked first.
        check_before_deploy(stack.target, variables, var_file or [])
    prepare(stack)
    # Locally, a colour without an image gets a snapshot of app/ as it is now: both
    # colours serve the checkout's code, and later edits wait for `chatops release`.
    images = first_local_images(stack.target, variables) if stack.target.is_local else {}
    with PlanView(f"Planning against {stack.target.label}...", out=err_console) as view:
        plan = stack.plan({**images, **variables}, var_file or [], on_event=view.handle)
    if not json_output:
        render_plan(plan.summary, stack.target.label)
    render_plan_warnings(plan.warnings)
    if plan.has_changes:
        confirm(f"Apply these changes to {stack.target.label}?", yes=yes, what="deploy")
        total = sum(2 if change.kind == "replace" else 1 for change in plan.summary.pending)
        with ApplyView("Deploying", total=total, out=out) as progress:
            outputs = stack.apply(plan, on_event=progress.handle)
        out.print(
            f"[green]Deployed[/] {progress.done} resource change(s) to {stack.target.label} "
            f"in {progress.elapsed:.0f}s."
        )
    elif plan.summary.applyable:
        # Nothing real changes (e.g. after a shift): save the new output values quietly.
        outputs = stack.apply(plan)
    else:
        outputs = stack.outputs()
        stack.record_given(plan)
    if images:
        record_live_variables(stack.target.weights_path, **images)
    # The web client goes to the site bucket with every deploy (unchanged files stay).
    site = publish(stack.target, outputs, web_dir(stack.target.project))
    urls: LocalUrls | None = None
    if stack.target.is_local and "alb_dns_name" in outputs:
        with err_console.status("Waiting for the local stack to serve..."):
            urls = serving_stack(stack.target, output_values(outputs))
    if json_output:
        print_json(
            {
                "changed": plan.has_changes,
                "warnings": list(plan.warnings),
                "outputs": output_values(outputs),
                "site": site.to_json(),
                "local_urls": {"chat": urls.chat, "alb": urls.alb} if urls else None,
            }
        )
        return
    render_publish(site)
    render_key_outputs(outputs)
    if urls is not None:
        if outputs.get("alb_direct_access") is None or outputs["alb_direct_access"].value:
            console.print(f"  {'Local ALB:':<28} [bold]{urls.alb}[/]")  # edge-only: 403
        console.print(f"  {'Local chat (open this):':<28} [bold]{urls.chat}[/]")
