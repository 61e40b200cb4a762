from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from chatops.cli import options
from chatops.cli.common import open_stack, prepare
from chatops.cli.ui import PlanView, console, err_console, print_json
from chatops.cost import Estimate, estimate, estimate_json, load_price_book, load_usage, read_plan
from chatops.cost.breakdown import Breakdown, ResourceCost, cents
from chatops.cost.source import is_saved_plan, plan_json, read_json_plan, show_json
from chatops.errors import UsageError

_INDEX = re.compile(r"\[[^\]]*\]$")

PlanFile = Annotated[
    Path | None,
    typer.Option(
        "--plan-file",
        exists=True,
        dir_okay=False,
        help="Price a saved plan (terraform plan -out=FILE) or its `terraform show -json` "
        "output instead of planning. JSON needs no terraform, AWS account or emulator.",
    ),
]
UsageFile = Annotated[
    str | None,
    typer.Option(
        "--usage",
        metavar="FILE",
        help="Expected traffic (YAML or JSON) for the usage-based prices, or the name of a "
        "bundled example: low-traffic.",
    ),
]


# Output that is not a terminal (CI logs, pipes) gets room for full resource addresses.
_PLAIN_WIDTH = 120


def _money(value: Decimal) -> str:
    return f"${cents(value):,}"


