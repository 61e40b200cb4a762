"""CloudWatch's local counterpart: the load balancer's metrics, and alarms that evaluate.

Reproduces:

- **ALB metrics** (`AlbMetrics`, an observer of the local ALB's outcomes), published into
  the emulator's CloudWatch in the `AWS/ApplicationELB` namespace with ALB's names and
  dimensions: per target group (`LoadBalancer`, `TargetGroup`) `RequestCount`,
  `HTTPCode_Target_2XX/4XX/5XX_Count`, `TargetResponseTime` (every request's latency, as a
  distribution, so percentiles work), `HealthyHostCount` and `UnHealthyHostCount`; per
  load balancer (`LoadBalancer`) `RequestCount` and `HTTPCode_ELB_4XX/5XX_Count` for the
  answers the load balancer gave itself. A fault injected on a target group counts as
  the target's answer (it stands for a broken release). Counts are published only when
  there was something to count, as ALB does.
- **Alarm evaluation** (`AlarmEvaluator`, a step of the supervisor): every metric alarm
  of the emulator is evaluated from those metrics by its own definition (statistic or
  percentile, period, evaluation periods, datapoints to alarm, threshold and comparison,
  treatment of missing data) and its state set with `SetAlarmState`, with a reason in
  CloudWatch's words. So alarm states are real, and `chatops rollout` rolls back for a
  real reason.

Leaves out: ALB's other metrics (LCUs, bytes, connection counts), alarm actions (no
e-mail is sent), metric-math alarms (left as they are), and CloudWatch's schedule: AWS
evaluates once a period over aligned periods; here every few seconds over the periods
that end now, so a local alarm fires as soon as the data crosses the threshold rather
than at the next period boundary (never later than AWS would).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

NAMESPACE = "AWS/ApplicationELB"
PUBLISH_EVERY = 5.0
EVALUATE_EVERY = 5.0


class OutcomeLike(Protocol):
    """What the ALB's `Outcome` carries (alb.py), as far as metrics need it."""

    @property
    def target_group(self) -> str | None: ...
    @property
    def status(self) -> int: ...
    @property
    def latency(self) -> float: ...
    @property
    def by_load_balancer(self) -> bool: ...
    @property
    def injected(self) -> bool: ...


def arn_suffix(arn: str) -> str:
    """ALB's metric dimension value: `app/<name>/<id>` or `targetgroup/<name>/<id>`."""
    resource = arn.split(":", 5)[-1]
    return resource.removeprefix("loadbalancer/")


def _status_class(status: int) -> str:
    return f"{status // 100}XX"


