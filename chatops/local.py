"""The --local target's housekeeping: status, shell exports, reset, and the data plane
as the user sees it (its processes, the stack's local URLs, waiting until it serves)."""

from __future__ import annotations

import shlex
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatops.emulator.dataplane import alb, vpc
from chatops.emulator.dataplane.state import DataplaneRecord, is_ours
from chatops.emulator.manager import Emulator, EmulatorManager
from chatops.errors import ChatopsError, UsageError
from chatops.inventory import StackId, find_resources
from chatops.project import Project
from chatops.targets import DEFAULT_REGION, LOCAL_CREDENTIALS, Target, read_state


class DataplaneNotServing(ChatopsError):
    """The local data plane did not start serving the stack in time."""


@dataclass(frozen=True)
class LocalStatus:
    running: bool
    endpoint: str | None = None
    pid: int | None = None
    instance_id: str | None = None
    uptime_seconds: float | None = None
    state_resources: int = 0
    stack_resources: dict[str, list[str]] = field(default_factory=dict)
    dataplane: DataplaneStatus | None = None

    @property
    def stack_resource_count(self) -> int:
        return sum(len(names) for names in self.stack_resources.values())

    def to_json(self) -> dict[str, object]:
        return {
            "running": self.running,
            "endpoint": self.endpoint,
            "pid": self.pid,
            "instance_id": self.instance_id,
            "uptime_seconds": round(self.uptime_seconds) if self.uptime_seconds else None,
            "state_resources": self.state_resources,
            "stack_resources": self.stack_resource_count,
            "stack_resources_by_kind": {k: len(v) for k, v in self.stack_resources.items()},
            "dataplane": self.dataplane.to_json() if self.dataplane else None,
        }


