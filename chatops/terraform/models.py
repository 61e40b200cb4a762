"""Terraform's JSON formats, parsed into dataclasses.

Sources: the machine-readable UI (`plan|apply -json`, one event per line), the JSON
plan and state representations (`show -json`) and `output -json`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatops.errors import Diagnostic, LockInfo

# --- Machine-readable UI events -----------------------------------------------------


@dataclass(frozen=True)
class UIEvent:
    """One line of `terraform plan|apply -json` output."""

    type: str
    message: str
    level: str = "info"
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def resource_address(self) -> str:
        hook = self.data.get("hook") or self.data.get("change") or {}
        resource = hook.get("resource") or {}
        return str(resource.get("addr", ""))

    @property
    def action(self) -> str:
        hook = self.data.get("hook") or self.data.get("change") or {}
        return str(hook.get("action", ""))

    @property
    def elapsed_seconds(self) -> float:
        hook = self.data.get("hook") or {}
        return float(hook.get("elapsed_seconds", 0))

    @property
    def diagnostic(self) -> Diagnostic | None:
        if self.type != "diagnostic":
            return None
        raw = self.data.get("diagnostic") or {}
        return Diagnostic(
            severity=str(raw.get("severity", "error")),
            summary=str(raw.get("summary", "")),
            detail=str(raw.get("detail", "")),
            address=str(raw.get("address", "")),
        )


def parse_event(line: str) -> UIEvent | None:
    """Parse one line of the JSON UI; None for blank or non-JSON lines."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        raw = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(raw, dict):
        return None
    return UIEvent(
        type=str(raw.get("type", "")),
        message=str(raw.get("@message", "")),
        level=str(raw.get("@level", "info")),
        data=raw,
    )


_LOCK_FIELD = re.compile(r"^\s*(ID|Path|Operation|Who|Version|Created):\s*(.*?)\s*$", re.M)


def parse_lock_info(detail: str) -> LockInfo | None:
    """The `Lock Info:` block of an "Error acquiring the state lock" diagnostic."""
    fields = {key.lower(): value for key, value in _LOCK_FIELD.findall(detail)}
    if not fields.get("id"):
        return None
    return LockInfo(
        id=fields["id"],
        path=fields.get("path", ""),
        operation=fields.get("operation", ""),
        who=fields.get("who", ""),
        version=fields.get("version", ""),
        created=fields.get("created", ""),
    )


# --- Plans ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceChange:
    address: str
    module: str
    type: str
    name: str
    actions: tuple[str, ...]

    @property
    def kind(self) -> str:
        """create, update, delete, replace, read or no-op."""
        actions = set(self.actions)
        if {"create", "delete"} <= actions:
            return "replace"
        if len(self.actions) == 1:
            return self.actions[0]
        return "no-op"


@dataclass(frozen=True)
class ChangeCounts:
    add: int = 0
    change: int = 0
    destroy: int = 0

    @property
    def total(self) -> int:
        return self.add + self.change + self.destroy


def _count(changes: Iterable[ResourceChange]) -> ChangeCounts:
    kinds = Counter(change.kind for change in changes)
    return ChangeCounts(
        add=kinds["create"] + kinds["replace"],
        change=kinds["update"],
        destroy=kinds["delete"] + kinds["replace"],
    )


@dataclass(frozen=True)
class PlanSummary:
    """What a saved plan would do, by resource and by module."""

    changes: tuple[ResourceChange, ...]
    output_changes: tuple[str, ...] = ()
    # The root module's input variables as planned (after every var file and -var).
    variables: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pending(self) -> tuple[ResourceChange, ...]:
        return tuple(change for change in self.changes if change.kind not in ("no-op", "read"))

    @property
    def counts(self) -> ChangeCounts:
        return _count(self.pending)

    @property
    def has_changes(self) -> bool:
        """Whether any resource would change. Output values alone are not the stack."""
        return bool(self.pending)

    @property
    def applyable(self) -> bool:
        """Whether an apply would do anything, if only save new output values."""
        return bool(self.pending) or bool(self.output_changes)

    def by_module(self) -> dict[str, ChangeCounts]:
        modules: dict[str, list[ResourceChange]] = {}
        for change in self.pending:
            modules.setdefault(change.module or "(root)", []).append(change)
        return {module: _count(items) for module, items in sorted(modules.items())}


def parse_plan(document: Mapping[str, Any]) -> PlanSummary:
    """Summarise the JSON plan representation (`terraform show -json PLANFILE`)."""
    changes = []
    for raw in document.get("resource_changes") or []:
        if raw.get("mode") == "data":
            continue
        changes.append(
            ResourceChange(
                address=str(raw["address"]),
                module=str(raw.get("module_address", "")),
                type=str(raw.get("type", "")),
                name=str(raw.get("name", "")),
                actions=tuple(raw.get("change", {}).get("actions", ["no-op"])),
            )
        )
    outputs = tuple(
        name
        for name, change in (document.get("output_changes") or {}).items()
        if tuple(change.get("actions", ["no-op"])) != ("no-op",)
    )
    variables = {
        str(name): raw.get("value")
        for name, raw in (document.get("variables") or {}).items()
        if isinstance(raw, Mapping)
    }
    return PlanSummary(changes=tuple(changes), output_changes=outputs, variables=variables)


# --- Outputs and state ----------------------------------------------------------------


@dataclass(frozen=True)
class OutputValue:
    name: str
    value: Any
    sensitive: bool = False


def parse_outputs(document: Mapping[str, Any]) -> dict[str, OutputValue]:
    """Parse `terraform output -json`."""
    return {
        name: OutputValue(name=name, value=raw.get("value"), sensitive=bool(raw.get("sensitive")))
        for name, raw in document.items()
    }


@dataclass(frozen=True)
class StateResource:
    address: str
    type: str
    values: Mapping[str, Any]


def parse_state(document: Mapping[str, Any]) -> list[StateResource]:
    """Managed resources of the JSON state representation (`terraform show -json`)."""
    resources: list[StateResource] = []

    def walk(module: Mapping[str, Any]) -> None:
        for raw in module.get("resources") or []:
            if raw.get("mode") == "managed":
                resources.append(
                    StateResource(
                        address=str(raw["address"]),
                        type=str(raw.get("type", "")),
                        values=raw.get("values") or {},
                    )
                )
        for child in module.get("child_modules") or []:
            walk(child)

    walk((document.get("values") or {}).get("root_module") or {})
    return resources