class AlbMetrics:
    """Aggregates a load balancer's outcomes between publications."""

    def __init__(self, load_balancer_arn: str) -> None:
        self.load_balancer = arn_suffix(load_balancer_arn)
        self._group_counts: dict[str, Counter[str]] = defaultdict(Counter)
        self._latencies: dict[str, Counter[float]] = defaultdict(Counter)
        self._own: Counter[str] = Counter()

    def __call__(self, outcome: OutcomeLike) -> None:
        if outcome.by_load_balancer and not outcome.injected:
            self._own["RequestCount"] += 1
            self._own[f"HTTPCode_ELB_{_status_class(outcome.status)}_Count"] += 1
            return
        self._own["RequestCount"] += 1
        if outcome.target_group is None:
            return
        counts = self._group_counts[outcome.target_group]
        counts["RequestCount"] += 1
        if outcome.status >= 200:
            counts[f"HTTPCode_Target_{_status_class(outcome.status)}_Count"] += 1
        # Millisecond buckets keep a distribution small without changing a p95.
        self._latencies[outcome.target_group][round(outcome.latency, 3)] += 1

    def drain(
        self, hosts: Mapping[str, tuple[int, int]], now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The datums to publish now; `hosts` gives (healthy, unhealthy) per group ARN."""
        at = now or datetime.now(UTC)
        lb = [{"Name": "LoadBalancer", "Value": self.load_balancer}]
        data: list[dict[str, Any]] = []

        def datum(name: str, dimensions: list[dict[str, str]], value: float, unit: str) -> None:
            data.append(
                {
                    "MetricName": name,
                    "Dimensions": dimensions,
                    "Timestamp": at,
                    "Value": float(value),
                    "Unit": unit,
                }
            )

        for name, value in sorted(self._own.items()):
            datum(name, lb, value, "Count")
        for group in sorted(set(self._group_counts) | set(hosts)):
            dimensions = [*lb, {"Name": "TargetGroup", "Value": arn_suffix(group)}]
            for name, value in sorted(self._group_counts.get(group, Counter()).items()):
                datum(name, dimensions, value, "Count")
            latencies = self._latencies.get(group)
            if latencies:
                pairs = sorted(latencies.items())
                for start in range(0, len(pairs), 150):  # PutMetricData's Values limit
                    chunk = pairs[start : start + 150]
                    data.append(
                        {
                            "MetricName": "TargetResponseTime",
                            "Dimensions": dimensions,
                            "Timestamp": at,
                            "Values": [value for value, _ in chunk],
                            "Counts": [float(count) for _, count in chunk],
                            "Unit": "Seconds",
                        }
                    )
            if group in hosts:
                healthy, unhealthy = hosts[group]
                datum("HealthyHostCount", dimensions, healthy, "Count")
                datum("UnHealthyHostCount", dimensions, unhealthy, "Count")
        self._group_counts.clear()
        self._latencies.clear()
        self._own.clear()
        return data


def publish(cloudwatch: Any, data: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(data), 500):  # PutMetricData's per-request limit
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=list(data[start : start + 500]))


# --- alarms ---------------------------------------------------------------------------------

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
_WORDS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


@dataclass(frozen=True)
class Verdict:
    state: str | None  # None: keep the current state
    reason: str
    values: tuple[float | None, ...]


def judge(alarm: Mapping[str, Any], values: Sequence[float | None]) -> Verdict:
    """The state an alarm's windows (oldest first, None where no data) put it in."""
    compare = _COMPARE.get(str(alarm.get("ComparisonOperator")))
    if compare is None:
        return Verdict(None, "unsupported comparison", tuple(values))
    threshold = float(alarm["Threshold"])
    needed = int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"])
    missing = str(alarm.get("TreatMissingData") or "missing")
    breaching = sum(1 for value in values if value is not None and compare(value, threshold))
    if missing == "breaching":
        breaching += sum(1 for value in values if value is None)
    present = [value for value in values if value is not None]
    words = _WORDS[str(alarm["ComparisonOperator"])]
    shown = ", ".join("-" if value is None else f"{value:g}" for value in values)
    if breaching >= needed:
        return Verdict(
            "ALARM",
            f"Threshold Crossed: {breaching} out of the last {len(values)} datapoints "
            f"[{shown}] were {words} the threshold ({threshold:g}) "
            f"(minimum {needed} datapoint(s) for OK -> ALARM transition).",
            tuple(values),
        )
    if present or missing in ("notBreaching", "breaching"):
        return Verdict(
            "OK",
            f"Threshold Crossed: {len(values) - breaching} out of the last {len(values)} "
            f"datapoints [{shown}] were not {words} the threshold ({threshold:g}).",
            tuple(values),
        )
    if missing == "ignore":
        return Verdict(None, "no data: state kept", tuple(values))
    return Verdict(
        "INSUFFICIENT_DATA",
        f"Insufficient Data: {len(values)} datapoints were unknown.",
        tuple(values),
    )


def windows(end: datetime, period: int, count: int) -> list[tuple[datetime, datetime]]:
    """`count` consecutive periods ending at `end`, oldest first."""
    return [
        (
            end - timedelta(seconds=period * (count - index)),
            end - timedelta(seconds=period * (count - index - 1)),
        )
        for index in range(count)
    ]


def window_value(
    cloudwatch: Any, alarm: Mapping[str, Any], start: datetime, end: datetime
) -> float | None:
    extended = alarm.get("ExtendedStatistic")
    period = max(1, math.ceil((end - start).total_seconds()))
    request: dict[str, Any] = {
        "Namespace": alarm["Namespace"],
        "MetricName": alarm["MetricName"],
        "Dimensions": alarm.get("Dimensions", []),
        "StartTime": start,
        "EndTime": end,
        "Period": period,
    }
    if extended:
        request["ExtendedStatistics"] = [extended]
    else:
        request["Statistics"] = [alarm["Statistic"]]
    points = cloudwatch.get_metric_statistics(**request).get("Datapoints", [])
    values = [
        float(point["ExtendedStatistics"][extended])
        if extended
        else float(point[alarm["Statistic"]])
        for point in points
        if (extended and extended in point.get("ExtendedStatistics", {}))
        or (not extended and alarm["Statistic"] in point)
    ]
    if not values:
        return None
    statistic = extended or alarm["Statistic"]
    # One window may come back as more than one datapoint: combine them as the statistic does.
    if statistic in ("Sum", "SampleCount"):
        return sum(values)
    if statistic == "Minimum":
        return min(values)
    if statistic == "Average":
        return sum(values) / len(values)
    return max(values)


class AlarmEvaluator:
    """Sets every metric alarm's state from the metrics, every EVALUATE_EVERY seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last = -math.inf
        self.changes: list[tuple[str, str, str]] = []  # (alarm, state, reason), for logs

    def due(self) -> bool:
        return self.clock() - self.last >= EVALUATE_EVERY

    def evaluate(self, cloudwatch: Any, now: datetime | None = None) -> list[tuple[str, str, str]]:
        self.last = self.clock()
        end = now or datetime.now(UTC)
        changed: list[tuple[str, str, str]] = []
        for alarm in _metric_alarms(cloudwatch):
            values = [
                window_value(cloudwatch, alarm, start, stop)
                for start, stop in windows(
                    end, int(alarm["Period"]), int(alarm["EvaluationPeriods"])
                )
            ]
            verdict = judge(alarm, values)
            if verdict.state is None or verdict.state == alarm.get("StateValue"):
                continue
            cloudwatch.set_alarm_state(
                AlarmName=alarm["AlarmName"],
                StateValue=verdict.state,
                StateReason=verdict.reason[:1023],
                StateReasonData=json.dumps(
                    {
                        "version": "1.0",
                        "queryDate": end.isoformat(),
                        "recentDatapoints": [v for v in verdict.values if v is not None],
                        "threshold": float(alarm["Threshold"]),
                    }
                ),
            )
            changed.append((alarm["AlarmName"], verdict.state, verdict.reason))
        self.changes.extend(changed)
        return changed


def _metric_alarms(cloudwatch: Any) -> Iterable[dict[str, Any]]:
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
        for alarm in page.get("MetricAlarms", []):
            if alarm.get("MetricName") and alarm.get("Namespace") and alarm.get("Period"):
                yield alarm
