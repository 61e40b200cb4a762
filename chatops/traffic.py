"""Traffic control: live blue/green weights on the ALB listener, without a Terraform run.

`shift` changes the listener's forward weights through the ELBv2 API, reads them back,
and records them where Terraform reads them, so the next plan shows no changes.
`rollback` sends everything back to the stable colour in one API call and needs no
Terraform state lock. `rollout` shifts in steps and watches alarms and target health
while each step bakes. `status` reports live weights, health, tasks, alarms and drift.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import botocore.exceptions

from chatops.errors import ChatopsError, UsageError
from chatops.terraform.models import OutputValue

Colour = Literal["blue", "green"]
COLOURS: tuple[Colour, Colour] = ("blue", "green")
ClientFactory = Callable[[str], Any]


def other(colour: Colour) -> Colour:
    return "green" if colour == "blue" else "blue"


def parse_colour(value: str) -> Colour:
    if value not in COLOURS:
        raise UsageError(f"unknown colour {value!r}", "use blue or green")
    return "blue" if value == "blue" else "green"


# --- weights ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Weights:
    blue: int
    green: int

    @classmethod
    def parse(cls, values: Sequence[str]) -> Weights:
        """Two whole numbers 0-100 summing to 100, as typed on the command line."""
        if len(values) != 2:
            raise UsageError(
                f"expected two weights, BLUE and GREEN; got {len(values)}",
                "for example: chatops shift 90 10",
            )
        numbers = []
        for value in values:
            text = value.strip()
            if not text.lstrip("-").isdigit():
                raise UsageError(
                    f"weights must be whole numbers from 0 to 100; {value!r} is not one",
                    "for example: chatops shift 90 10",
                )
            number = int(text)
            if not 0 <= number <= 100:
                raise UsageError(
                    f"weights must be whole numbers from 0 to 100; {number} is outside that range",
                    "for example: chatops shift 90 10",
                )
            numbers.append(number)
        blue, green = numbers
        if blue + green != 100:
            raise UsageError(
                f"the weights must sum to 100; blue {blue} + green {green} = {blue + green}",
                f"for example: chatops shift {blue} {100 - blue}",
            )
        return cls(blue=blue, green=green)

    @classmethod
    def all_to(cls, colour: Colour) -> Weights:
        return cls(blue=100, green=0) if colour == "blue" else cls(blue=0, green=100)

    def of(self, colour: Colour) -> int:
        return self.blue if colour == "blue" else self.green

    def holder(self) -> Colour | None:
        """The colour receiving all traffic, if one does."""
        if self.blue == 100:
            return "blue"
        if self.green == 100:
            return "green"
        return None

    def as_dict(self) -> dict[str, int]:
        return {"blue": self.blue, "green": self.green}

    def __str__(self) -> str:
        return f"blue {self.blue}% / green {self.green}%"


# --- what traffic control needs to know about the stack -------------------------------


@dataclass(frozen=True)
class Endpoints:
    region: str
    listener_arn: str
    target_groups: Mapping[str, str]
    cluster: str
    services: Mapping[str, str]
    alarms: Mapping[str, str] = field(default_factory=dict)
    alarm_colours: Mapping[str, str | None] = field(default_factory=dict)

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
        )


@dataclass
class TrafficRecord:
    """chatops' memory of a stack's traffic: where it is, and which colour is stable."""

    endpoints: Endpoints | None = None
    stable: Colour = "blue"
    weights: Weights | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> TrafficRecord:
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        endpoints = Endpoints(**raw["endpoints"]) if raw.get("endpoints") else None
        weights = Weights(**raw["weights"]) if raw.get("weights") else None
        stable: Colour = "green" if raw.get("stable") == "green" else "blue"
        return cls(endpoints, stable, weights, list(raw.get("history", []))[-50:])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "endpoints": asdict(self.endpoints) if self.endpoints else None,
            "stable": self.stable,
            "weights": self.weights.as_dict() if self.weights else None,
            "history": self.history[-50:],
        }
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=2))
        temporary.replace(path)

    def note(self, old: Weights, new: Weights, action: str) -> None:
        # A rollout starts from a colour holding 100%; that colour is the stable one
        # until another colour holds 100% in turn.
        old_holder, new_holder = old.holder(), new.holder()
        if new_holder is not None:
            self.stable = new_holder
        elif old_holder is not None:
            self.stable = old_holder
        self.weights = new
        self.history.append(
            {"at": time.time(), "action": action, "from": old.as_dict(), "to": new.as_dict()}
        )


def write_weights_file(path: Path, weights: Weights) -> None:
    """The Terraform variables file recording the live weights."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(
        json.dumps({"blue_weight": weights.blue, "green_weight": weights.green}, indent=2) + "\n"
    )
    temporary.replace(path)


