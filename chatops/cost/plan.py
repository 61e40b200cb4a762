"""The resources of a JSON plan (`terraform show -json PLANFILE`), as a pricer needs them.

A plan has two sides: what runs now (`prior_state`, empty before the first deploy) and
what the plan would make (`planned_values`). Values a resource gets only at apply
time (IDs, ARNs) are missing from `planned_values`; a pricer that needs one (which
task definition does this service run? how many subnets does this ALB span?) follows
the resource's references in the plan's `configuration` instead, through module
inputs and outputs, to the resources they name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatops.cost.errors import PlanFileInvalid
from chatops.terraform.models import PlanSummary, parse_plan

_INDEX = re.compile(r"\[[^\]]*\]")
_MAX_DEPTH = 12


def _strip_indexes(address: str) -> str:
    return _INDEX.sub("", address)


@dataclass(frozen=True)
class Resource:
    """One managed resource instance on one side of a plan."""

    address: str
    module: str
    type: str
    name: str
    index: Any
    values: Mapping[str, Any]
    region: str

    @property
    def config_address(self) -> str:
        """The address of its configuration block: module path and name, no instance keys."""
        return _strip_indexes(self.address)

    def get(self, *path: str | int, default: Any = None) -> Any:
        """A nested value: `get("network_configuration", 0, "assign_public_ip")`."""
        value: Any = self.values
        for part in path:
            if isinstance(part, int):
                if not isinstance(value, list) or len(value) <= part:
                    return default
                value = value[part]
            else:
                if not isinstance(value, Mapping) or part not in value:
                    return default
                value = value[part]
        return default if value is None else value


@dataclass
class _Module:
    """The configuration of one module (or the root), keyed by its index-free address."""

    address: str
    resources: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    calls: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    outputs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    parent: str | None = None
    call_name: str | None = None


class Configuration:
    """The plan's `configuration`: expressions and their references, per module."""

    def __init__(self, document: Mapping[str, Any], default_region: str) -> None:
        raw = document.get("configuration") or {}
        self.modules: dict[str, _Module] = {}
        self.provider_regions: dict[str, str] = {}
        for key, provider in (raw.get("provider_config") or {}).items():
            region = ((provider.get("expressions") or {}).get("region") or {}).get("constant_value")
            self.provider_regions[key] = str(region) if region else default_region
        self.default_region = default_region
        self._walk(raw.get("root_module") or {}, "", None, None)

    def _walk(
        self, module: Mapping[str, Any], address: str, parent: str | None, call: str | None
    ) -> None:
        entry = _Module(address=address, parent=parent, call_name=call)
        for resource in module.get("resources") or []:
            entry.resources[str(resource.get("address", ""))] = resource
        entry.outputs = dict(module.get("outputs") or {})
        entry.calls = dict(module.get("module_calls") or {})
        self.modules[address] = entry
        for name, child in entry.calls.items():
            child_address = f"{address}.module.{name}" if address else f"module.{name}"
            self._walk(child.get("module") or {}, child_address, address, name)

    def region_of(self, module: str, local_address: str) -> str:
        """The region of a resource: its provider's constant region, else the stack's."""
        entry = self.modules.get(_strip_indexes(module))
        resource = entry.resources.get(local_address) if entry else None
        key = str((resource or {}).get("provider_config_key", ""))
        key = key.split(":", 1)[-1]  # "module.cloudfront:aws.us_east_1" -> "aws.us_east_1"
        return self.provider_regions.get(key, self.default_region)

    def expression(self, module: str, local_address: str, attribute: str) -> Mapping[str, Any]:
        entry = self.modules.get(_strip_indexes(module))
        resource = entry.resources.get(local_address) if entry else None
        expressions = (resource or {}).get("expressions") or {}
        found = expressions.get(attribute)
        return found if isinstance(found, Mapping) else {}

    def referenced_resources(self, module: str, references: Iterable[str]) -> set[str]:
        """Configuration addresses of the managed resources some references lead to."""
        found: set[str] = set()
        self._follow(_strip_indexes(module), list(references), found, 0, set())
        return found

    def _follow(
        self,
        module: str,
        references: list[str],
        found: set[str],
        depth: int,
        seen: set[tuple[str, str]],
    ) -> None:
        if depth > _MAX_DEPTH:
            return
        entry = self.modules.get(module)
        if entry is None:
            return
        for reference in references:
            if (module, reference) in seen:
                continue
            seen.add((module, reference))
            parts = _strip_indexes(reference).split(".")
            head = parts[0]
            if head == "var" and len(parts) >= 2 and entry.parent is not None:
                parent = self.modules[entry.parent]
                call = parent.calls.get(entry.call_name or "") or {}
                expression = (call.get("expressions") or {}).get(parts[1]) or {}
                self._follow(
                    entry.parent, list(expression.get("references") or []), found, depth + 1, seen
                )
            elif head == "module" and len(parts) >= 3:
                child = f"{module}.module.{parts[1]}" if module else f"module.{parts[1]}"
                child_entry = self.modules.get(child)
                output = (child_entry.outputs.get(parts[2]) if child_entry else None) or {}
                expression = output.get("expression") or {}
                self._follow(
                    child, list(expression.get("references") or []), found, depth + 1, seen
                )
            elif head in ("local", "each", "count", "path", "data", "self", "terraform"):
                continue
            elif len(parts) >= 2 and f"{parts[0]}.{parts[1]}" in entry.resources:
                local = f"{parts[0]}.{parts[1]}"
                found.add(f"{module}.{local}" if module else local)


