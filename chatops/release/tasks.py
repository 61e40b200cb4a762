"""Watching a colour's new tasks after a release until they run and serve.

Done when as many tasks of the new task definition as the service wants are RUNNING and
each one's own target (its address and port) is healthy in the colour's target group;
old tasks may still be draining. Failed when ECS's deployment circuit breaker marks the
deployment FAILED or rolls the service back to another task definition, or when new
tasks keep stopping (as many as the circuit breaker would tolerate: half the desired
count, at least 3), which also covers an ECS without a circuit breaker.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chatops.errors import ChatopsError

ClientFactory = Callable[[str], Any]
# Task states before RUNNING, as ECS names them.
STARTING = ("PROVISIONING", "PENDING", "ACTIVATING")


class ReleaseFailed(ChatopsError):
    pass


class ReleaseTimeout(ChatopsError):
    pass


@dataclass(frozen=True)
class TaskView:
    arn: str
    definition: str
    status: str
    address: tuple[str, int] | None = None


@dataclass(frozen=True)
class Progress:
    """One look at the colour while its new tasks start."""

    wanted: int
    starting: int = 0
    running: int = 0
    healthy: int = 0
    old: int = 0
    stopped: int = 0
    elapsed: float = 0.0
    note: str | None = None  # the last reason ECS gave for a stopped task

    @property
    def done(self) -> bool:
        return self.wanted > 0 and self.running >= self.wanted and self.healthy >= self.wanted


def failure_threshold(wanted: int) -> int:
    """Stopped tasks after which ECS's circuit breaker gives a deployment up."""
    return min(200, max(3, math.ceil(wanted / 2)))


def _address(task: Mapping[str, Any], container_port: int | None) -> tuple[str, int] | None:
    """(IP, port) the task is registered under: its ENI address and the container port."""
    ip = None
    for container in task.get("containers") or []:
        for interface in container.get("networkInterfaces") or []:
            ip = ip or interface.get("privateIpv4Address")
        for binding in container.get("networkBindings") or []:
            container_port = int(binding.get("hostPort") or container_port or 0) or None
    for attachment in task.get("attachments") or []:
        for detail in attachment.get("details") or []:
            if detail.get("name") == "privateIPv4Address":
                ip = ip or detail.get("value")
    if ip is None or container_port is None:
        return None
    return str(ip), int(container_port)


def _stop_reason(task: Mapping[str, Any]) -> str | None:
    reasons = [str(task["stoppedReason"])] if task.get("stoppedReason") else []
    reasons += [str(c["reason"]) for c in task.get("containers") or [] if c.get("reason")]
    return "; ".join(reasons) or None


