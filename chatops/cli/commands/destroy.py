from __future__ import annotations

from chatops.cli import options
from chatops.cli.common import open_stack, prepare
from chatops.cli.ui import ApplyView, confirm_by_typing, console, err_console, print_json
from chatops.errors import ChatopsError


def destroy(
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    var: options.Vars = None,
    var_file: options.VarFiles = None,
    yes: options.Yes = False,
    json_output: options.Json = False,
) -> None:
    """Destroy the whole stack.

    Asks you to type the environment name first (unless --yes). Every S3 bucket of the
    stack is emptied beforehand (all object versions and delete markers), then
    Terraform destroys everything, then chatops lists anything that is left.
    """
    stack = open_stack(local=local, directory=directory, profile=profile, region=region)
    out = err_console if json_output else console
    prepare(stack)
    teardown = stack.teardown()
    count = teardown.resources
    if count == 0:
        out.print(f"Nothing to destroy: no stack is deployed on {stack.target.label}.")
        if json_output:
            print_json({"destroyed": 0, "emptied": {}, "leftovers": {}})
        return
    identity = teardown.stack_id
    environment = identity.environment if identity else "destroy"
    name = identity.prefix if identity else "the stack"
    confirm_by_typing(
        f"Destroy all {count} resources of {name} on {stack.target.label}? "
        f"Type the environment name ({environment}) to confirm",
        environment,
        yes=yes,
        what="destroy",
    )
    with ApplyView("Destroying", total=count, out=out) as progress:
        report = stack.destroy(
            teardown,
            options.variables(var),
            var_file or [],
            on_event=progress.handle,
            on_bucket=lambda bucket, objects: out.print(
                f"Emptied s3://{bucket} ({objects} object versions and delete markers)"
            ),
        )
    if json_output:
        print_json(
            {
                "destroyed": report.destroyed,
                "emptied": report.emptied,
                "leftovers": report.leftovers,
            }
        )
    else:
        out.print(
            f"[green]Destroyed[/] {report.destroyed} resources on {stack.target.label} "
            f"in {progress.elapsed:.0f}s."
        )
    if report.leftovers:
        listing = "; ".join(
            f"{kind}: {', '.join(names)}" for kind, names in report.leftovers.items()
        )
        raise ChatopsError(
            f"these resources of the stack still exist: {listing}",
            "delete them by hand or run `chatops destroy` again",
        )
    out.print("Nothing of the stack is left.")
