from __future__ import annotations

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import console, print_json


def rollback(
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    json_output: options.Json = False,
) -> None:
    """Send all traffic back to the stable colour, now.

    The stable colour is the one that held 100% before the current rollout began
    (blue when nothing is recorded). One API call; no Terraform run and no state lock,
    so it works while a deploy is running.
    """
    stack = open_stack(
        local=local,
        directory=directory,
        profile=profile,
        region=region,
        emulator="require",
    )
    stack.target.check_local_state()
    stable, result = stack.traffic(prefer_record=True).rollback()
    if json_output:
        print_json(
            {
                "stable": stable,
                "before": result.before.as_dict(),
                "after": result.after.as_dict(),
                "changed": result.changed,
            }
        )
        return
    if result.changed:
        console.print(
            f"Rolled back to {stable}: listener weights {result.before}  ->  "
            f"[bold]{result.after}[/]"
        )
    else:
        console.print(f"Nothing to roll back: {stable} already has all traffic ({result.after}).")