def shell_exports(emulator: Emulator, region: str | None = None) -> str:
    """POSIX shell lines that point any AWS SDK or CLI at the emulator."""
    variables = {
        "AWS_ENDPOINT_URL": emulator.endpoint,
        **LOCAL_CREDENTIALS,
        "AWS_REGION": region or DEFAULT_REGION,
        "AWS_DEFAULT_REGION": region or DEFAULT_REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    lines = ["unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
    return "\n".join(lines)


def reset(project: Project) -> Emulator | None:
    """Stop the emulator and forget the local stack: state, saved plan, ownership record."""
    stopped = EmulatorManager(project.local_dir).stop()
    local = project.local_dir
    for name in ("terraform.tfstate", "terraform.tfstate.backup", "state-owner.json"):
        (local / name).unlink(missing_ok=True)
    (local / "terraform" / "chatops.tfplan").unlink(missing_ok=True)
    return stopped


def status(project: Project) -> LocalStatus:
    """Whether the emulator is up, and how much of the local stack it holds."""
    emulator = EmulatorManager(project.local_dir).running()
    state = read_state(project.local_dir / "terraform.tfstate")
    in_state = sum(
        len(resource.get("instances", []))
        for resource in state.get("resources", [])
        if resource.get("mode") == "managed"
    )
    if emulator is None:
        return LocalStatus(running=False, state_resources=in_state)
    # A supervisor that died is noticed and restarted here too, as by any --local command.
    EmulatorManager(project.local_dir).ensure_dataplane(emulator)
    outputs = {name: raw.get("value") for name, raw in state.get("outputs", {}).items()}
    held: dict[str, list[str]] = {}
    stack_id = StackId.from_outputs(outputs)
    if stack_id is not None:
        target = Target(kind="local", project=project, emulator=emulator)
        region = str(outputs.get("aws_region") or DEFAULT_REGION)
        held = find_resources(lambda service: target.client(service, region), stack_id)
    return LocalStatus(
        running=True,
        endpoint=emulator.endpoint,
        pid=emulator.pid,
        instance_id=emulator.instance_id,
        uptime_seconds=time.time() - emulator.started_at,
        state_resources=in_state,
        stack_resources=held,
        dataplane=dataplane_status(project, emulator),
    )


# --- the data plane -------------------------------------------------------------------


@dataclass(frozen=True)
class DataplaneProcess:
    """One process of the local data plane, as `local status` shows it."""

    role: str
    key: str
    pid: int
    address: str
    health: str | None
    colour: str | None = None
    alive: bool = True

    def to_json(self) -> dict[str, object]:
        return {
            "role": self.role,
            "key": self.key,
            "colour": self.colour,
            "pid": self.pid,
            "address": self.address,
            "health": self.health,
            "alive": self.alive,
        }


@dataclass(frozen=True)
class DataplaneStatus:
    supervisor_pid: int | None
    processes: list[DataplaneProcess]
    urls: dict[str, str]
    paths: list[vpc.PathDecision] = field(default_factory=list)  # what the groups allow

    @property
    def closed_paths(self) -> list[vpc.PathDecision]:
        return [p for p in self.paths if not p.open]

    def to_json(self) -> dict[str, object]:
        return {
            "supervisor_pid": self.supervisor_pid,
            "processes": [p.to_json() for p in self.processes],
            "urls": self.urls,
            "paths": [p.to_json() for p in self.paths],
        }


_ROLE_ORDER = {"edge": 0, "alb": 1, "task": 2, "redis": 3, "redis-gate": 4}


def dataplane_status(project: Project, emulator: Emulator | None = None) -> DataplaneStatus:
    """What the data plane runs, from its record, each pid checked."""
    record = DataplaneRecord.load(project.local_dir)
    supervisor = None
    if emulator is not None:
        supervisor = EmulatorManager(project.local_dir).supervisor_pid(emulator)
    processes = [
        DataplaneProcess(
            role=p.role,
            key=p.key,
            pid=p.pid,
            address=p.address,
            health=p.health,
            colour=p.colour,
            alive=is_ours(p.pid, p.marker, p.title),
        )
        for p in record.processes.values()
    ]
    processes.sort(key=lambda p: (_ROLE_ORDER.get(p.role, 9), p.colour or "", p.key))
    urls = {}
    for key, url in record.urls.items():
        role, _, name = key.partition(":")
        urls[f"{'chat' if role == 'edge' else role}:{name}"] = url
    return DataplaneStatus(supervisor, processes, urls, vpc.load(project.local_dir).paths)


@dataclass(frozen=True)
class LocalUrls:
    chat: str | None  # the edge (CloudFront): the web client, /ws and /api
    alb: str | None  # the ALB as the internet reaches it
    alb_origin: str | None = None  # the ALB as CloudFront's addresses reach it


def stack_urls(
    project: Project, distribution_id: str | None, alb_dns_name: str | None
) -> LocalUrls:
    """The local edge and ALB of one stack (by its distribution and load balancer)."""
    record = DataplaneRecord.load(project.local_dir)
    chat = alb = alb_origin = None
    for process in record.processes.values():
        if process.role == "edge" and process.detail.get("id") == distribution_id:
            chat = f"http://127.0.0.1:{process.port}/"
        if process.role == "alb" and process.detail.get("dns_name") == alb_dns_name:
            alb = f"http://127.0.0.1:{process.port}/"
            origin = record.ports.get(f"{process.key}:origin")
            alb_origin = f"http://127.0.0.1:{origin}/" if origin else None
    return LocalUrls(chat, alb, alb_origin)


def _answers(url: str, expect: Callable[[int], bool]) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return expect(response.status)
    except urllib.error.HTTPError as error:
        return expect(error.code)
    except (OSError, urllib.error.URLError):
        return False


def wait_until_serving(
    project: Project,
    distribution_id: str | None,
    alb_dns_name: str | None,
    *,
    timeout: float = 60.0,
    health_path: str | None = "/health",
    edge_only: bool = False,
) -> LocalUrls:
    """The stack's local URLs once the edge serves the site and the ALB reaches a task
    (with `health_path` None: once the ALB answers at all, e.g. a stack with no tasks).
    `edge_only`: the ALB forwards only what comes through the edge (it answers anyone
    else 403), so a task is reached through the edge, at /api/info."""
    deadline = time.monotonic() + timeout

    def alb_serves(urls: LocalUrls) -> bool:
        if urls.alb is None:
            return False
        if health_path is None:  # no task: the listener answers (its internet side is
            # closed to viewers edge-only, so ask the side CloudFront reaches)
            side = urls.alb_origin if edge_only and urls.alb_origin else urls.alb
            return _answers(side, lambda status: status > 0)
        if edge_only:
            return urls.chat is not None and _answers(
                urls.chat.rstrip("/") + "/api/info", lambda status: status == 200
            )
        return _answers(urls.alb.rstrip("/") + health_path, lambda status: status == 200)

    urls = stack_urls(project, distribution_id, alb_dns_name)
    while time.monotonic() < deadline:
        urls = stack_urls(project, distribution_id, alb_dns_name)
        alb_ok = alb_serves(urls)
        edge_ok = urls.chat is not None and _answers(urls.chat, lambda status: status < 500)
        if alb_ok and (edge_ok or distribution_id is None):
            return urls
        time.sleep(0.2)
    missing = []
    if urls.alb is None:
        missing.append("no local ALB runs")
    elif not alb_serves(urls):
        missing.append(f"the ALB ({urls.alb}) reaches no healthy task")
    if distribution_id and urls.chat is None:
        missing.append("no local edge runs")
    raise DataplaneNotServing(
        f"the local stack is not serving after {timeout:.0f}s: {'; '.join(missing)}",
        "see `chatops local status` and the logs under "
        f"{project.local_dir / 'logs'} (`chatops logs --local`)",
    )


def wait_until_stopped(project: Project, timeout: float = 30.0) -> list[DataplaneProcess]:
    """After a destroy: wait until the data plane runs nothing of a stack; what is left."""
    deadline = time.monotonic() + timeout
    left: list[DataplaneProcess] = []
    while time.monotonic() < deadline:
        left = [p for p in dataplane_status(project).processes if p.alive]
        if not left:
            return []
        time.sleep(0.2)
    return left


def serving_stack(target: Target, outputs: Mapping[str, Any], timeout: float = 60.0) -> LocalUrls:
    """`wait_until_serving` for the stack whose output values are `outputs`: the edge and
    the ALB answer, and, when the stack runs tasks at all, the ALB reaches a healthy one."""
    distribution = outputs.get("cloudfront_distribution_id")
    services = [
        str(outputs[f"{c}_service_name"])
        for c in ("blue", "green")
        if outputs.get(f"{c}_service_name")
    ]
    desired = 0
    if services and outputs.get("ecs_cluster_name"):
        ecs = target.client("ecs", str(outputs.get("aws_region") or DEFAULT_REGION))
        described = ecs.describe_services(
            cluster=str(outputs["ecs_cluster_name"]), services=services
        )
        desired = sum(int(s.get("desiredCount") or 0) for s in described.get("services", []))
    return wait_until_serving(
        target.project,
        str(distribution) if distribution else None,
        str(outputs.get("alb_dns_name") or ""),
        timeout=timeout,
        health_path="/health" if desired else None,
        edge_only=outputs.get("alb_direct_access") is False,
    )


# --- faults: a broken release, on purpose --------------------------------------------------


@dataclass(frozen=True)
class FaultSetting:
    colour: str
    target_group: str
    http_5xx_percent: float
    latency_ms: float

    @property
    def cleared(self) -> bool:
        return self.http_5xx_percent == 0 and self.latency_ms == 0

    def to_json(self) -> dict[str, object]:
        return {
            "colour": self.colour,
            "target_group": self.target_group,
            "http_5xx_percent": self.http_5xx_percent,
            "latency_ms": self.latency_ms,
        }


def check_fault(http_5xx_percent: float | None, latency_ms: float | None, clear: bool) -> None:
    if clear and (http_5xx_percent is not None or latency_ms is not None):
        raise UsageError(
            "--clear takes no --http-5xx or --latency",
            "for example: chatops local fault green --clear",
        )
    if not clear and http_5xx_percent is None and latency_ms is None:
        raise UsageError(
            "say which fault: --http-5xx PCT, --latency MS, or --clear",
            "for example: chatops local fault green --http-5xx 50",
        )
    if http_5xx_percent is not None and not 0 <= http_5xx_percent <= 100:
        raise UsageError(
            f"--http-5xx is a percentage from 0 to 100; got {http_5xx_percent:g}",
            "for example: --http-5xx 50 fails half the requests",
        )
    if latency_ms is not None and not 0 <= latency_ms <= 60_000:
        raise UsageError(
            f"--latency is from 0 to 60000 ms; got {latency_ms:g}",
            "for example: --latency 1500 adds a second and a half",
        )


def set_fault(
    project: Project,
    colour: str,
    target_group_arn: str,
    *,
    http_5xx_percent: float | None = None,
    latency_ms: float | None = None,
) -> FaultSetting:
    """Make the local ALB fail or slow a share of one colour's requests and upgrades.

    Both zero (or neither given) clears the colour's fault. The ALB re-reads the file
    within a quarter of a second.
    """
    share, delay = (http_5xx_percent or 0.0) / 100, (latency_ms or 0.0) / 1000
    fault = alb.Fault(http_5xx_share=share, added_latency=delay) if share or delay else None
    alb.write_fault(project.local_dir / alb.FAULTS_FILE, target_group_arn, fault)
    return FaultSetting(colour, target_group_arn, share * 100, delay * 1000)
