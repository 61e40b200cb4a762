"""Usage files: the expected traffic that usage-based prices are multiplied by.

YAML or JSON, in the shape of Infracost's usage file:

    version: 1
    resource_type_default_usage:          # every resource of a type
      aws_nat_gateway:
        monthly_data_processed_gb: 5
    resource_usage:                       # one resource, by address (overrides the above)
      module.vpc.aws_nat_gateway.this:
        monthly_data_processed_gb: 10
      'module.dynamodb.aws_dynamodb_table.this["messages"]':
        monthly_write_request_units: 1000000

An address without an instance key (`module.dynamodb.aws_dynamodb_table.this`) covers
every instance. Each resource type accepts the keys its pricer documents
(`USAGE_KEYS`); values are numbers >= 0. Anything else is an error that names the
file, the entry and what would be valid, before anything is planned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chatops.cost.errors import UsageFileInvalid
from chatops.cost.resources import USAGE_KEYS

VERSION = 1
_TOP_LEVEL = ("version", "resource_type_default_usage", "resource_usage")
_ADDRESS = re.compile(
    r"^(?:module\.[A-Za-z0-9_-]+(?:\[[^\]]+\])?\.)*(?P<type>[a-z0-9]+_[a-z0-9_]+)\.[A-Za-z0-9_-]+(?:\[[^\]]+\])?$"
)
_INDEX = re.compile(r"\[[^\]]*\]")
HINT = "see `chatops cost --help` and README.md (Cost) for the usage file format"


@dataclass(frozen=True)
class Usage:
    """Parsed usage: defaults per resource type and values per address."""

    origin: str = ""
    by_type: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    by_address: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)

    def for_resource(self, address: str, resource_type: str) -> dict[str, Decimal]:
        """The usage of one resource: type defaults, then its block, then its instance."""
        merged = dict(self.by_type.get(resource_type, {}))
        merged.update(self.by_address.get(_INDEX.sub("", address), {}))
        merged.update(self.by_address.get(address, {}))
        return merged

    def addresses(self) -> list[str]:
        return list(self.by_address)


def bundled_examples() -> dict[str, Path]:
    folder = resources.files("chatops.cost") / "usage"
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith((".yml", ".yaml", ".json"))
    }


def resolve_usage_path(value: str) -> Path:
    """A usage file path, or the name of a bundled example such as `low-traffic`."""
    path = Path(value).expanduser()
    if path.exists():
        return path
    examples = bundled_examples()
    if value in examples:
        return examples[value]
    raise UsageFileInvalid(
        f"usage file {value} not found (and no bundled example has that name; "
        f"bundled: {', '.join(sorted(examples))})",
        HINT,
    )


def load_usage(value: str) -> Usage:
    path = resolve_usage_path(value)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageFileInvalid(f"cannot read usage file {path}: {error}", HINT) from None
    try:
        if path.suffix == ".json":
            document = json.loads(text)
        else:
            document = yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        detail = " ".join(str(error).split())
        raise UsageFileInvalid(
            f"usage file {path} is not valid YAML/JSON: {detail}", HINT
        ) from None
    return parse_usage(document, str(path))


def _fail(origin: str, detail: str) -> UsageFileInvalid:
    return UsageFileInvalid(f"usage file {origin}: {detail}", HINT)


def _values(origin: str, where: str, resource_type: str, raw: Any) -> dict[str, Decimal]:
    if not isinstance(raw, Mapping):
        raise _fail(origin, f"{where} must map usage keys to numbers")
    allowed = USAGE_KEYS[resource_type]
    values: dict[str, Decimal] = {}
    for key, value in raw.items():
        if key not in allowed:
            valid = ", ".join(sorted(allowed)) or "none"
            raise _fail(
                origin, f"{where}: unknown key {key!r} for {resource_type} (valid: {valid})"
            )
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _fail(origin, f"{where}.{key} must be a number >= 0, not {value!r}")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise _fail(origin, f"{where}.{key} must be a number >= 0, not {value!r}") from None
        if not number.is_finite() or number < 0:
            raise _fail(origin, f"{where}.{key} must be a number >= 0, not {value!r}")
        values[str(key)] = number
    return values


def _known_type(origin: str, where: str, resource_type: str) -> None:
    if resource_type not in USAGE_KEYS or not USAGE_KEYS[resource_type]:
        takes = sorted(t for t, keys in USAGE_KEYS.items() if keys)
        raise _fail(
            origin,
            f"{where}: {resource_type} takes no usage (types that do: {', '.join(takes)})",
        )


def parse_usage(document: Any, origin: str = "usage") -> Usage:
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise _fail(
            origin, "expected a mapping with version, resource_type_default_usage, resource_usage"
        )
    unknown = [key for key in document if key not in _TOP_LEVEL]
    if unknown:
        raise _fail(
            origin, f"unknown top-level key {unknown[0]!r} (valid: {', '.join(_TOP_LEVEL)})"
        )
    version = document.get("version", VERSION)
    if version != VERSION:
        raise _fail(origin, f"version must be {VERSION}, not {version!r}")
    by_type: dict[str, dict[str, Decimal]] = {}
    defaults = document.get("resource_type_default_usage") or {}
    if not isinstance(defaults, Mapping):
        raise _fail(origin, "resource_type_default_usage must map resource types to usage")
    for resource_type, raw in defaults.items():
        where = f"resource_type_default_usage.{resource_type}"
        _known_type(origin, where, str(resource_type))
        by_type[str(resource_type)] = _values(origin, where, str(resource_type), raw)
    by_address: dict[str, dict[str, Decimal]] = {}
    per_resource = document.get("resource_usage") or {}
    if not isinstance(per_resource, Mapping):
        raise _fail(origin, "resource_usage must map resource addresses to usage")
    for address, raw in per_resource.items():
        where = f"resource_usage.{address}"
        match = _ADDRESS.match(str(address))
        if match is None:
            raise _fail(
                origin,
                f"{address!r} is not a resource address such as module.vpc.aws_nat_gateway.this",
            )
        _known_type(origin, where, match["type"])
        by_address[str(address)] = _values(origin, where, match["type"], raw)
    return Usage(origin=origin, by_type=by_type, by_address=by_address)
