"""Draining: moving this task's clients to other tasks before it stops.

Two triggers. SIGTERM; and, on ECS, the task's own target turning `draining` in its
target group: ECS deregisters the target first and sends SIGTERM only once the
deregistration delay has passed, by which time the ALB has cut the connections. So
the task watches its own target (DescribeTargetHealth on TARGET_GROUP_ARN for its own
IP and PORT, read from the ECS task metadata endpoint), every min(5, DRAIN_SECONDS/4)
seconds, and starts draining by itself. A target that was registered and is now
reported as not registered counts too (the deregistration delay already over, or an
emulator that drops deregistered targets at once).

Draining: /health answers 503 and new WebSockets are refused; the connected clients
are closed one by one, evenly spread over DRAIN_SECONDS, each with a `reconnect`
frame (a jittered delay) and close 1012 "service restart".
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from chatapp import protocol
from chatapp.aws import Aws, AwsError
from chatapp.config import Config
from chatapp.hub import Hub
from chatapp.logs import log
from chatapp.tasks import TaskSet

# The closes are already spread over DRAIN_SECONDS: the jitter only separates clients
# closed in one tick, and each millisecond of it is a moment a moving user sees no chat.
RECONNECT_MIN_MS = 100
RECONNECT_MAX_MS = 1000
METADATA_TIMEOUT = 2.0
# Target states of a registered target (DescribeTargetHealth).
REGISTERED = frozenset({"initial", "healthy", "unhealthy", "unavailable"})


@dataclass(frozen=True)
class TaskIdentity:
    """Who this task is: its id (for logs, hello, metrics) and its own target."""

    task_id: str
    ip: str | None


def _fetch_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=METADATA_TIMEOUT) as response:  # noqa: S310
        return json.load(response)


async def task_identity(config: Config, fallback: str) -> TaskIdentity:
    """Read the ECS task metadata (v4): the task ARN and the task's IPv4 address."""
    if config.metadata_uri is None:
        return TaskIdentity(fallback, None)
    for attempt in range(3):
        try:
            async with asyncio.timeout(METADATA_TIMEOUT + 1):
                task = await asyncio.to_thread(_fetch_json, config.metadata_uri + "/task")
            arn = str(task.get("TaskARN") or "")
            ip = None
            for container in task.get("Containers") or []:
                networks = container.get("Networks") or []
                addresses = networks[0].get("IPv4Addresses") if networks else None
                if addresses:
                    ip = str(addresses[0])
                    break
            return TaskIdentity(arn.rsplit("/", 1)[-1] or fallback, ip)
        except (OSError, ValueError, TimeoutError, AttributeError) as error:
            log.warning("task_metadata_failed", attempt=attempt + 1, error=repr(error))
            await asyncio.sleep(0.5)
    return TaskIdentity(fallback, None)


def target_is_leaving(state: str, reason: str, was_registered: bool) -> bool:
    """Whether a target health reading means the target is being taken out."""
    if state in ("draining", "unhealthy.draining"):
        return True
    return was_registered and reason == "Target.NotRegistered"


class Draining:
    def __init__(self, config: Config, hub: Hub) -> None:
        self.config = config
        self.hub = hub
        self.active = False
        self.reason: str | None = None
        self.tasks = TaskSet("draining")

    def start(self, reason: str) -> None:
        if self.active:
            return
        self.active = True
        self.reason = reason
        log.info(
            "draining",
            reason=reason,
            connections=len(self.hub),
            seconds=self.config.drain_seconds,
        )
        self.tasks.spawn(self._move_clients(), "move-clients")

    async def _move_clients(self) -> None:
        clients = list(self.hub.clients.values())
        random.shuffle(clients)
        window = self.config.drain_seconds
        started = time.monotonic()
        for index, client in enumerate(clients):
            due = started + window * index / len(clients)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if client.closing:
                continue
            client.send(protocol.reconnect(random.randint(RECONNECT_MIN_MS, RECONNECT_MAX_MS)))
            client.close(protocol.CLOSE_SERVICE_RESTART, "service restart")
        log.info("drained", moved=len(clients), seconds=round(time.monotonic() - started, 1))

    async def watch_target(self, aws: Aws, ip: str) -> None:
        """Poll the task's own target until it is taken out of its target group."""
        assert self.config.target_group_arn is not None
        elbv2 = aws.client("elbv2")
        target = {"Id": ip, "Port": self.config.port}
        was_registered = False
        last: tuple[str, str] | None = None
        while not self.active:
            try:
                result = await aws.call(
                    elbv2.describe_target_health,
                    TargetGroupArn=self.config.target_group_arn,
                    Targets=[target],
                )
                descriptions = result.get("TargetHealthDescriptions") or [{}]
                health = descriptions[0].get("TargetHealth") or {}
                state, reason = str(health.get("State", "")), str(health.get("Reason", ""))
            except AwsError as error:
                log.warning("target_health_failed", error=str(error))
            else:
                if (state, reason) != last:
                    log.info("target_health", ip=ip, state=state, reason=reason)
                    last = (state, reason)
                if target_is_leaving(state, reason, was_registered):
                    self.start("target_draining")
                    return
                if state in REGISTERED and reason != "Target.NotRegistered":
                    was_registered = True
            await asyncio.sleep(self.config.target_poll_seconds)