def _plain(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def _price(value: Decimal) -> str:
    """At least cents, more digits only where the price has them: $1.00, $0.059, $0.00511."""
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > 2:
        return f"${value.normalize():f}"
    return f"${cents(value)}"


def _per(unit: str) -> str:
    return unit.removesuffix("s") if unit.endswith(("hours", "months")) else unit


@dataclass(frozen=True)
class _Line:
    name: str
    unit: str
    unit_price: Decimal
    quantity: Decimal | None
    monthly: Decimal | None


def _group(
    resources: Sequence[ResourceCost], usage_based: bool
) -> list[tuple[str, Decimal, list[_Line]]]:
    """Resources with their fixed (or usage-based) lines; instances of one block whose
    lines match (eight alarms, three tables) are shown once, with summed quantities."""
    groups: list[tuple[str, list[ResourceCost]]] = []

    def signature(resource: ResourceCost) -> tuple[Any, ...]:
        return tuple(
            (c.name, c.unit, c.unit_price, c.quantity if usage_based else None)
            for c in resource.components
            if c.usage_based == usage_based
        )

    for resource in resources:
        block = _INDEX.sub("", resource.address)
        if groups and groups[-1][0] == block and signature(groups[-1][1][0]) == signature(resource):
            groups[-1][1].append(resource)
        else:
            groups.append((block, [resource]))
    rows: list[tuple[str, Decimal, list[_Line]]] = []
    for block, members in groups:
        first = members[0]
        chosen = [c for c in first.components if c.usage_based == usage_based]
        if not chosen:
            continue
        label = first.address if len(members) == 1 else f"{block}[*] x{len(members)}"
        lines = []
        for position, component in enumerate(chosen):
            parts = [
                [c for c in m.components if c.usage_based == usage_based][position] for m in members
            ]
            quantity = (
                None
                if component.quantity is None
                else sum((c.quantity or Decimal(0) for c in parts), Decimal(0))
            )
            monthly = (
                None
                if component.monthly is None
                else sum((c.monthly or Decimal(0) for c in parts), Decimal(0))
            )
            lines.append(
                _Line(component.name, component.unit, component.unit_price, quantity, monthly)
            )
        total = sum((line.monthly or Decimal(0) for line in lines), Decimal(0))
        rows.append((label, total, lines))
    return rows


def _table(title: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Resource / component", overflow="fold")
    table.add_column("Quantity", justify="right")
    table.add_column("Unit")
    table.add_column("Unit price", justify="right")
    table.add_column("Monthly", justify="right")
    return table


def _print(table: Table) -> None:
    if console.is_terminal:
        console.print(table)
    else:
        Console(highlight=False, width=max(console.width, _PLAIN_WIDTH)).print(table)


def _render_breakdown(breakdown: Breakdown, title: str) -> None:
    table = _table(title)
    for label, total, lines in _group(breakdown.resources, usage_based=False):
        table.add_row(f"[bold]{label}[/]", "", "", "", _money(total))
        for line in lines:
            table.add_row(
                f"  {line.name}",
                _plain(line.quantity or Decimal(0)),
                line.unit,
                _price(line.unit_price),
                _money(line.monthly or Decimal(0)),
            )
    _print(table)
    console.print(
        f"[bold]Fixed monthly total: {_money(breakdown.monthly_fixed)}[/] "
        f"(what the stack costs with no traffic; {breakdown.region} list prices "
        f"{breakdown.prices_version}, {breakdown.hours_per_month} hours a month, "
        f"{breakdown.currency})",
        soft_wrap=True,
    )


def _render_usage(breakdown: Breakdown, with_usage: bool) -> None:
    groups = _group(breakdown.resources, usage_based=True)
    if not groups:
        return
    if not with_usage:
        console.print("\n[bold]Usage-based[/] (priced per unit; estimate them with --usage FILE):")
        for label, _, lines in groups:
            for line in lines:
                console.print(
                    f"  {label}: {line.name}, {_price(line.unit_price)} per {_per(line.unit)}",
                    soft_wrap=True,
                )
        return
    table = _table("Usage-based (from the usage file)")
    for label, total, lines in groups:
        table.add_row(f"[bold]{label}[/]", "", "", "", _money(total))
        for line in lines:
            table.add_row(
                f"  {line.name}",
                "-" if line.quantity is None else _plain(line.quantity),
                line.unit,
                _price(line.unit_price),
                "-" if line.monthly is None else _money(line.monthly),
            )
    _print(table)
    console.print(
        f"[bold]Usage-based total: {_money(breakdown.monthly_usage)}; "
        f"monthly total: {_money(breakdown.monthly_total)}[/] "
        "(lines the usage file leaves out, shown as -, count as 0)",
        soft_wrap=True,
    )


def _render_lists(breakdown: Breakdown) -> None:
    if breakdown.free:
        kinds = Counter(item.type for item in breakdown.free)
        summary = ", ".join(f"{kind} x{count}" for kind, count in sorted(kinds.items()))
        console.print(f"\nFree ({len(breakdown.free)} resources): {summary}", soft_wrap=True)
    if breakdown.unpriced:
        console.print(f"\n[yellow]Not priced ({len(breakdown.unpriced)}):[/]")
        for item in breakdown.unpriced:
            console.print(f"  {item.address}: {item.reason}", soft_wrap=True)


def _render_budget(breakdown: Breakdown) -> None:
    if not breakdown.budgets:
        console.print(
            "\nNo budget alarm in this configuration (set alarm_email; budget_monthly_usd sets "
            "the limit)."
        )
        return
    for budget in breakdown.budgets:
        share = breakdown.monthly_total / budget.limit * 100 if budget.limit else Decimal(0)
        verdict = (
            "[red]the estimate exceeds it[/]"
            if breakdown.monthly_total > budget.limit
            else f"the estimate is {share:.0f}% of it"
        )
        console.print(
            f"\nBudget alarm {budget.name}: {_money(budget.limit)} a month for the whole account "
            f"(e-mails at {', '.join(budget.notifications)}); {verdict}."
        )


def _render_changes(result: Estimate) -> None:
    if result.running is None or result.monthly_change is None:
        return
    change = result.monthly_change
    sign = "+" if change >= 0 else "-"
    console.print(
        f"\n[bold]Running now: {_money(result.running.monthly_total)} a month; after this plan: "
        f"{_money(result.breakdown.monthly_total)} ({sign}{_money(abs(change))})[/]"
    )
    for item in result.changes:
        before = "-" if item.before is None else _money(item.before)
        after = "-" if item.after is None else _money(item.after)
        console.print(f"  {item.address}: {before} -> {after} ({item.action})", soft_wrap=True)


def _render(result: Estimate, title: str, with_usage: bool) -> None:
    breakdown = result.breakdown
    _render_breakdown(breakdown, title)
    _render_usage(breakdown, with_usage)
    _render_lists(breakdown)
    _render_budget(breakdown)
    _render_changes(result)
    for warning in result.warnings:
        err_console.print(f"[yellow]Warning:[/] {warning}", soft_wrap=True)


def cost(
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    var: options.Vars = None,
    var_file: options.VarFiles = None,
    plan_file: PlanFile = None,
    usage_file: UsageFile = None,
    json_output: options.Json = False,
) -> None:
    """The monthly bill of a configuration, before you deploy it.

    Plans the stack with these options (on the emulator with --local: no AWS account
    needed) and prices every resource the plan would create with bundled list prices,
    offline: per-resource components, the fixed monthly total, usage-based lines, free
    and unpriced resources, the budget alarm's limit, and, for a deployed stack, what
    the plan would change in the bill. 730 hours a month.

    Examples:

      chatops cost --local

      chatops cost --local --var-file terraform/profiles/hackathon.tfvars --usage low-traffic

      chatops cost --plan-file plan.json --json
    """
    prices = load_price_book()
    usage = load_usage(usage_file) if usage_file else None
    variables = options.variables(var)
    early_region = variables.get("aws_region") or region
    if early_region:
        prices.region(early_region)  # a region without prices fails before any planning
    if plan_file is not None:
        if var or var_file:
            raise UsageError(
                "--var and --var-file set the options of a new plan; "
                "a --plan-file is already planned",
                "drop them, or drop --plan-file to plan with them",
            )
        if is_saved_plan(plan_file):
            stack = open_stack(
                local=local,
                directory=directory,
                profile=profile,
                region=region,
                emulator="none",
                check_credentials=False,
            )
            prepare(stack)
            document = show_json(stack.terraform, plan_file.resolve())
        else:
            document = read_json_plan(plan_file)
        origin, label = str(plan_file), f"the plan in {plan_file}"
    else:
        stack = open_stack(local=local, directory=directory, profile=profile, region=region)
        prepare(stack)
        files = [path.resolve() for path in var_file or []]
        with PlanView(f"Planning against {stack.target.label}...", out=err_console) as view:
            document = plan_json(stack, variables, files, on_event=view.handle)
        origin, label = "the plan", f"a deploy to {stack.target.label}"
    result = estimate(read_plan(document, origin), prices, usage)
    if json_output:
        print_json(estimate_json(result))
    else:
        _render(result, f"Monthly cost of {label}", usage is not None)