@dataclass
class TaskWatch:
    """The new tasks of one service, looked at again on every `look()`."""

    clients: ClientFactory
    cluster: str
    service: str
    target_group: str
    definition: str
    seen: set[str] = field(default_factory=set)
    stopped: set[str] = field(default_factory=set)
    note: str | None = None

    def _service(self) -> dict[str, Any]:
        found = self.clients("ecs").describe_services(
            cluster=self.cluster, services=[self.service]
        )["services"]
        if not found:
            raise ReleaseFailed(f"the service {self.service} is gone", "check `chatops status`")
        service: dict[str, Any] = found[0]
        return service

    def _describe(self, arns: Iterable[str]) -> list[dict[str, Any]]:
        wanted = list(arns)
        described: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 100):
            batch = wanted[start : start + 100]
            described += self.clients("ecs").describe_tasks(cluster=self.cluster, tasks=batch)[
                "tasks"
            ]
        return described

    def _check_deployment(self, service: Mapping[str, Any]) -> None:
        deployments = service.get("deployments") or []
        ours = [d for d in deployments if d.get("taskDefinition") == self.definition]
        failed = next((d for d in ours if d.get("rolloutState") == "FAILED"), None)
        current = service.get("taskDefinition")
        if failed is None and current == self.definition:
            return
        reason = (failed or {}).get("rolloutStateReason") or next(
            (
                str(event.get("message"))
                for event in service.get("events") or []
                if "circuit breaker" in str(event.get("message", "")).lower()
                or "rolling back" in str(event.get("message", "")).lower()
            ),
            None,
        )
        detail = f" ({reason})" if reason else ""
        stopped = f"; a new task stopped: {self.note}" if self.note else ""
        if current != self.definition:
            raise ReleaseFailed(
                f"the new version did not start: ECS's circuit breaker rolled {self.service} "
                f"back to {current}{detail}{stopped}",
                "the colour runs its previous version again; fix the app and release again",
            )
        raise ReleaseFailed(
            f"the new version did not start: ECS marked its deployment FAILED{detail}{stopped}",
            "fix the app and release again; `chatops status` shows what the colour runs",
        )

    def look(self) -> Progress:
        service = self._service()
        wanted = int(service.get("desiredCount", 0))
        container_port = next(
            (int(lb["containerPort"]) for lb in service.get("loadBalancers") or []), None
        )
        ecs = self.clients("ecs")
        arns = ecs.list_tasks(
            cluster=self.cluster, serviceName=self.service, desiredStatus="RUNNING"
        )["taskArns"]
        tasks = [
            TaskView(
                arn=str(task["taskArn"]),
                definition=str(task.get("taskDefinitionArn", "")),
                status=str(task.get("lastStatus", "")),
                address=_address(task, container_port),
            )
            for task in (self._describe(arns) if arns else [])
        ]
        new = [t for t in tasks if t.definition == self.definition]
        current = {t.arn for t in new}
        gone = self.seen - current - self.stopped
        if gone:
            self.stopped |= gone
            for task in self._describe(sorted(gone)):
                self.note = _stop_reason(task) or self.note
        self.seen |= current
        self._check_deployment(service)
        targets = self.clients("elbv2").describe_target_health(TargetGroupArn=self.target_group)
        health = {
            (str(t["Target"]["Id"]), int(t["Target"].get("Port", 0))): t["TargetHealth"]["State"]
            for t in targets["TargetHealthDescriptions"]
        }
        # ECS counts the deployment's failed tasks too (some stop between two looks).
        failed = max(
            (
                int(d.get("failedTasks") or 0)
                for d in service.get("deployments") or []
                if d.get("taskDefinition") == self.definition
            ),
            default=0,
        )
        running = [t for t in new if t.status == "RUNNING"]
        progress = Progress(
            wanted=wanted,
            starting=sum(1 for t in new if t.status in STARTING),
            running=len(running),
            healthy=sum(1 for t in running if t.address and health.get(t.address) == "healthy"),
            old=sum(1 for t in tasks if t.definition != self.definition),
            stopped=max(len(self.stopped), failed),
            note=self.note,
        )
        if not progress.done and progress.stopped >= failure_threshold(wanted):
            raise ReleaseFailed(
                f"the new version's tasks keep stopping ({progress.stopped} stopped"
                + (f", the last because: {self.note}" if self.note else "")
                + ")",
                "its logs say why (`chatops logs`); on AWS ECS's circuit breaker rolls the "
                "colour back to its previous version",
            )
        return progress


def wait_for_tasks(
    watch: TaskWatch,
    *,
    timeout: float,
    poll: float = 2.0,
    observe: Callable[[Progress], None] = lambda progress: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Progress:
    """Look until the new tasks serve; ReleaseFailed or ReleaseTimeout otherwise."""
    started = clock()
    while True:
        progress = watch.look()
        elapsed = clock() - started
        progress = replace(progress, elapsed=elapsed)
        observe(progress)
        if progress.done:
            return progress
        if elapsed >= timeout:
            raise ReleaseTimeout(
                f"the new tasks did not all serve within {timeout:.0f} s: {progress.running} of "
                f"{progress.wanted} running, {progress.healthy} healthy"
                + (f"; a task stopped because: {progress.note}" if progress.note else ""),
                "follow them with `chatops status` (their logs: `chatops logs`); the release "
                "itself is applied and recorded",
            )
        sleep(min(poll, max(0.0, timeout - elapsed)))
