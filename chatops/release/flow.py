"""`chatops release`: turn app/ into a version running on the idle colour.

1. The colour: the one without traffic (weight 0). None idle (a rollout in progress)
   is refused; the colour holding traffic only with `force`.
2. The image. On AWS: the version (the commit that last changed a clean app/, or
   `--version`), app/Dockerfile built for the stack's CPU architecture and pushed to
   its ECR repository, unless that tag is already there (tags are immutable). Locally:
   a content-addressed snapshot of app/ (`localhost/chatapp:<id>`).
3. Terraform, on that colour only: a plan limited to its task definition and service
   (`-target`), with `<colour>_image` (and a desired count when it ran none), refused
   if it would change anything else; then apply, and record the image for Terraform
   the way weights are recorded, so the next full plan shows no changes.
4. The wait: until the colour's new tasks run and serve, or the circuit breaker gives
   the deployment up.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatops.emulator.manager import APP_DIR_ENV
from chatops.errors import ChatopsError, UsageError
from chatops.project import Project
from chatops.release.builders import (
    Builder,
    LineHandler,
    build_and_push,
    detect_builder,
    platform_for,
)
from chatops.release.registry import ecr_credentials, ecr_has_image, split_repository
from chatops.release.snapshots import take_snapshot
from chatops.release.tasks import Progress, TaskWatch, wait_for_tasks
from chatops.release.version import Version, resolve_version
from chatops.stack import Plan, Stack
from chatops.targets import Target
from chatops.terraform.models import OutputValue, parse_plan
from chatops.terraform.runner import EventHandler, show_args
from chatops.traffic import (
    COLOURS,
    Colour,
    TrafficControl,
    Weights,
    other,
    read_live_variables,
    record_live_variables,
)

DEFAULT_ARCHITECTURE = "X86_64"

# What a release may change: the colour's task definition and service, and only there
# what a new image changes (and its task count, from 0).
_TASK_DEFINITION = 'module.ecs.aws_ecs_task_definition.this["{}"]'
_SERVICE = 'module.ecs.aws_ecs_service.this["{}"]'
_GUARDED = {
    "aws_ecs_task_definition": (
        "cpu",
        "memory",
        "family",
        "network_mode",
        "requires_compatibilities",
        "runtime_platform",
        "execution_role_arn",
        "task_role_arn",
        "volume",
    ),
    "aws_ecs_service": (
        "capacity_provider_strategy",
        "deployment_circuit_breaker",
        "deployment_maximum_percent",
        "deployment_minimum_healthy_percent",
        "enable_execute_command",
        "health_check_grace_period_seconds",
        "launch_type",
        "load_balancer",
        "network_configuration",
    ),
}


class NoIdleColour(ChatopsError):
    pass


class UnexpectedChanges(ChatopsError):
    pass


def app_dir(project: Project) -> Path:
    """The app a release builds: $CHATOPS_APP_DIR (which also tells the local data plane
    what an image that is no snapshot runs), else app/ beside the Terraform root."""
    configured = os.environ.get(APP_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return project.terraform_dir.parent / "app"


def images_dir(project: Project) -> Path:
    """Where local snapshots live: `<local dir>/images/<id>/`."""
    return project.local_dir / "images"


# --- which colour ---------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    colour: Colour
    weight: int  # the colour's share of new connections now

    @property
    def serving(self) -> bool:
        return self.weight > 0

    @property
    def risk(self) -> str | None:
        if not self.serving:
            return None
        return (
            f"{self.colour} receives {self.weight}% of new connections: its tasks are replaced "
            "under live traffic (their clients reconnect), and the new version takes that "
            "traffic at once, without a rollout and with no colour left on the old version "
            "to roll back to"
        )


def choose_colour(weights: Weights, to: Colour | None, force: bool) -> Choice:
    """The colour to release to: the idle one, or `to` (which needs `force` if it serves)."""
    if to is None:
        idle = [colour for colour in COLOURS if weights.of(colour) == 0]
        if not idle:
            raise NoIdleColour(
                f"no colour is idle ({weights}): a rollout is in progress, and releasing now "
                "would replace tasks that serve users",
                "finish it (`chatops rollout --to <colour>`) or undo it (`chatops rollback`) "
                "first; to release onto a serving colour anyway: --to <colour> --force",
            )
        return Choice(idle[0], 0)
    choice = Choice(to, weights.of(to))
    if choice.serving and not force:
        alternative = (
            f"drop --to to release to the idle colour, {other(to)}"
            if weights.of(other(to)) == 0
            else "finish the rollout first"
        )
        raise UsageError(f"{choice.risk}", f"{alternative}, or pass --force to accept the risk")
    return choice


# --- what gets released ---------------------------------------------------------------


@dataclass(frozen=True)
class Artefact:
    """The image a release puts on the colour, and how it was (or will be) made."""

    image: str
    version: Version
    local: bool
    builder: Builder | None = None
    platform: str | None = None
    exists: bool = False  # already in the registry (not rebuilt) / snapshot already taken
    repository: str | None = None


@dataclass(frozen=True)
class Intent:
    """What the release is about to do, for the confirmation."""

    target: str
    choice: Choice
    artefact: Artefact
    previous_version: str | None
    tasks: int


@dataclass(frozen=True)
class ReleaseOptions:
    to: Colour | None = None
    version: str | None = None
    force: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)
    var_files: Sequence[Path] = ()
    wait: bool = True
    timeout: float = 600.0
    poll: float = 2.0
    reason: str | None = None


@dataclass
class ReleaseHooks:
    """How the command shows the release as it happens (and asks before it changes anything)."""

    confirm: Callable[[Intent], None] = lambda intent: None
    step: Callable[[str], None] = lambda message: None
    build_line: LineHandler = lambda line: None
    plan_event: EventHandler = lambda event: None
    apply_event: EventHandler = lambda event: None
    apply_total: Callable[[int], None] = lambda total: None
    observe: Callable[[Progress], None] = lambda progress: None


@dataclass(frozen=True)
class ReleaseResult:
    colour: Colour
    version: str
    image: str
    previous_version: str | None
    built: bool
    changed: bool
    tasks: int
    progress: Progress | None
    seconds: float
    next_command: str | None
    local: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "colour": self.colour,
            "version": self.version,
            "image": self.image,
            "previous_version": self.previous_version,
            "built": self.built,
            "changed": self.changed,
            "tasks": self.tasks,
            "serving": None if self.progress is None else self.progress.healthy,
            "seconds": round(self.seconds, 1),
            "next": self.next_command,
        }


def _output(outputs: Mapping[str, OutputValue], name: str) -> Any:
    return outputs[name].value if name in outputs else None


def local_artefact(project: Project) -> Artefact:
    snapshot = take_snapshot(app_dir(project), images_dir(project))
    return Artefact(
        image=snapshot.image,
        version=Version(snapshot.id, f"snapshot of app/, {snapshot.files} files"),
        local=True,
        exists=not snapshot.created,
    )


def aws_artefact(
    target: Target, outputs: Mapping[str, OutputValue], version: str | None
) -> Artefact:
    """Version, builder and platform of an AWS release; whether ECR holds it already."""
    resolved = resolve_version(app_dir(target.project), version)
    repository_url = _output(outputs, "ecr_repository_url")
    if not repository_url:
        raise ChatopsError(
            "the stack has no ECR repository in its outputs", "deploy it with `chatops deploy`"
        )
    _, repository = split_repository(str(repository_url))
    region = str(_output(outputs, "aws_region") or target.region or "")
    exists = ecr_has_image(target.client("ecr", region or None), repository, resolved.tag)
    architecture = str(_output(outputs, "cpu_architecture") or DEFAULT_ARCHITECTURE)
    return Artefact(
        image=f"{repository_url}:{resolved.tag}",
        version=resolved,
        local=False,
        builder=None if exists else detect_builder(),
        platform=platform_for(architecture),
        exists=exists,
        repository=repository,
    )


# --- desired count -------------------------------------------------------------------


def configured_count(
    colour: Colour, recorded: Mapping[str, Any], outputs: Mapping[str, OutputValue]
) -> int:
    """The colour's desired count in the configuration: chatops' record, else the last apply."""
    name = f"{colour}_desired_count"
    value = recorded.get(name, _output(outputs, name))
    try:
        return int(value)
    except (TypeError, ValueError):
        return 1


def tasks_for_release(
    colour: Colour, recorded: Mapping[str, Any], outputs: Mapping[str, OutputValue]
) -> tuple[int, bool]:
    """(tasks the released colour runs, whether that changes its configured count).

    A colour configured for 0 tasks (never released on a profile that idles it, or
    retired) gets as many as the other colour, at least 1: it must be able to take all
    the traffic once rolled out.
    """
    configured = configured_count(colour, recorded, outputs)
    if configured > 0:
        return configured, False
    return max(1, configured_count(other(colour), recorded, outputs)), True


# --- Terraform -------------------------------------------------------------------------


def unexpected_changes(document: Mapping[str, Any], colour: Colour) -> list[str]:
    """What a release plan would change beyond the colour's image and task count."""
    allowed = {_TASK_DEFINITION.format(colour), _SERVICE.format(colour)}
    found: list[str] = []
    for change in document.get("resource_changes") or []:
        if change.get("mode") == "data":
            continue
        details = change.get("change") or {}
        actions = tuple(details.get("actions") or ("no-op",))
        if actions in (("no-op",), ("read",)):
            continue
        address = str(change.get("address"))
        if address not in allowed:
            found.append(f"{address} ({'/'.join(actions)})")
            continue
        before = details.get("before") or {}
        after = details.get("after") or {}
        unknown = details.get("after_unknown") or {}
        for name in _GUARDED.get(str(change.get("type")), ()):
            if not _same(before.get(name), after.get(name), unknown.get(name)):
                found.append(f"{address}: {name}")
    return found


