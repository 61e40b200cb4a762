"""The library layer behind the commands: one deployed stack on one target."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatops.errors import TerraformFailed
from chatops.inventory import StackId, find_resources
from chatops.targets import DEFAULT_REGION, Target
from chatops.teardown import empty_bucket, release_deletion_protection, stop_access_logging
from chatops.terraform.models import OutputValue, PlanSummary
from chatops.terraform.runner import EventHandler, LineHandler, Terraform
from chatops.terraform.tfvars import file_assignments, literal, same_value
from chatops.traffic import (
    COLOURS,
    LIVE_VARIABLES,
    RECORDED_BY,
    Endpoints,
    History,
    TrafficControl,
    TrafficRecord,
    Weights,
    read_live_variables,
    read_weights_file,
    record_live_variables,
)
from chatops.traffic.history import aws_caller

_DESTROY_ATTEMPTS = 3
_MODULE_BLOCK = re.compile(r'^module\s+"([^"]+)"', re.M)


@dataclass(frozen=True)
class Override:
    """A user's var file sets a variable chatops' record holds, to another value."""

    file: Path
    name: str
    value: Any
    recorded: Any

    def message(self) -> str:
        by = RECORDED_BY.get(self.name, "chatops")
        return (
            f"{self.file.name} sets {self.name} = {_hcl(self.value)}; chatops' record "
            f"({_hcl(self.recorded)}, from {by}) wins; "
            f"pass --var {self.name}={_raw(self.value)} to change it"
        )


def _hcl(value: Any) -> str:
    """A value as a .tfvars file writes it."""
    return json.dumps(value)


def _raw(value: Any) -> str:
    """A value as --var NAME=VALUE takes it."""
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def stops_serving(summary: PlanSummary) -> list[str]:
    """Warnings for each colour the plan leaves with new connections but no task."""
    planned = summary.variables
    found = []
    for colour in COLOURS:
        # A value given with -var is in the plan as its text.
        weight = _number(planned.get(f"{colour}_weight"))
        count = _number(planned.get(f"{colour}_desired_count"))
        if weight is not None and count is not None:
            if weight > 0 and count == 0:
                found.append(
                    f"the plan leaves {colour} with {weight:g}% of new connections and "
                    f"0 tasks ({colour}_desired_count = 0): they get 503s; shift the traffic "
                    f"away first, or pass --var {colour}_desired_count=1"
                )
    return found


@dataclass(frozen=True)
class Plan:
    path: Path
    summary: PlanSummary
    # The live variables given with --var on this command: the new record once applied.
    given: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return self.summary.has_changes


@dataclass(frozen=True)
class Teardown:
    """What a destroy removes: counted, named and located before anything is touched."""

    resources: int
    stack_id: StackId | None
    region: str
    buckets: list[str]
    alb_arn: str | None


@dataclass(frozen=True)
class DestroyReport:
    emptied: Mapping[str, int] = field(default_factory=dict)
    destroyed: int = 0
    leftovers: Mapping[str, list[str]] = field(default_factory=dict)


class Stack:
    """The chat stack's Terraform root, run against one target."""

    def __init__(self, target: Target, terraform: Terraform | None = None) -> None:
        self.target = target
        self.terraform = terraform or Terraform(target.terraform_settings())

    @property
    def plan_path(self) -> Path:
        return self.target.data_dir / "chatops.tfplan"

    # --- preparation ----------------------------------------------------------------

    def needs_init(self) -> bool:
        data_dir = self.target.data_dir
        modules_file = data_dir / "modules" / "modules.json"
        if not modules_file.is_file() or not (data_dir / "providers").is_dir():
            return True
        try:
            installed = {m["Key"] for m in json.loads(modules_file.read_text())["Modules"]}
        except (OSError, ValueError, KeyError, TypeError):
            return True
        declared: set[str] = set()
        for path in self.target.project.terraform_dir.glob("*.tf"):
            declared.update(_MODULE_BLOCK.findall(path.read_text()))
        return not declared <= installed

    def init(self, on_line: LineHandler | None = None, *, upgrade: bool = False) -> None:
        self.target.data_dir.mkdir(parents=True, exist_ok=True)
        self.terraform.init(on_line=on_line, upgrade=upgrade)

    def check(self) -> None:
        """Terraform recent enough; no local state left over from a vanished emulator."""
        self.terraform.check_version()
        self.target.check_local_state()

    def _variables(self, variables: Mapping[str, str]) -> dict[str, str]:
        merged = dict(variables)
        if self.target.region and "aws_region" not in merged:
            merged["aws_region"] = self.target.region
        return merged

    # --- commands -------------------------------------------------------------------

    def plan(
        self,
        variables: Mapping[str, str] | None = None,
        var_files: Sequence[Path] = (),
        *,
        on_event: EventHandler | None = None,
    ) -> Plan:
        self.plan_path.parent.mkdir(parents=True, exist_ok=True)
        variables = variables or {}
        result = self.terraform.plan(
            self.plan_path,
            self._variables(variables),
            self.var_files(var_files),
            on_event=on_event,
        )
        summary = self.terraform.show_plan(result.path)
        warnings = [o.message() for o in self.overrides(var_files, variables)]
        return Plan(
            path=result.path,
            summary=summary,
            given={name: value for name, value in variables.items() if name in LIVE_VARIABLES},
            warnings=(*warnings, *stops_serving(summary)),
        )

    def var_files(self, given: Sequence[Path] = ()) -> list[Path]:
        """The -var-file list of a plan: the user's files first, chatops' record last.

        Terraform gives the last -var-file the last word, and ranks every -var-file
        above *.auto.tfvars, so the AWS record (auto-loaded for plain `terraform`) is
        passed explicitly too: what chatops changed live survives a user's var file.
        A -var (after every file) still beats the record.
        """
        return [*given, *self.target.record_files()]

    def overrides(
        self, var_files: Sequence[Path], variables: Mapping[str, str] | None = None
    ) -> list[Override]:
        """Where a user's var file sets a recorded variable to another value (and no --var
        on this command names it): the record wins, and the user should know."""
        recorded = read_live_variables(self.target.weights_path)
        found = []
        for path in var_files:
            for name, value in file_assignments(path).items():
                if name in recorded and name not in (variables or {}):
                    if not same_value(value, recorded[name]):
                        found.append(Override(path, name, value, recorded[name]))
        return found

    def apply(
        self, plan: Plan, *, on_event: EventHandler | None = None, targeted: bool = False
    ) -> dict[str, OutputValue]:
        """Apply a saved plan. `targeted`: a plan of some resources alone (-target), after
        which outputs that depend on nothing targeted may still hold older values, so the
        traffic record is left as it is."""
        try:
            self.terraform.apply(plan.path, on_event=on_event)
        finally:
            # Whatever happened, the state now reflects this emulator.
            self.target.record_state_owner()
            plan.path.unlink(missing_ok=True)
        outputs = self.outputs()
        if not targeted:
            self._remember_traffic(outputs)
            self.record_given(plan)
        return outputs

    def record_given(self, plan: Plan) -> None:
        """A --var of a live variable becomes the record (also when the plan changed
        nothing: a later var file must not undo it)."""
        if plan.given:
            values = {name: literal(value) for name, value in plan.given.items()}
            record_live_variables(self.target.weights_path, **values)

    def _remember_traffic(self, outputs: Mapping[str, OutputValue]) -> None:
        """Keep the traffic record in step with what was just applied."""
        if "listener_arn" not in outputs:
            return
        record_path = self.traffic_record_path
        record = TrafficRecord.load(record_path)
        record.endpoints = Endpoints.from_outputs(outputs)
        applied = Weights(
            blue=int(outputs["blue_weight"].value), green=int(outputs["green_weight"].value)
        )
        holder = applied.holder()
        if holder is not None:
            record.stable = holder
        record.weights = applied
        record.save(record_path)
        # A --var on the command line beats the recorded value: keep the record in step
        # with what was applied, so the next plan without the --var changes nothing.
        recorded = read_live_variables(self.target.weights_path)
        applied_values = {name: outputs[name].value for name in recorded if name in outputs}
        if applied_values:
            record_live_variables(self.target.weights_path, **applied_values)

    @property
    def traffic_record_path(self) -> Path:
        return self.target.control_dir / "traffic.json"

    def traffic(
        self,
        *,
        prefer_record: bool = False,
        outputs: Mapping[str, OutputValue] | None = None,
    ) -> TrafficControl:
        """Traffic control of the deployed stack.

        With `prefer_record`, the endpoints come from chatops' record when it has one,
        so no Terraform command runs (rollback must work while a deploy holds the lock).
        """
        record = TrafficRecord.load(self.traffic_record_path)
        endpoints = record.endpoints if prefer_record else None
        if endpoints is None:
            endpoints = Endpoints.from_outputs(outputs if outputs is not None else self.outputs())

        def clients(service: str) -> Any:
            return self.target.client(service, endpoints.region)

        history = History(
            self.target.control_dir / "history.jsonl",
            self.target.label,
            caller=(lambda: None) if self.target.is_local else aws_caller(clients),
        )
        return TrafficControl(
            endpoints, clients, self.traffic_record_path, self.target.weights_path, history
        )

    def history(self) -> History:
        return History(self.target.control_dir / "history.jsonl", self.target.label)

    def configured_weights(
        self, outputs: Mapping[str, OutputValue] | None = None
    ) -> Weights | None:
        """The weights the Terraform configuration holds: chatops' record, else the last apply."""
        recorded = read_weights_file(self.target.weights_path)
        if recorded is not None:
            return recorded
        outputs = outputs if outputs is not None else self.outputs()
        if "blue_weight" in outputs and "green_weight" in outputs:
            return Weights(int(outputs["blue_weight"].value), int(outputs["green_weight"].value))
        return None

    def outputs(self) -> dict[str, OutputValue]:
        return self.terraform.outputs()

    def teardown(self) -> Teardown:
        """What a destroy would remove, from one read of the state."""
        resources, outputs = self.terraform.snapshot()
        values = {name: output.value for name, output in outputs.items()}
        return Teardown(
            resources=len(resources),
            stack_id=StackId.from_outputs(values),
            region=str(values.get("aws_region") or self.target.region or DEFAULT_REGION),
            buckets=sorted(
                str(r.values["bucket"])
                for r in resources
                if r.type == "aws_s3_bucket" and r.values.get("bucket")
            ),
            alb_arn=str(values["alb_arn"]) if values.get("alb_arn") else None,
        )

    def destroy(
        self,
        teardown: Teardown,
        variables: Mapping[str, str] | None = None,
        var_files: Sequence[Path] = (),
        *,
        on_event: EventHandler | None = None,
        on_bucket: Callable[[str, int], None] | None = None,
    ) -> DestroyReport:
        def client(service: str) -> Any:
            return self.target.client(service, teardown.region)

        s3 = client("s3")
        for bucket in teardown.buckets:
            stop_access_logging(s3, bucket)
        emptied = dict.fromkeys(teardown.buckets, 0)

        def empty_all() -> None:
            for bucket in teardown.buckets:
                deleted = empty_bucket(s3, bucket)
                emptied[bucket] += deleted
                if on_bucket and deleted:
                    on_bucket(bucket, deleted)

        empty_all()
        if teardown.alb_arn:
            release_deletion_protection(client("elbv2"), teardown.alb_arn)
        for attempt in range(1, _DESTROY_ATTEMPTS + 1):
            try:
                self.terraform.destroy(
                    self._variables(variables or {}),
                    self.var_files(var_files),
                    on_event=on_event,
                )
                break
            except TerraformFailed as error:
                # Log objects delivered after the emptying (S3 delivers access logs late):
                # empty again and let Terraform finish.
                late_logs = any("BucketNotEmpty" in d.one_line() for d in error.diagnostics)
                if not late_logs or attempt == _DESTROY_ATTEMPTS:
                    raise
                empty_all()
            finally:
                self.target.record_state_owner()
        # The stack is gone: so are its traffic record and recorded weights.
        self.traffic_record_path.unlink(missing_ok=True)
        self.target.weights_path.unlink(missing_ok=True)
        leftovers = find_resources(client, teardown.stack_id) if teardown.stack_id else {}
        if self.target.is_local:
            # The data plane stops the stack's tasks, Redis, ALB and edge as they vanish.
            from chatops.local import wait_until_stopped

            running = wait_until_stopped(self.target.project)
            if running:
                leftovers = {
                    **leftovers,
                    "local:process": [f"{p.role} pid {p.pid}" for p in running],
                }
        return DestroyReport(emptied=emptied, destroyed=teardown.resources, leftovers=leftovers)
