"""CloudWatch's local counterpart: the load balancer's metrics and alarm evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chatops.emulator import patches
from chatops.emulator.dataplane import cloudwatch

LB = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/chat-alb/abc"
GREEN = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/chat-green/def"
BLUE = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/chat-blue/123"


@dataclass(frozen=True)
class Seen:
    target_group: str | None
    status: int
    latency: float = 0.01
    by_load_balancer: bool = False
    injected: bool = False


def by_name(data: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    found = {}
    for datum in data:
        dims = {d["Name"]: d["Value"] for d in datum["Dimensions"]}
        key = (datum["MetricName"], dims.get("TargetGroup", "-"))
        found[key] = datum.get("Value", datum.get("Values"))
    return found


def test_outcomes_become_alb_metrics_with_alb_names_and_dimensions() -> None:
    metrics = cloudwatch.AlbMetrics(LB)
    for outcome in (
        Seen(GREEN, 101, 0.004),
        Seen(GREEN, 200, 0.004),
        Seen(GREEN, 500, 0.0, injected=True),  # a fault: the broken release answered
        Seen(BLUE, 200, 0.002),
        Seen(None, 503, 0.0, by_load_balancer=True),  # no target: the ALB itself
    ):
        metrics(outcome)
    data = metrics.drain({GREEN: (1, 0), BLUE: (2, 1)})
    found = by_name(data)
    green, blue = "targetgroup/chat-green/def", "targetgroup/chat-blue/123"
    assert found[("RequestCount", "-")] == 5.0
    assert found[("HTTPCode_ELB_5XX_Count", "-")] == 1.0
    assert found[("RequestCount", green)] == 3.0
    assert found[("HTTPCode_Target_5XX_Count", green)] == 1.0
    assert found[("HTTPCode_Target_2XX_Count", green)] == 1.0
    assert ("HTTPCode_Target_5XX_Count", blue) not in found  # nothing to count: not sent
    assert not any(name.startswith("HTTPCode_Target_1") for name, _ in found)  # ALB has none
    assert found[("TargetResponseTime", green)] == [0.0, 0.004]
    assert found[("HealthyHostCount", blue)] == 2.0
    assert found[("UnHealthyHostCount", blue)] == 1.0
    dimensions = next(d["Dimensions"] for d in data if d["MetricName"] == "RequestCount")
    assert dimensions == [{"Name": "LoadBalancer", "Value": "app/chat-alb/abc"}]
    assert metrics.drain({}) == []  # drained


ALARM = {
    "ComparisonOperator": "GreaterThanThreshold",
    "Threshold": 5.0,
    "EvaluationPeriods": 2,
    "DatapointsToAlarm": 2,
    "TreatMissingData": "notBreaching",
}


@pytest.mark.parametrize(
    ("alarm", "values", "state"),
    [
        (ALARM, [6.0, 7.0], "ALARM"),
        (ALARM, [6.0, 5.0], "OK"),  # 2 of 2 needed
        ({**ALARM, "DatapointsToAlarm": 1}, [6.0, 5.0], "ALARM"),
        (ALARM, [None, None], "OK"),  # notBreaching
        ({**ALARM, "TreatMissingData": "breaching"}, [None, 9.0], "ALARM"),
        ({**ALARM, "TreatMissingData": "missing"}, [None, None], "INSUFFICIENT_DATA"),
        ({**ALARM, "TreatMissingData": "ignore"}, [None, None], None),
        ({**ALARM, "ComparisonOperator": "LessThanThreshold"}, [1.0, 2.0], "ALARM"),
        ({**ALARM, "ComparisonOperator": "GreaterThanOrEqualToThreshold"}, [5.0, 5.0], "ALARM"),
    ],
)
def test_alarm_states_follow_their_definition(alarm, values, state) -> None:
    assert cloudwatch.judge(alarm, values).state == state


def test_windows_end_now_oldest_first() -> None:
    end = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert cloudwatch.windows(end, 60, 2) == [
        (end - timedelta(seconds=120), end - timedelta(seconds=60)),
        (end - timedelta(seconds=60), end),
    ]


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws(), patches.patched():
        yield boto3.client("cloudwatch", region_name="ap-northeast-2")


def put_alarm(client: Any, name: str, metric: str, **fields: Any) -> None:
    client.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName=metric,
        Dimensions=[
            {"Name": "LoadBalancer", "Value": "app/chat-alb/abc"},
            {"Name": "TargetGroup", "Value": "targetgroup/chat-green/def"},
        ],
        Period=60,
        EvaluationPeriods=fields.pop("EvaluationPeriods", 1),
        Threshold=fields.pop("Threshold", 5.0),
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        **fields,
    )


def test_a_broken_colour_sets_its_alarms_and_a_quiet_one_clears_them(client) -> None:
    put_alarm(client, "chat-target-5xx-green", "HTTPCode_Target_5XX_Count", Statistic="Sum")
    put_alarm(
        client,
        "chat-response-time-p95-green",
        "TargetResponseTime",
        ExtendedStatistic="p95",
        Threshold=1.0,
    )
    metrics = cloudwatch.AlbMetrics(LB)
    now = datetime.now(UTC)
    for index in range(40):  # a release answering 500 to 1 in 4 and slow to 1 in 10
        metrics(Seen(GREEN, 500 if index % 4 == 0 else 200, 2.0 if index % 10 == 0 else 0.01))
    cloudwatch.publish(client, metrics.drain({GREEN: (1, 0)}, now=now - timedelta(seconds=20)))
    evaluator = cloudwatch.AlarmEvaluator()
    changes = evaluator.evaluate(client, now=now)
    assert {name: state for name, state, _ in changes} == {
        "chat-target-5xx-green": "ALARM",
        "chat-response-time-p95-green": "ALARM",
    }
    alarm = client.describe_alarms(AlarmNames=["chat-target-5xx-green"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    assert (
        "[10]" in alarm["StateReason"] and "greater than the threshold (5)" in alarm["StateReason"]
    )
    # A minute later nothing failed: both go back to OK (missing data is not breaching).
    later = evaluator.evaluate(client, now=now + timedelta(seconds=70))
    assert {state for _, state, _ in later} == {"OK"}
    assert evaluator.evaluate(client, now=now + timedelta(seconds=75)) == []  # no change