def _same(before: Any, after: Any, unknown: Any) -> bool:
    """Whether a planned value keeps the prior one: values known only after apply count
    as kept, and so do null and empty (the provider reads back "" where config has null)."""
    if unknown is True:
        return True
    if isinstance(before, dict) and isinstance(after, dict):
        nested = unknown if isinstance(unknown, dict) else {}
        keys = set(before) | set(after)
        return all(_same(before.get(k), after.get(k), nested.get(k)) for k in keys)
    if isinstance(before, list) and isinstance(after, list):
        nested_list = unknown if isinstance(unknown, list) else []
        return len(before) == len(after) and all(
            _same(b, a, nested_list[i] if i < len(nested_list) else None)
            for i, (b, a) in enumerate(zip(before, after, strict=True))
        )
    if before in (None, "", [], {}, False) and after in (None, "", [], {}, False):
        return True
    return bool(before == after)


def plan_release(
    stack: Stack,
    colour: Colour,
    variables: Mapping[str, str],
    var_files: Sequence[Path],
    *,
    on_event: EventHandler | None = None,
) -> Plan:
    """A plan of the colour's task definition and service alone, in a file of its own."""
    merged = dict(variables)
    if stack.target.region and "aws_region" not in merged:
        merged["aws_region"] = stack.target.region
    stack.target.data_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f"chatops-release-{colour}-", suffix=".tfplan", dir=stack.target.data_dir
    )
    os.close(handle)
    path = Path(name)
    try:
        stack.terraform.plan(
            path,
            merged,
            stack.var_files(var_files),
            targets=[_TASK_DEFINITION.format(colour), _SERVICE.format(colour)],
            on_event=on_event,
        )
        _, shown, _ = stack.terraform.run(show_args(path))
        document = json.loads(shown)
        surprises = unexpected_changes(document, colour)
        if surprises:
            raise UnexpectedChanges(
                f"releasing to {colour} would change more than its image and task count: "
                + ", ".join(surprises),
                "give the release the variables you deploy with (--var-file, --var), or "
                "apply the configuration first with `chatops deploy`",
            )
        return Plan(path=path, summary=parse_plan(document))
    except BaseException:
        path.unlink(missing_ok=True)
        raise


