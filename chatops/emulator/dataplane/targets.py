"""Elastic Load Balancing's target health, measured with real HTTP checks.

Reproduces, per registered target of every target group, with the group's own settings
(path, port, matcher, interval, timeout, thresholds):

- a new target is ``initial`` until its first check: one passing check makes it
  ``healthy`` (AWS: "after your target is registered, it must pass one health check to
  be considered healthy"); failing ``UnhealthyThresholdCount`` checks in a row makes it
  ``unhealthy``;
- a healthy target turns ``unhealthy`` after ``UnhealthyThresholdCount`` consecutive
  failures, an unhealthy one ``healthy`` after ``HealthyThresholdCount`` consecutive
  successes;
- reasons as AWS gives them: ``Target.Timeout``, ``Target.ResponseCodeMismatch`` (with
  the codes), ``Target.FailedHealthChecks`` (connection refused or reset);
- the first check of a target runs as soon as it is registered, the next ones every
  ``HealthCheckIntervalSeconds``. One local liberty: a target registered before it
  listens (its port refuses connections) stays ``initial`` without counting those
  refusals, and is probed every second until it answers; from its first answered check
  on, the group's interval and thresholds apply. ALB's several nodes check a new target
  more often than one interval in practice; the data plane's own tasks are registered
  only once they listen, so this changes nothing for them.

``draining`` belongs to the control plane (a deregistered target drains for the group's
deregistration delay, see the `elbv2-deregistration-delay` patch); its checks stop.

Leaves out: HTTPS and gRPC checks, health check ports other than the traffic port, the
per-zone view of several load balancer nodes (one checker stands for all of them), and
targets outside the machine: only loopback addresses are ever probed; any other target
is reported unhealthy as unreachable.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

INITIAL = "initial"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
INITIAL_RETRY = 1.0  # seconds between probes of a new target that does not listen yet


@dataclass(frozen=True)
class HealthCheck:
    """A target group's health check settings (AWS's defaults for HTTP groups)."""

    path: str = "/"
    port: str = "traffic-port"
    interval: float = 30.0
    timeout: float = 5.0
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher: str = "200"
    enabled: bool = True

    @classmethod
    def from_target_group(cls, group: dict[str, Any]) -> HealthCheck:
        """From a DescribeTargetGroups entry."""
        return cls(
            path=str(group.get("HealthCheckPath") or "/"),
            port=str(group.get("HealthCheckPort") or "traffic-port"),
            interval=float(group.get("HealthCheckIntervalSeconds") or 30),
            timeout=float(group.get("HealthCheckTimeoutSeconds") or 5),
            healthy_threshold=int(group.get("HealthyThresholdCount") or 5),
            unhealthy_threshold=int(group.get("UnhealthyThresholdCount") or 2),
            matcher=str((group.get("Matcher") or {}).get("HttpCode") or "200"),
            enabled=bool(group.get("HealthCheckEnabled", True)),
        )


def matches(code: int, matcher: str) -> bool:
    """Whether an HTTP status code satisfies a matcher such as "200", "200,204", "200-299"."""
    for part in matcher.replace(" ", "").split(","):
        if "-" in part:
            low, _, high = part.partition("-")
            if low.isdigit() and high.isdigit() and int(low) <= code <= int(high):
                return True
        elif part.isdigit() and int(part) == code:
            return True
    return False


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    reason: str | None = None
    description: str | None = None
    refused: bool = False  # nothing listens on the port (yet)


@dataclass
class TargetHealth:
    """The health state machine of one registered target."""

    check: HealthCheck
    state: str = INITIAL
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = "Target registration is in progress"
    successes: int = 0
    failures: int = 0
    checked_at: float | None = None

    def record(self, result: CheckResult) -> bool:
        """Count one check; True when the state (or the reason for it) changed."""
        self.checked_at = time.time()
        if self.state == INITIAL and result.refused:
            return False  # registered before it listens: not a check that counts yet
        before = (self.state, self.reason)
        if result.ok:
            self.successes += 1
            self.failures = 0
            if self.state == INITIAL or (
                self.state == UNHEALTHY and self.successes >= self.check.healthy_threshold
            ):
                self.state, self.reason, self.description = HEALTHY, None, None
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= self.check.unhealthy_threshold:
                self.state = UNHEALTHY
                self.reason, self.description = result.reason, result.description
            elif self.state == INITIAL:
                self.reason = "Elb.InitialHealthChecking"
                self.description = "Initial health checks in progress"
        return (self.state, self.reason) != before


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


async def probe(host: str, port: int, check: HealthCheck) -> CheckResult:
    """One HTTP GET of the health check path, as a load balancer node sends it."""
    if not is_loopback(host):
        return CheckResult(
            False, "Target.FailedHealthChecks", "Target is not reachable from the local data plane"
        )
    request = (
        f"GET {check.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "User-Agent: ELB-HealthChecker/2.0\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    ).encode()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(check.timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status_line = await reader.readline()
    except TimeoutError:
        return CheckResult(False, "Target.Timeout", "Request timed out")
    except ConnectionRefusedError:
        return CheckResult(False, "Target.FailedHealthChecks", "Health checks failed", True)
    except OSError:
        return CheckResult(False, "Target.FailedHealthChecks", "Health checks failed")
    finally:
        if writer is not None:
            writer.close()
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return CheckResult(False, "Target.FailedHealthChecks", "Health checks failed")
    code = int(parts[1])
    if matches(code, check.matcher):
        return CheckResult(True)
    return CheckResult(
        False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{code}]"
    )


TargetKey = tuple[str, str, int]  # (target group ARN, Id, Port)
Reporter = Callable[[list[dict[str, Any]]], Awaitable[None]]


@dataclass
class _Watched:
    health: TargetHealth
    task: asyncio.Task[None]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    reported: tuple[str, str | None] = (INITIAL, "Elb.RegistrationInProgress")


class HealthChecker:
    """Checks every registered target; reports each change of state to the control plane."""

    def __init__(
        self, report: Reporter, probe_target: Callable[..., Awaitable[CheckResult]] = probe
    ) -> None:
        self._report = report
        self._probe = probe_target
        self._watched: dict[TargetKey, _Watched] = {}
        self._checks: dict[str, HealthCheck] = {}

    def state(self, key: TargetKey) -> str | None:
        watched = self._watched.get(key)
        return watched.health.state if watched else None

    def states(self) -> dict[TargetKey, str]:
        return {key: watched.health.state for key, watched in self._watched.items()}

    def sync(self, groups: dict[str, tuple[HealthCheck, list[tuple[str, int]]]]) -> None:
        """Watch exactly these targets: {group ARN: (its check, [(Id, Port) registered])}."""
        wanted: set[TargetKey] = set()
        for arn, (check, targets) in groups.items():
            self._checks[arn] = check
            for target_id, port in targets:
                key = (arn, target_id, port)
                wanted.add(key)
                if key not in self._watched:
                    self.watch(key)
                else:
                    self._watched[key].health.check = check
        for key in [key for key in self._watched if key not in wanted]:
            self.forget(key)

    def watch(self, key: TargetKey) -> None:
        """Start checking a target now (a new registration); no-op if already watched."""
        if key in self._watched:
            self._watched[key].wake.set()
            return
        check = self._checks.get(key[0], HealthCheck())
        health = TargetHealth(check)
        task = asyncio.get_running_loop().create_task(self._run(key))
        self._watched[key] = _Watched(health, task)

    def forget(self, key: TargetKey) -> None:
        watched = self._watched.pop(key, None)
        if watched is not None:
            watched.task.cancel()

    def close(self) -> None:
        for key in list(self._watched):
            self.forget(key)

    async def _run(self, key: TargetKey) -> None:
        arn, target_id, port = key
        while True:
            watched = self._watched.get(key)
            if watched is None:
                return
            health = watched.health
            watched.wake.clear()
            pause = health.check.interval
            if health.check.enabled:
                result = await self._probe(target_id, port, health.check)
                if health.state == INITIAL and result.refused:
                    pause = min(pause, INITIAL_RETRY)
                if self._watched.get(key) is not watched:
                    return
                if health.record(result):
                    log.info("target %s:%s in %s is %s", target_id, port, arn, health.state)
                current = (health.state, health.reason)
                if current != watched.reported:
                    try:
                        await self._report(
                            [
                                {
                                    "TargetGroupArn": arn,
                                    "Id": target_id,
                                    "Port": port,
                                    "State": health.state,
                                    "Reason": health.reason,
                                    "Description": health.description,
                                }
                            ]
                        )
                        watched.reported = current
                    except Exception as error:  # noqa: BLE001 - the next check reports again
                        log.warning("could not report the health of %s: %s", key, error)
            try:
                async with asyncio.timeout(pause):
                    await watched.wake.wait()
            except TimeoutError:
                pass