def read_weights_file(path: Path) -> Weights | None:
    try:
        raw = json.loads(path.read_text())
        return Weights(blue=int(raw["blue_weight"]), green=int(raw["green_weight"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftResult:
    before: Weights
    after: Weights
    seconds: float

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class ColourHealth:
    healthy: int = 0
    unhealthy: int = 0
    draining: int = 0
    initial: int = 0
    other: int = 0
    running: int = 0
    desired: int = 0
    pending: int = 0
    image: str | None = None
    task_definition: str | None = None

    @property
    def targets(self) -> int:
        return self.healthy + self.unhealthy + self.draining + self.initial + self.other


@dataclass(frozen=True)
class AlarmState:
    key: str
    name: str
    colour: str | None
    state: str
    reason: str = ""


class ReadBackMismatch(ChatopsError):
    pass


class RolloutFailed(ChatopsError):
    pass


class UnhealthyColour(ChatopsError):
    pass


# --- the controller --------------------------------------------------------------------


class TrafficControl:
    """Reads and moves one stack's traffic through the AWS APIs (no Terraform)."""

    def __init__(
        self,
        endpoints: Endpoints,
        clients: ClientFactory,
        record_path: Path,
        weights_path: Path,
    ) -> None:
        self.endpoints = endpoints
        self.clients = clients
        self.record_path = record_path
        self.weights_path = weights_path
        self._elbv2: Any = None

    @property
    def elbv2(self) -> Any:
        if self._elbv2 is None:
            self._elbv2 = self.clients("elbv2")
        return self._elbv2

    def _listener_action(self) -> dict[str, Any]:
        try:
            listener = self.elbv2.describe_listeners(ListenerArns=[self.endpoints.listener_arn])
        except botocore.exceptions.ClientError as error:
            raise ChatopsError(
                f"cannot read the listener {self.endpoints.listener_arn}: "
                f"{error.response['Error'].get('Message', error)}",
                "is the stack deployed on this target? `chatops status` and `chatops deploy`",
            ) from None
        actions = listener["Listeners"][0]["DefaultActions"]
        forward = [a for a in actions if a.get("Type") == "forward"]
        if not forward or "ForwardConfig" not in forward[0]:
            raise ChatopsError(
                "the listener does not forward to the blue and green target groups",
                "redeploy the stack with `chatops deploy` to restore its forward action",
            )
        action: dict[str, Any] = forward[0]
        return action

    def _weights_of(self, action: Mapping[str, Any]) -> Weights:
        by_arn = {
            group["TargetGroupArn"]: int(group.get("Weight", 0))
            for group in action["ForwardConfig"]["TargetGroups"]
        }
        groups = self.endpoints.target_groups
        if set(by_arn) != {groups["blue"], groups["green"]}:
            raise ChatopsError(
                "the listener forwards to other target groups than the stack's blue and green",
                "redeploy the stack with `chatops deploy`",
            )
        return Weights(blue=by_arn[groups["blue"]], green=by_arn[groups["green"]])

    def live_weights(self) -> Weights:
        return self._weights_of(self._listener_action())

    def _apply(self, weights: Weights) -> Weights:
        """Set the forward weights in one ModifyListener call; return the previous ones."""
        action = self._listener_action()
        before = self._weights_of(action)
        forward = dict(action["ForwardConfig"])
        forward["TargetGroups"] = [
            {"TargetGroupArn": self.endpoints.target_groups[colour], "Weight": weights.of(colour)}
            for colour in COLOURS
        ]
        new_action = {"Type": "forward", "ForwardConfig": forward}
        self.elbv2.modify_listener(
            ListenerArn=self.endpoints.listener_arn, DefaultActions=[new_action]
        )
        confirmed = self.live_weights()
        if confirmed != weights:
            raise ReadBackMismatch(
                f"the listener reports {confirmed} after setting {weights}",
                "another change may be in flight; check `chatops status` and try again",
            )
        return before

    def _record(self, before: Weights, after: Weights, action: str) -> None:
        record = TrafficRecord.load(self.record_path)
        record.endpoints = self.endpoints
        record.note(before, after, action)
        record.save(self.record_path)
        write_weights_file(self.weights_path, after)

    # --- health ----------------------------------------------------------------------

    def colour_health(self, colour: Colour) -> ColourHealth:
        elbv2, ecs = self.elbv2, self.clients("ecs")
        targets = elbv2.describe_target_health(TargetGroupArn=self.endpoints.target_groups[colour])[
            "TargetHealthDescriptions"
        ]
        counts: dict[str, int] = {}
        for target in targets:
            state = target["TargetHealth"]["State"]
            key = state if state in ("healthy", "unhealthy", "draining", "initial") else "other"
            counts[key] = counts.get(key, 0) + 1
        services = ecs.describe_services(
            cluster=self.endpoints.cluster, services=[self.endpoints.services[colour]]
        )["services"]
        service = services[0] if services else {}
        task_definition = service.get("taskDefinition")
        image = None
        if task_definition:
            definition = ecs.describe_task_definition(taskDefinition=task_definition)
            containers = definition["taskDefinition"]["containerDefinitions"]
            app = next((c for c in containers if c["name"] == "app"), containers[0])
            image = app.get("image")
        return ColourHealth(
            healthy=counts.get("healthy", 0),
            unhealthy=counts.get("unhealthy", 0),
            draining=counts.get("draining", 0),
            initial=counts.get("initial", 0),
            other=counts.get("other", 0),
            running=int(service.get("runningCount", 0)),
            desired=int(service.get("desiredCount", 0)),
            pending=int(service.get("pendingCount", 0)),
            image=image,
            task_definition=task_definition,
        )

    def require_ready(self, colours: Sequence[Colour]) -> None:
        """Every colour in `colours` has running tasks and healthy targets."""
        if not colours:
            return
        services = self.clients("ecs").describe_services(
            cluster=self.endpoints.cluster,
            services=[self.endpoints.services[colour] for colour in colours],
        )["services"]
        running = {s["serviceName"]: int(s.get("runningCount", 0)) for s in services}
        for colour in colours:
            targets = self.elbv2.describe_target_health(
                TargetGroupArn=self.endpoints.target_groups[colour]
            )["TargetHealthDescriptions"]
            healthy = sum(1 for t in targets if t["TargetHealth"]["State"] == "healthy")
            tasks = running.get(self.endpoints.services[colour], 0)
            if tasks == 0 or healthy == 0:
                raise UnhealthyColour(
                    f"{colour} cannot take traffic: {tasks} running task(s), "
                    f"{healthy} of {len(targets)} target(s) healthy",
                    f"wait for {colour}'s tasks to pass their health checks (`chatops status`), "
                    "or pass --force to shift anyway",
                )

    def alarms(self) -> list[AlarmState]:
        names = dict(self.endpoints.alarms)
        if not names:
            return []
        found = self.clients("cloudwatch").describe_alarms(AlarmNames=list(names.values()))
        by_name = {alarm["AlarmName"]: alarm for alarm in found.get("MetricAlarms", [])}
        return [
            AlarmState(
                key=key,
                name=name,
                colour=self.endpoints.alarm_colours.get(key),
                state=str(by_name.get(name, {}).get("StateValue", "MISSING")),
                reason=str(by_name.get(name, {}).get("StateReason", "")),
            )
            for key, name in sorted(names.items())
        ]

    # --- commands ----------------------------------------------------------------------

    def shift(self, weights: Weights, *, force: bool = False) -> ShiftResult:
        started = time.monotonic()
        if not force:
            self.require_ready([colour for colour in COLOURS if weights.of(colour) > 0])
        before = self._apply(weights)
        self._record(before, weights, "shift")
        return ShiftResult(before=before, after=weights, seconds=time.monotonic() - started)

    def stable_colour(self) -> Colour:
        return TrafficRecord.load(self.record_path).stable

    def rollback(self) -> tuple[Colour, ShiftResult]:
        """All traffic to the stable colour: one ModifyListener call, no health gate."""
        started = time.monotonic()
        stable = self.stable_colour()
        target = Weights.all_to(stable)
        before = self.live_weights()
        if before != target:
            before = self._apply(target)
        self._record(before, target, "rollback")
        return stable, ShiftResult(before=before, after=target, seconds=time.monotonic() - started)


# --- progressive rollout ---------------------------------------------------------------


@dataclass(frozen=True)
class RolloutEvent:
    kind: Literal["step", "tick", "rollback", "done"]
    step: int
    steps: int
    weights: Weights
    remaining: float = 0.0
    health: ColourHealth | None = None
    firing: tuple[str, ...] = ()
    reason: str = ""


def rollout_steps(to: Colour, percentages: Sequence[int]) -> list[Weights]:
    """Weights per step, always ending with everything on `to`."""
    cleaned = list(percentages)
    if not cleaned or any(not 1 <= p <= 100 for p in cleaned):
        raise UsageError(
            "rollout steps must be percentages from 1 to 100", "for example: --steps 10,50,100"
        )
    if any(b <= a for a, b in zip(cleaned, cleaned[1:], strict=False)):
        raise UsageError("rollout steps must increase", "for example: --steps 10,50,100")
    if cleaned[-1] != 100:
        cleaned.append(100)
    return [
        Weights(blue=100 - p, green=p) if to == "green" else Weights(blue=p, green=100 - p)
        for p in cleaned
    ]


def parse_steps(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(
            f"--steps takes comma-separated whole percentages; got {text!r}",
            "for example: --steps 10,50,100",
        ) from None


def rollout(
    control: TrafficControl,
    to: Colour,
    steps: Sequence[Weights],
    *,
    bake: float,
    poll: float = 5.0,
    force: bool = False,
    observe: Callable[[RolloutEvent], None] = lambda event: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Weights:
    """Shift step by step; roll back on any alarm, unhealthy target or Ctrl-C."""
    firing = [a for a in control.alarms() if a.state == "ALARM"]
    if firing and not force:
        raise RolloutFailed(
            "not starting: alarms are already firing: " + ", ".join(a.name for a in firing),
            "fix what they report first, or pass --force",
        )
    start = control.live_weights()
    if start.holder() is not None and start.holder() != to:
        record = TrafficRecord.load(control.record_path)
        record.stable = other(to)
        record.save(control.record_path)

    def roll_back(reason: str, index: int) -> None:
        stable, result = control.rollback()
        observe(RolloutEvent("rollback", index, len(steps), result.after, reason=reason))

    for index, weights in enumerate(steps, start=1):
        try:
            control.shift(weights, force=force)
            observe(RolloutEvent("step", index, len(steps), weights))
            deadline = time.monotonic() + bake
            while True:
                health = control.colour_health(to)
                firing_now = tuple(a.name for a in control.alarms() if a.state == "ALARM")
                remaining = max(0.0, deadline - time.monotonic())
                observe(
                    RolloutEvent("tick", index, len(steps), weights, remaining, health, firing_now)
                )
                reason = ""
                if firing_now:
                    reason = "alarm in ALARM: " + ", ".join(firing_now)
                elif health.unhealthy or health.healthy == 0:
                    reason = (
                        f"{to} has {health.healthy} healthy and {health.unhealthy} unhealthy "
                        "target(s)"
                    )
                if reason:
                    roll_back(reason, index)
                    raise RolloutFailed(
                        f"rollout to {to} stopped at step {index} of {len(steps)} ({weights}): "
                        f"{reason}; traffic rolled back to {control.stable_colour()}",
                        "investigate with `chatops status` and the CloudWatch dashboard",
                    )
                if remaining <= 0:
                    break
                sleep(min(poll, remaining))
        except KeyboardInterrupt:
            roll_back("interrupted", index)
            raise RolloutFailed(
                f"rollout to {to} interrupted at step {index} of {len(steps)}; "
                f"traffic rolled back to {control.stable_colour()}",
                "run the rollout again when ready",
            ) from None
        except UnhealthyColour:
            if index > 1:
                roll_back(f"{to} stopped being ready", index)
            raise
    final = steps[-1]
    observe(RolloutEvent("done", len(steps), len(steps), final))
    return final


# --- status ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusReport:
    target: str
    live: Weights
    configured: Weights | None
    stable: Colour
    colours: Mapping[str, ColourHealth]
    alarms: Sequence[AlarmState]
    reconcile_command: str | None

    @property
    def drift(self) -> bool:
        return self.configured is not None and self.configured != self.live

    @property
    def firing(self) -> list[AlarmState]:
        return [alarm for alarm in self.alarms if alarm.state == "ALARM"]

    def to_json(self) -> dict[str, Any]:
        """The documented `chatops status --json` schema (README, "Status JSON")."""
        return {
            "target": self.target,
            "weights": self.live.as_dict(),
            "configured_weights": self.configured.as_dict() if self.configured else None,
            "drift": self.drift,
            "reconcile": self.reconcile_command if self.drift else None,
            "stable": self.stable,
            "colours": {
                colour: {
                    "weight": self.live.of(colour),
                    "targets": {
                        "healthy": health.healthy,
                        "unhealthy": health.unhealthy,
                        "draining": health.draining,
                        "initial": health.initial,
                        "other": health.other,
                        "total": health.targets,
                    },
                    "tasks": {
                        "running": health.running,
                        "desired": health.desired,
                        "pending": health.pending,
                    },
                    "image": health.image,
                    "task_definition": health.task_definition,
                }
                for colour, health in ((c, self.colours[c]) for c in COLOURS)
            },
            "alarms": [
                {"key": a.key, "name": a.name, "colour": a.colour, "state": a.state}
                for a in self.alarms
            ],
            "alarms_firing": [a.name for a in self.firing],
        }


def status(
    control: TrafficControl, configured: Weights | None, target: str, shift_command: str
) -> StatusReport:
    live = control.live_weights()
    reconcile = f"{shift_command} {configured.blue} {configured.green}" if configured else None
    return StatusReport(
        target=target,
        live=live,
        configured=configured,
        stable=control.stable_colour(),
        colours={colour: control.colour_health(colour) for colour in COLOURS},
        alarms=control.alarms(),
        reconcile_command=reconcile,
    )
