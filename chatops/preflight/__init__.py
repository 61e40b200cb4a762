"""The preflight: what would make a first deploy fail, checked before anything is planned.

`run` reads the account with the stack's settings and returns one finding per check;
`preflight` does it for a target, with the settings its deploy would use. Against the
emulator it runs the same code, so a rule the emulator enforces (a quota) shows here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import botocore.exceptions

from chatops.errors import ChatopsError
from chatops.preflight.checks import CHECKS, Clients, Context, credentials, message
from chatops.preflight.findings import Finding, Report, Status
from chatops.preflight.settings import SettingsInvalid, StackSettings, read_settings
from chatops.targets import Target

__all__ = [
    "Finding",
    "PreflightFailed",
    "Report",
    "SettingsInvalid",
    "StackSettings",
    "Status",
    "preflight",
    "read_settings",
    "require",
    "run",
]


class PreflightFailed(ChatopsError):
    """A check found what would make the deploy fail."""


def run(client: Clients, settings: StackSettings) -> Report:
    """Every check, in order; without working credentials the rest are not run."""
    started = time.monotonic()
    first, caller = credentials(client, settings.region)
    findings = [first]
    if caller is not None:
        context = Context(client, settings, caller)
        for check in CHECKS:
            try:
                findings.append(check(context))
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
                # A check the caller may not read is not a failure of the deploy.
                name = check.__name__.replace("_", "-")
                findings.append(Finding(name, name, "warn", f"could not check: {message(error)}"))
    return Report(
        region=settings.region,
        account=caller.account if caller else None,
        findings=findings,
        seconds=time.monotonic() - started,
    )


def preflight(
    target: Target, variables: Mapping[str, str], var_files: Sequence[Path] = ()
) -> Report:
    """The preflight of a deploy of `target` with these variables and var files."""
    merged = dict(variables)
    if target.region and "aws_region" not in merged:
        merged["aws_region"] = target.region
    settings = read_settings(
        target.project.terraform_dir, merged, [*var_files, *target.record_files()], target.env
    )
    return run(lambda service: target.client(service, settings.region), settings)


def require(report: Report) -> None:
    """Raise on the first failed check: its line, and its fix as the hint."""
    if not report.failed:
        return
    first, others = report.failed[0], len(report.failed) - 1
    more = f" (and {others} more failed check{'s' if others > 1 else ''})" if others else ""
    raise PreflightFailed(f"preflight: {first.name}: {first.detail}{more}", first.fix)
