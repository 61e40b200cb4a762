from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import console, err_console, print_json
from chatops.preflight import Report, preflight, require
from chatops.targets import Target

_MARKS = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]"}


def render_report(report: Report, label: str, out: Console) -> None:
    account = f", account {report.account}" if report.account else ""
    out.print(f"Preflight of {label} in {report.region}{account} ({report.seconds:.1f}s):")
    for finding in report.findings:
        out.print(f"  {_MARKS[finding.status]}  {escape(finding.name)}: {escape(finding.detail)}")
        if finding.fix and finding.status != "ok":
            out.print(f"        fix: {escape(finding.fix)}", style="dim")
    passed = sum(f.status == "ok" for f in report.findings)
    out.print(f"{passed} passed, {len(report.warnings)} warning(s), {len(report.failed)} failed.")


def check_before_deploy(
    target: Target, variables: Mapping[str, str], var_files: Sequence[Path]
) -> None:
    """The deploy's preflight: one line when all is well, every problem otherwise."""
    report = preflight(target, variables, var_files)
    for finding in [*report.failed, *report.warnings]:
        mark = _MARKS[finding.status]
        err_console.print(f"  {mark}  {escape(finding.line())}")
    if report.ok:
        err_console.print(
            f"Preflight: {len(report.findings)} checks, {len(report.warnings)} warning(s) "
            f"({report.seconds:.1f}s; details: chatops doctor"
            f"{' --local' if target.is_local else ''})."
        )
    require(report)


def doctor(
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    var: options.Vars = None,
    var_file: options.VarFiles = None,
    json_output: options.Json = False,
) -> None:
    """Check what would make a deploy fail: credentials, region, quotas, node type, roles.

    Reads the account with the settings a deploy would use (the same --var and
    --var-file), changes nothing, and exits 1 when a check fails. `chatops deploy`
    runs the same checks before it plans.

    Examples:

      chatops doctor --var-file terraform/profiles/hackathon.tfvars

      chatops doctor --local --json
    """
    stack = open_stack(
        local=local, directory=directory, profile=profile, region=region, check_credentials=False
    )
    report = preflight(stack.target, options.variables(var), var_file or [])
    if json_output:
        print_json(report.to_json())
    else:
        render_report(report, stack.target.label, console)
    require(report)