# --- the release ---------------------------------------------------------------------


def release(
    stack: Stack, options: ReleaseOptions, hooks: ReleaseHooks | None = None
) -> ReleaseResult:
    hooks = hooks or ReleaseHooks()
    started = time.monotonic()
    target = stack.target
    if target.is_local and options.version is not None:
        raise UsageError(
            "a local release is named by its content (the snapshot id), not by --version",
            "drop --version, or release to AWS (without --local) to build a named image",
        )
    outputs = stack.outputs()
    control = stack.traffic(outputs=outputs)
    choice = choose_colour(control.live_weights(), options.to, options.force)
    colour = choice.colour
    owned = {f"{colour}_image", f"{colour}_desired_count"}
    clashing = sorted(owned & set(options.variables))
    if clashing:
        raise UsageError(
            f"the release sets {', '.join(clashing)} itself",
            f"drop --var {clashing[0]}=...; use --version to name the build",
        )
    previous = control.colour_health(colour, with_connections=False)
    artefact = (
        local_artefact(target.project)
        if target.is_local
        else aws_artefact(target, outputs, options.version)
    )
    recorded = read_live_variables(target.weights_path)
    tasks, count_changes = tasks_for_release(colour, recorded, outputs)
    hooks.confirm(Intent(target.label, choice, artefact, previous.version, tasks))

    built = False
    if not artefact.local and not artefact.exists:
        assert artefact.builder is not None and artefact.platform is not None
        hooks.step(
            f"Building app/ as {artefact.image} for {artefact.platform} with "
            f"{artefact.builder.name}..."
        )
        credentials = ecr_credentials(target.client("ecr", _output(outputs, "aws_region")))
        build_and_push(
            artefact.builder,
            artefact.image,
            app_dir(target.project),
            platform=artefact.platform,
            credentials=credentials,
            on_line=hooks.build_line,
        )
        built = True

    variables = {**options.variables, f"{colour}_image": artefact.image}
    if count_changes:
        variables[f"{colour}_desired_count"] = str(tasks)
    hooks.step(f"Planning {colour}'s task definition and service...")
    plan = plan_release(stack, colour, variables, options.var_files, on_event=hooks.plan_event)
    changed = plan.has_changes
    if changed:
        hooks.apply_total(
            sum(2 if change.kind == "replace" else 1 for change in plan.summary.pending)
        )
        stack.apply(plan, on_event=hooks.apply_event, targeted=True)
    else:
        plan.path.unlink(missing_ok=True)
    # Recorded once applied (a later apply of the whole stack would otherwise undo it),
    # the task count too: a var file that idles this colour must not stop it later.
    record_live_variables(
        target.weights_path, **{f"{colour}_image": artefact.image, f"{colour}_desired_count": tasks}
    )
    if changed:
        control.history.record(
            "release",
            {"version": previous.version},
            {"version": artefact.version.tag},
            colour=colour,
            reason=options.reason,
        )

    progress = None
    if options.wait:
        hooks.step(f"Waiting for {colour}'s new tasks to run and serve...")
        progress = wait_for_tasks(
            _watch(control, colour),
            timeout=options.timeout,
            poll=options.poll,
            observe=hooks.observe,
        )
    suffix = " --local" if target.is_local else ""
    return ReleaseResult(
        colour=colour,
        version=artefact.version.tag,
        image=artefact.image,
        previous_version=previous.version,
        built=built,
        changed=changed,
        tasks=tasks,
        progress=progress,
        seconds=time.monotonic() - started,
        next_command=None if choice.serving else f"chatops rollout{suffix} --to {colour}",
        local=target.is_local,
    )


