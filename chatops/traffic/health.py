"""How each colour is doing: targets, tasks, open WebSockets, alarms.

Read-only: everything here comes from the ELBv2, ECS and CloudWatch APIs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chatops.errors import ChatopsError
from chatops.traffic.records import Endpoints
from chatops.traffic.weights import Colour

ClientFactory = Callable[[str], Any]

# The chat server's metric (app/README.md): open WebSockets of one task.
CONNECTIONS_METRIC = "WebSocketConnections"
# A task's last report older than this is a task that is gone.
CONNECTIONS_FRESHNESS = timedelta(minutes=3)


class UnhealthyColour(ChatopsError):
    pass


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
    connections: int | None = None

    @property
    def targets(self) -> int:
        return self.healthy + self.unhealthy + self.draining + self.initial + self.other

    @property
    def version(self) -> str | None:
        """The image's tag (or digest start): what `hello` reports as the version."""
        if not self.image:
            return None
        if "@" in self.image:
            return self.image.split("@", 1)[1].split(":")[-1][:12]
        name = self.image.rsplit("/", 1)[-1]
        return name.split(":", 1)[1] if ":" in name else "latest"


@dataclass(frozen=True)
class AlarmState:
    key: str
    name: str
    colour: str | None
    state: str
    reason: str = ""


def target_states(elbv2: Any, target_group_arn: str) -> dict[str, int]:
    targets = elbv2.describe_target_health(TargetGroupArn=target_group_arn)[
        "TargetHealthDescriptions"
    ]
    counts: dict[str, int] = {}
    for target in targets:
        state = target["TargetHealth"]["State"]
        key = state if state in ("healthy", "unhealthy", "draining", "initial") else "other"
        counts[key] = counts.get(key, 0) + 1
    return counts


def colour_health(
    endpoints: Endpoints, clients: ClientFactory, colour: Colour, *, with_connections: bool = True
) -> ColourHealth:
    counts = target_states(clients("elbv2"), endpoints.target_groups[colour])
    ecs = clients("ecs")
    services = ecs.describe_services(
        cluster=endpoints.cluster, services=[endpoints.services[colour]]
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
        connections=connections(endpoints, clients, colour) if with_connections else None,
    )


def connections(
    endpoints: Endpoints,
    clients: ClientFactory,
    colour: Colour,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int | None:
    """Open WebSockets on `colour`: the latest report of each of its live tasks, summed.

    None when the stack has no metrics namespace or no task of the colour has
    reported recently (before its first report, or with metrics turned off).
    """
    namespace = endpoints.metrics_namespace
    if not namespace:
        return None
    cloudwatch = clients("cloudwatch")
    listed = cloudwatch.list_metrics(
        Namespace=namespace,
        MetricName=CONNECTIONS_METRIC,
        Dimensions=[{"Name": "Colour", "Value": colour}],
    ).get("Metrics", [])
    # One series per task (some implementations list a metric once per datapoint).
    unique = {
        tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))): metric
        for metric in listed
    }
    metrics = list(unique.values())
    if not metrics:
        return None
    end = now()
    queries = [
        {
            "Id": f"t{index}",
            "MetricStat": {"Metric": metric, "Period": 10, "Stat": "Maximum"},
            "ReturnData": True,
        }
        for index, metric in enumerate(metrics[:500])
    ]
    result = cloudwatch.get_metric_data(
        MetricDataQueries=queries,
        StartTime=end - CONNECTIONS_FRESHNESS,
        EndTime=end,
        ScanBy="TimestampDescending",
    )
    total, reported = 0, False
    for series in result.get("MetricDataResults", []):
        points = sorted(
            zip(series.get("Timestamps", []), series.get("Values", []), strict=False),
            reverse=True,
        )
        if points:
            total += int(points[0][1])
            reported = True
    return total if reported else None


def require_ready(endpoints: Endpoints, clients: ClientFactory, colours: Sequence[Colour]) -> None:
    """Every colour in `colours` has running tasks and healthy targets."""
    if not colours:
        return
    services = clients("ecs").describe_services(
        cluster=endpoints.cluster,
        services=[endpoints.services[colour] for colour in colours],
    )["services"]
    running = {s["serviceName"]: int(s.get("runningCount", 0)) for s in services}
    elbv2 = clients("elbv2")
    for colour in colours:
        states = target_states(elbv2, endpoints.target_groups[colour])
        healthy, total = states.get("healthy", 0), sum(states.values())
        tasks = running.get(endpoints.services[colour], 0)
        if tasks == 0 or healthy == 0:
            raise UnhealthyColour(
                f"{colour} cannot take traffic: {tasks} running task(s), "
                f"{healthy} of {total} target(s) healthy",
                f"wait for {colour}'s tasks to pass their health checks (`chatops status`), "
                "or pass --force to shift anyway",
            )


def alarms(endpoints: Endpoints, clients: ClientFactory) -> list[AlarmState]:
    names = dict(endpoints.alarms)
    if not names:
        return []
    found = clients("cloudwatch").describe_alarms(AlarmNames=list(names.values()))
    by_name = {alarm["AlarmName"]: alarm for alarm in found.get("MetricAlarms", [])}
    return [
        AlarmState(
            key=key,
            name=name,
            colour=endpoints.alarm_colours.get(key),
            state=str(by_name.get(name, {}).get("StateValue", "MISSING")),
            reason=str(by_name.get(name, {}).get("StateReason", "")),
        )
        for key, name in sorted(names.items())
    ]
