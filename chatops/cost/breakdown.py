"""A plan's monthly bill: per-resource components, totals, and the change from what runs.

`estimate()` prices both sides of a plan with the pricers of `resources.py`: what the
plan would make (the breakdown) and, when a stack is deployed, what runs now, so the
difference per resource can be shown before an apply. Every managed resource ends up
in exactly one list: priced, known to be free, or unpriced (never silently dropped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chatops.cost.plan import PlanDocument, Side
from chatops.cost.prices import PriceBook
from chatops.cost.resources import FREE, PRICERS, Component, Context, Unpriced
from chatops.cost.usage import Usage

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ResourceCost:
    address: str
    type: str
    region: str
    components: tuple[Component, ...]

    @property
    def monthly_fixed(self) -> Decimal:
        return sum(
            (c.monthly or Decimal(0) for c in self.components if not c.usage_based), Decimal(0)
        )

    @property
    def monthly_usage(self) -> Decimal:
        return sum((c.monthly or Decimal(0) for c in self.components if c.usage_based), Decimal(0))

    @property
    def monthly(self) -> Decimal:
        return self.monthly_fixed + self.monthly_usage


@dataclass(frozen=True)
class Listed:
    """A resource that is not on the bill, and why."""

    address: str
    type: str
    reason: str


@dataclass(frozen=True)
class Budget:
    address: str
    name: str
    limit: Decimal
    unit: str
    time_unit: str
    notifications: tuple[str, ...]


@dataclass(frozen=True)
class Breakdown:
    region: str
    currency: str
    hours_per_month: Decimal
    prices_version: str
    resources: tuple[ResourceCost, ...]
    free: tuple[Listed, ...]
    unpriced: tuple[Listed, ...]
    budgets: tuple[Budget, ...] = ()

    @property
    def monthly_fixed(self) -> Decimal:
        return sum((r.monthly_fixed for r in self.resources), Decimal(0))

    @property
    def monthly_usage(self) -> Decimal:
        return sum((r.monthly_usage for r in self.resources), Decimal(0))

    @property
    def monthly_total(self) -> Decimal:
        return self.monthly_fixed + self.monthly_usage

    @property
    def usage_lines(self) -> list[tuple[ResourceCost, Component]]:
        return [(r, c) for r in self.resources for c in r.components if c.usage_based]

    def by_address(self) -> dict[str, ResourceCost]:
        return {r.address: r for r in self.resources}


@dataclass(frozen=True)
class Change:
    """The monthly cost of one resource now and after the plan (None: absent), and what
    the plan does to it (create, update, replace, delete)."""

    address: str
    type: str
    action: str
    before: Decimal | None
    after: Decimal | None

    @property
    def delta(self) -> Decimal:
        return (self.after or Decimal(0)) - (self.before or Decimal(0))


@dataclass(frozen=True)
class Estimate:
    breakdown: Breakdown
    running: Breakdown | None = None
    warnings: tuple[str, ...] = ()
    changes: tuple[Change, ...] = field(default=())

    @property
    def monthly_change(self) -> Decimal | None:
        if self.running is None:
            return None
        return self.breakdown.monthly_total - self.running.monthly_total


def _budgets(side: Side) -> tuple[Budget, ...]:
    budgets = []
    for resource in side:
        if (
            resource.type != "aws_budgets_budget"
            or resource.get("budget_type", default="COST") != "COST"
        ):
            continue
        try:
            limit = Decimal(str(resource.values.get("limit_amount")))
        except ArithmeticError:
            continue
        notifications = []
        for raw in resource.values.get("notification") or []:
            if not isinstance(raw, Mapping):
                continue
            kind = "forecast" if raw.get("notification_type") == "FORECASTED" else "actual"
            threshold = Decimal(str(raw.get("threshold")))
            suffix = "%" if raw.get("threshold_type", "PERCENTAGE") == "PERCENTAGE" else " USD"
            notifications.append(f"{threshold.normalize():f}{suffix} {kind}")
        budgets.append(
            Budget(
                address=resource.address,
                name=str(resource.values.get("name", "")),
                limit=limit,
                unit=str(resource.values.get("limit_unit", "USD")),
                time_unit=str(resource.values.get("time_unit", "MONTHLY")),
                notifications=tuple(notifications),
            )
        )
    return tuple(budgets)


def price_side(side: Side, region: str, prices: PriceBook, usage: Usage | None) -> Breakdown:
    """The bill of one side of a plan."""
    prices.region(region)  # a clear error before anything else when the region is unknown
    priced: list[ResourceCost] = []
    free: list[Listed] = []
    unpriced: list[Listed] = []
    for resource in sorted(side, key=lambda r: r.address):
        pricer = PRICERS.get(resource.type)
        if pricer is None:
            if resource.type in FREE:
                free.append(Listed(resource.address, resource.type, FREE[resource.type]))
            else:
                unpriced.append(
                    Listed(resource.address, resource.type, "chatops cost does not know this type")
                )
            continue
        context = Context(
            prices=prices.region(resource.region),
            hours=prices.hours_per_month,
            usage=usage.for_resource(resource.address, resource.type) if usage else {},
            side=side,
        )
        try:
            components = pricer(resource, context)
        except Unpriced as reason:
            unpriced.append(Listed(resource.address, resource.type, str(reason)))
            continue
        if components:
            priced.append(
                ResourceCost(resource.address, resource.type, resource.region, tuple(components))
            )
        else:
            free.append(Listed(resource.address, resource.type, "no charge as configured"))
    return Breakdown(
        region=region,
        currency=prices.currency,
        hours_per_month=prices.hours_per_month,
        prices_version=prices.version,
        resources=tuple(priced),
        free=tuple(free),
        unpriced=tuple(unpriced),
        budgets=_budgets(side),
    )


def _changes(running: Breakdown, planned: Breakdown, plan: PlanDocument) -> tuple[Change, ...]:
    before = running.by_address()
    after = planned.by_address()
    types = {r.address: r.type for r in (*plan.prior, *plan.planned)}
    actions = {change.address: change.kind for change in plan.summary.changes}
    changes = []
    for address in sorted(set(before) | set(after)):
        old = before[address].monthly if address in before else None
        new = after[address].monthly if address in after else None
        if old != new:
            action = actions.get(address, "no-op")
            changes.append(Change(address, types.get(address, ""), action, old, new))
    return tuple(changes)


def estimate(plan: PlanDocument, prices: PriceBook, usage: Usage | None = None) -> Estimate:
    """Price what the plan would make and, for a deployed stack, what runs now."""
    breakdown = price_side(plan.planned, plan.region, prices, usage)
    warnings = []
    if usage is not None:
        addresses = {r.address for r in plan.planned} | {r.config_address for r in plan.planned}
        for address in usage.addresses():
            if address not in addresses:
                warnings.append(
                    f"{usage.origin}: {address} is not in the plan; its usage is unused"
                )
    if not plan.deployed:
        return Estimate(breakdown=breakdown, warnings=tuple(warnings))
    running = price_side(plan.prior, plan.region, prices, usage)
    return Estimate(
        breakdown=breakdown,
        running=running,
        warnings=tuple(warnings),
        changes=_changes(running, breakdown, plan),
    )


# --- JSON ------------------------------------------------------------------------------


def cents(value: Decimal) -> Decimal:
    """Rounded to the cent the way bills are: half up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(cents(value))


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def breakdown_json(breakdown: Breakdown) -> dict[str, Any]:
    return {
        "currency": breakdown.currency,
        "region": breakdown.region,
        "hours_per_month": int(breakdown.hours_per_month),
        "prices_version": breakdown.prices_version,
        "monthly_fixed": _money(breakdown.monthly_fixed),
        "monthly_usage": _money(breakdown.monthly_usage),
        "monthly_total": _money(breakdown.monthly_total),
        "resources": [
            {
                "address": r.address,
                "type": r.type,
                "region": r.region,
                "monthly": _money(r.monthly),
                "monthly_fixed": _money(r.monthly_fixed),
                "components": [
                    {
                        "name": c.name,
                        "unit": c.unit,
                        "quantity": _number(c.quantity),
                        "unit_price": _number(c.unit_price),
                        "monthly": _money(c.monthly),
                        "usage_based": c.usage_based,
                        "usage_key": c.usage_key,
                        "price": c.price_key,
                    }
                    for c in r.components
                ],
            }
            for r in breakdown.resources
        ],
        "free": [
            {"address": f.address, "type": f.type, "reason": f.reason} for f in breakdown.free
        ],
        "unpriced": [
            {"address": u.address, "type": u.type, "reason": u.reason} for u in breakdown.unpriced
        ],
        "budgets": [
            {
                "address": b.address,
                "name": b.name,
                "limit": _money(b.limit),
                "unit": b.unit,
                "time_unit": b.time_unit,
                "notifications": list(b.notifications),
            }
            for b in breakdown.budgets
        ],
    }


def estimate_json(result: Estimate) -> dict[str, Any]:
    """The `--json` document: the breakdown's keys, plus the change from what runs."""
    document = breakdown_json(result.breakdown)
    document["warnings"] = list(result.warnings)
    if result.running is None:
        document["running"] = None
    else:
        document["running"] = {
            "monthly_fixed": _money(result.running.monthly_fixed),
            "monthly_total": _money(result.running.monthly_total),
            "monthly_change": _money(result.monthly_change),
            "changes": [
                {
                    "address": c.address,
                    "type": c.type,
                    "action": c.action,
                    "before": _money(c.before),
                    "after": _money(c.after),
                    "change": _money(c.delta),
                }
                for c in result.changes
            ],
        }
    return document
