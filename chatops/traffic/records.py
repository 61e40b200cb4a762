"""What chatops remembers about a stack's traffic, and what it records for Terraform.

Two files per target:

- the **live variables** file: every setting chatops changes outside Terraform
  (weights, desired counts, stickiness) or for one colour alone (the image a release
  put there), written as Terraform variables so the next plan agrees with what runs.
  For AWS it is an auto-loaded tfvars file in the root module (plain `terraform plan`
  sees it too); for --local chatops passes it with -var-file.
- the **traffic record** (`traffic.json`): the stack's endpoints, so rollback needs no
  Terraform run, and the stable colour rollback returns to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatops.errors import ChatopsError
from chatops.terraform.models import OutputValue
from chatops.traffic.weights import COLOURS, Colour, Weights

# Variables chatops may record; each is a variable of the root module.
LIVE_VARIABLES = (
    "blue_weight",
    "green_weight",
    "blue_desired_count",
    "green_desired_count",
    "enable_stickiness",
    # What each colour runs: `chatops release` records the image it put there.
    "blue_image",
    "green_image",
)

# Which commands write each recorded variable, for the messages that name the record.
RECORDED_BY = {
    "blue_weight": "shift, rollback or rollout",
    "green_weight": "shift, rollback or rollout",
    "blue_desired_count": "release, scale or retire",
    "green_desired_count": "release, scale or retire",
    "enable_stickiness": "shift, rollback or retire",
    "blue_image": "release",
    "green_image": "release",
}


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    temporary.replace(path)


def read_live_variables(path: Path) -> dict[str, Any]:
    """The recorded variables; empty when there is no (readable) record."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {name: raw[name] for name in LIVE_VARIABLES if name in raw}


def record_live_variables(path: Path, **values: Any) -> None:
    """Merge `values` into the record, atomically."""
    unknown = set(values) - set(LIVE_VARIABLES)
    if unknown:
        raise ValueError(f"not a live variable: {sorted(unknown)}")
    merged = {**read_live_variables(path), **values}
    _write_json(path, {name: merged[name] for name in LIVE_VARIABLES if name in merged})


def read_weights_file(path: Path) -> Weights | None:
    recorded = read_live_variables(path)
    try:
        return Weights(blue=int(recorded["blue_weight"]), green=int(recorded["green_weight"]))
    except (KeyError, TypeError, ValueError):
        return None


def write_weights_file(path: Path, weights: Weights) -> None:
    record_live_variables(path, blue_weight=weights.blue, green_weight=weights.green)


@dataclass(frozen=True)
class Endpoints:
    region: str
    listener_arn: str
    target_groups: Mapping[str, str]
    cluster: str
    services: Mapping[str, str]
    alarms: Mapping[str, str] = field(default_factory=dict)
    alarm_colours: Mapping[str, str | None] = field(default_factory=dict)
    metrics_namespace: str | None = None
    # Edge-only stacks forward from a listener rule (the default action answers 403).
    traffic_rule_arn: str | None = None

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, OutputValue]) -> Endpoints:
        needed = (
            "aws_region",
            "listener_arn",
            "blue_target_group_arn",
            "green_target_group_arn",
            "ecs_cluster_name",
            "blue_service_name",
            "green_service_name",
        )
        missing = [name for name in needed if name not in outputs]
        if missing:
            raise ChatopsError(
                "the stack is not deployed (its outputs lack " + ", ".join(missing) + ")",
                "deploy it first with `chatops deploy`",
            )

        def value(name: str) -> Any:
            return outputs[name].value

        return cls(
            region=str(value("aws_region")),
            listener_arn=str(value("listener_arn")),
            target_groups={c: str(value(f"{c}_target_group_arn")) for c in COLOURS},
            cluster=str(value("ecs_cluster_name")),
            services={c: str(value(f"{c}_service_name")) for c in COLOURS},
            alarms=dict(value("alarm_names")) if "alarm_names" in outputs else {},
            alarm_colours=dict(value("alarm_colours")) if "alarm_colours" in outputs else {},
            metrics_namespace=(
                str(value("metrics_namespace")) if "metrics_namespace" in outputs else None
            ),
            traffic_rule_arn=(
                str(value("traffic_rule_arn"))
                if "traffic_rule_arn" in outputs and value("traffic_rule_arn")
                else None
            ),
        )


@dataclass
class TrafficRecord:
    """chatops' memory of a stack's traffic: where it is, and which colour is stable."""

    endpoints: Endpoints | None = None
    stable: Colour = "blue"
    weights: Weights | None = None

    @classmethod
    def load(cls, path: Path) -> TrafficRecord:
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        endpoints = Endpoints(**raw["endpoints"]) if raw.get("endpoints") else None
        weights = Weights(**raw["weights"]) if raw.get("weights") else None
        stable: Colour = "green" if raw.get("stable") == "green" else "blue"
        return cls(endpoints, stable, weights)

    def save(self, path: Path) -> None:
        _write_json(
            path,
            {
                "endpoints": asdict(self.endpoints) if self.endpoints else None,
                "stable": self.stable,
                "weights": self.weights.as_dict() if self.weights else None,
            },
        )

    def note(self, old: Weights, new: Weights) -> None:
        # A rollout starts from a colour holding 100%; that colour is the stable one
        # until another colour holds 100% in turn.
        old_holder, new_holder = old.holder(), new.holder()
        if new_holder is not None:
            self.stable = new_holder
        elif old_holder is not None:
            self.stable = old_holder
        self.weights = new