class Side:
    """The managed resources on one side of a plan, with lookups between them."""

    def __init__(self, resources: Iterable[Resource], configuration: Configuration) -> None:
        self.resources = list(resources)
        self.configuration = configuration

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def instances(self, config_addresses: Iterable[str]) -> list[Resource]:
        wanted = set(config_addresses)
        return [r for r in self.resources if r.config_address in wanted]

    def referenced(self, resource: Resource, attribute: str) -> list[Resource]:
        """The resources an attribute of `resource` refers to, per its configuration.

        For a resource instance of a `for_each` or `count` that refers to another such
        resource by `each.key` or `count.index`, only the instance with the same key.
        """
        local = f"{resource.type}.{resource.name}"
        expression = self.configuration.expression(resource.module, local, attribute)
        references = [str(r) for r in expression.get("references") or []]
        targets = self.instances(
            self.configuration.referenced_resources(resource.module, references)
        )
        keyed = any(r in ("each.key", "count.index") for r in references)
        if keyed and resource.index is not None:
            same = [t for t in targets if t.index == resource.index]
            if same:
                return same
        return targets


@dataclass(frozen=True)
class PlanDocument:
    """A parsed JSON plan: its region, both sides, and what would change."""

    region: str
    planned: Side
    prior: Side
    summary: PlanSummary

    @property
    def deployed(self) -> bool:
        """Whether something runs already (the plan has a prior state with resources)."""
        return len(self.prior) > 0


def _collect(module: Mapping[str, Any], configuration: Configuration) -> Iterator[Resource]:
    for raw in module.get("resources") or []:
        if raw.get("mode") != "managed":
            continue
        address = str(raw["address"])
        resource_type = str(raw.get("type", ""))
        name = str(raw.get("name", ""))
        local = f"{resource_type}.{name}"
        module_address = _module_of(address, resource_type, name)
        yield Resource(
            address=address,
            module=module_address,
            type=resource_type,
            name=name,
            index=raw.get("index"),
            values=raw.get("values") or {},
            region=configuration.region_of(module_address, local),
        )
    for child in module.get("child_modules") or []:
        yield from _collect(child, configuration)


def _module_of(address: str, resource_type: str, name: str) -> str:
    """`module.budget[0].aws_budgets_budget.this` -> `module.budget[0]`."""
    marker = f"{resource_type}.{name}"
    position = address.rfind("." + marker)
    return address[:position] if position > 0 else ""


def plan_region(document: Mapping[str, Any]) -> str | None:
    """The stack's region: the `aws_region` variable, else the default provider's constant."""
    variable = (document.get("variables") or {}).get("aws_region") or {}
    if variable.get("value"):
        return str(variable["value"])
    provider = ((document.get("configuration") or {}).get("provider_config") or {}).get("aws") or {}
    constant = ((provider.get("expressions") or {}).get("region") or {}).get("constant_value")
    return str(constant) if constant else None


def read_plan(document: Any, origin: str = "plan") -> PlanDocument:
    """Parse `terraform show -json` of a saved plan."""
    if not isinstance(document, Mapping) or "planned_values" not in document:
        raise PlanFileInvalid(
            f"{origin} is not a Terraform plan in JSON (no 'planned_values')",
            "pass a saved plan (terraform plan -out=FILE) or `terraform show -json FILE`",
        )
    region = plan_region(document)
    if region is None:
        raise PlanFileInvalid(
            f"{origin} does not say which region it is for (no aws_region variable)",
            "plan the chat stack's root module, which declares aws_region",
        )
    configuration = Configuration(document, region)
    planned = Side(
        _collect((document.get("planned_values") or {}).get("root_module") or {}, configuration),
        configuration,
    )
    prior_values = (document.get("prior_state") or {}).get("values") or {}
    prior = Side(_collect(prior_values.get("root_module") or {}, configuration), configuration)
    return PlanDocument(region=region, planned=planned, prior=prior, summary=parse_plan(document))
