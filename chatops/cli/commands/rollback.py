from __future__ import annotations

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import console, print_json


def rollback(
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    reason: options.Reason = None,
    json_output: options.Json = False,
) -> None:
    """Send all traffic back to the stable colour, now.

    The stable colour is the one that held 100% before the current rollout began
    (blue when nothing is recorded). One API call; no Terraform run and no state lock,
    so it works while a deploy is running. Target group stickiness, when on, is turned
    off in the same call (and recorded), so clients pinned to the other colour come
    back too.
    """
    stack = open_stack(
        local=local,
        directory=directory,
        profile=profile,
        region=region,
        emulator="require",
    )
    stack.target.check_local_state()
    stable, result = stack.traffic(prefer_record=True).rollback(reason=reason)
    if json_output:
        print_json(
            {
                "stable": stable,
                "before": result.before.as_dict(),
                "after": result.after.as_dict(),
                "changed": result.changed,
                "stickiness_released": result.stickiness_released,
            }
        )
        return
    if result.changed:
        console.print(
            f"Rolled back to {stable}: listener weights {result.before}  ->  "
            f"[bold]{result.after}[/]"
        )
        if result.stickiness_released:
            console.print(
                "Stickiness turned off, so clients pinned to the other colour come back too "
                "(recorded for Terraform)."
            )
    else:
        console.print(f"Nothing to roll back: {stable} already has all traffic ({result.after}).")