def _watch(control: TrafficControl, colour: Colour) -> TaskWatch:
    endpoints = control.endpoints
    service = control.clients("ecs").describe_services(
        cluster=endpoints.cluster, services=[endpoints.services[colour]]
    )["services"][0]
    return TaskWatch(
        clients=control.clients,
        cluster=endpoints.cluster,
        service=endpoints.services[colour],
        target_group=endpoints.target_groups[colour],
        definition=str(service["taskDefinition"]),
    )


# --- the first local deploy ------------------------------------------------------------


def first_local_images(target: Target, given: Mapping[str, str]) -> dict[str, str]:
    """Images for a local deploy: a snapshot of app/ for each colour that has none yet.

    So a first `chatops deploy --local` ends with both colours serving the checkout's
    app/ as it is now, and a later edit of app/ changes nothing until it is released.
    Empty when both colours have an image (recorded or given) or there is no app/.
    """
    recorded = read_live_variables(target.weights_path)
    missing = [
        colour
        for colour in COLOURS
        if f"{colour}_image" not in given and not recorded.get(f"{colour}_image")
    ]
    source = app_dir(target.project)
    if not missing or not source.is_dir():
        return {}
    snapshot = take_snapshot(source, images_dir(target.project))
    return {f"{colour}_image": snapshot.image for colour in missing}
