"""Traffic control against moto (in-process, with the emulator's patches)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chatops.emulator import patches
from chatops.errors import ChatopsError, UsageError
from chatops.traffic import (
    COLOURS,
    Endpoints,
    History,
    ReadBackMismatch,
    RolloutFailed,
    TrafficControl,
    TrafficRecord,
    UnhealthyColour,
    Weights,
    parse_count,
    read_live_variables,
    read_weights_file,
    record_live_variables,
    retire,
    rollout,
    rollout_steps,
    scale,
    status,
)
from tests.helpers import create_network

REGION = "ap-northeast-2"


# --- pure logic --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["100", "0"], Weights(100, 0)),
        (["0", "100"], Weights(0, 100)),
        (["90", "10"], Weights(90, 10)),
        (["50", "50"], Weights(50, 50)),
    ],
)
def test_weights_accepted(values: list[str], expected: Weights) -> None:
    assert Weights.parse(values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["60", "50"], "must sum to 100; blue 60 + green 50 = 110"),
        (["-10", "110"], "-10 is outside that range"),
        (["50.5", "49.5"], "'50.5' is not one"),
        (["abc", "100"], "'abc' is not one"),
        (["50"], "expected two weights, BLUE and GREEN; got 1"),
        (["30", "30", "40"], "expected two weights, BLUE and GREEN; got 3"),
        (["50", "49"], "blue 50 + green 49 = 99"),
    ],
)
def test_weights_refused(values: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        Weights.parse(values)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("to", "steps", "expected"),
    [
        ("green", [10, 50, 100], [(90, 10), (50, 50), (0, 100)]),
        ("green", [25], [(75, 25), (0, 100)]),
        ("blue", [10, 50], [(10, 90), (50, 50), (100, 0)]),
    ],
)
def test_rollout_steps_always_end_on_the_new_colour(to, steps, expected) -> None:
    assert [(w.blue, w.green) for w in rollout_steps(to, steps)] == expected


@pytest.mark.parametrize("steps", [[50, 10], [0, 50], [10, 101], []])
def test_rollout_steps_refused(steps: list[int]) -> None:
    with pytest.raises(UsageError):
        rollout_steps("green", steps)


@pytest.mark.parametrize(
    ("before", "after", "stable_before", "stable_after"),
    [
        (Weights(100, 0), Weights(90, 10), "blue", "blue"),
        (Weights(90, 10), Weights(50, 50), "blue", "blue"),
        (Weights(50, 50), Weights(0, 100), "blue", "green"),
        (Weights(0, 100), Weights(10, 90), "green", "green"),
        (Weights(50, 50), Weights(60, 40), "green", "green"),
    ],
)
def test_the_stable_colour_is_the_one_that_held_everything_before(
    before, after, stable_before, stable_after
) -> None:
    record = TrafficRecord(stable=stable_before)
    record.note(before, after)
    assert record.stable == stable_after


# --- against moto -------------------------------------------------------------------------


@pytest.fixture
def aws() -> Iterator[Callable[[str], Any]]:
    with mock_aws(), patches.patched():
        yield lambda service: boto3.client(service, region_name=REGION)


def build_stack(
    aws: Callable[[str], Any], desired: dict[str, int], images: dict[str, str] | None = None
) -> Endpoints:
    """The traffic-relevant part of the stack: ALB, listener, two target groups, services."""
    elbv2, ecs, cloudwatch = aws("elbv2"), aws("ecs"), aws("cloudwatch")
    vpc, subnets, group = create_network(aws("ec2"))
    alb = elbv2.create_load_balancer(Name="chat-alb", Subnets=subnets, SecurityGroups=[group])
    alb_arn = alb["LoadBalancers"][0]["LoadBalancerArn"]
    groups = {
        colour: elbv2.create_target_group(
            Name=f"chat-{colour}", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        for colour in COLOURS
    }
    listener = elbv2.create_listener(
        LoadBalancerArn=alb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": groups["blue"], "Weight": 100},
                        {"TargetGroupArn": groups["green"], "Weight": 0},
                    ],
                    "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 3600},
                },
            }
        ],
    )["Listeners"][0]["ListenerArn"]
    ecs.create_cluster(clusterName="chat-cluster")
    for colour in COLOURS:
        ecs.register_task_definition(
            family=f"chat-{colour}",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": (images or {}).get(colour, f"chat:{colour}"),
                    "essential": True,
                }
            ],
        )
        ecs.create_service(
            cluster="chat-cluster",
            serviceName=f"chat-service-{colour}",
            taskDefinition=f"chat-{colour}",
            desiredCount=desired[colour],
            loadBalancers=[
                {"targetGroupArn": groups[colour], "containerName": "app", "containerPort": 8080}
            ],
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}
            },
        )
    alarms = {}
    for key in ("target-5xx-blue", "target-5xx-green", "alb-5xx"):
        name = f"chat-{key}"
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=5,
            ComparisonOperator="GreaterThanThreshold",
        )
        alarms[key] = name
    return Endpoints(
        region=REGION,
        listener_arn=listener,
        target_groups=groups,
        cluster="chat-cluster",
        services={colour: f"chat-service-{colour}" for colour in COLOURS},
        alarms=alarms,
        alarm_colours={"target-5xx-blue": "blue", "target-5xx-green": "green", "alb-5xx": None},
    )


@pytest.fixture
def control(aws, tmp_path: Path) -> TrafficControl:
    endpoints = build_stack(aws, {"blue": 2, "green": 1})
    return TrafficControl(endpoints, aws, tmp_path / "traffic.json", tmp_path / "weights.json")


def listener_weights(aws, control: TrafficControl) -> dict[str, int]:
    listener = aws("elbv2").describe_listeners(ListenerArns=[control.endpoints.listener_arn])
    forward = listener["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]
    names = {arn: colour for colour, arn in control.endpoints.target_groups.items()}
    return {names[g["TargetGroupArn"]]: g["Weight"] for g in forward["TargetGroups"]}


def test_shift_updates_the_listener_and_the_terraform_record(aws, control) -> None:
    result = control.shift(Weights(50, 50))
    assert (result.before, result.after) == (Weights(100, 0), Weights(50, 50))
    assert listener_weights(aws, control) == {"blue": 50, "green": 50}
    assert read_weights_file(control.weights_path) == Weights(50, 50)
    assert json.loads(control.weights_path.read_text()) == {"blue_weight": 50, "green_weight": 50}
    forward = aws("elbv2").describe_listeners(ListenerArns=[control.endpoints.listener_arn])[
        "Listeners"
    ][0]["DefaultActions"][0]["ForwardConfig"]
    assert forward["TargetGroupStickinessConfig"]["Enabled"] is True
    assert TrafficRecord.load(control.record_path).stable == "blue"


def test_shift_refuses_a_colour_without_running_tasks(aws, tmp_path) -> None:
    endpoints = build_stack(aws, {"blue": 1, "green": 0})
    control = TrafficControl(endpoints, aws, tmp_path / "t.json", tmp_path / "w.json")
    with pytest.raises(UnhealthyColour, match="green cannot take traffic: 0 running"):
        control.shift(Weights(90, 10))
    assert listener_weights(aws, control) == {"blue": 100, "green": 0}
    assert not control.weights_path.exists()
    assert control.shift(Weights(90, 10), force=True).after == Weights(90, 10)


class ConcurrentShift:
    """A real ELBv2 client plus someone else changing the listener right after us."""

    def __init__(self, client: Any, listener: str, groups: dict[str, str]) -> None:
        self.client, self.listener, self.groups = client, listener, groups

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def modify_listener(self, **kwargs: Any) -> Any:
        result = self.client.modify_listener(**kwargs)
        self.client.modify_listener(
            ListenerArn=self.listener,
            DefaultActions=[
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": self.groups["blue"], "Weight": 70},
                            {"TargetGroupArn": self.groups["green"], "Weight": 30},
                        ]
                    },
                }
            ],
        )
        return result


def test_read_back_mismatch_is_an_error(aws, control) -> None:
    elbv2 = ConcurrentShift(
        aws("elbv2"), control.endpoints.listener_arn, dict(control.endpoints.target_groups)
    )
    racing = TrafficControl(
        control.endpoints,
        lambda service: elbv2 if service == "elbv2" else aws(service),
        control.record_path,
        control.weights_path,
    )
    with pytest.raises(ReadBackMismatch, match="reports blue 70% / green 30% after setting"):
        racing.shift(Weights(50, 50))
    assert not control.weights_path.exists()


def test_rollback_targets_the_recorded_stable_colour(aws, control) -> None:
    control.shift(Weights(0, 100))  # green now holds everything: it is the stable colour
    control.shift(Weights(60, 40))  # a rollout back to blue begins
    stable, result = control.rollback()
    assert stable == "green"
    assert (result.before, result.after) == (Weights(60, 40), Weights(0, 100))
    assert listener_weights(aws, control) == {"blue": 0, "green": 100}
    assert read_weights_file(control.weights_path) == Weights(0, 100)


def test_rollback_with_nothing_recorded_goes_to_blue(aws, control) -> None:
    aws("elbv2").modify_listener(
        ListenerArn=control.endpoints.listener_arn,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": control.endpoints.target_groups["blue"], "Weight": 20},
                        {"TargetGroupArn": control.endpoints.target_groups["green"], "Weight": 80},
                    ]
                },
            }
        ],
    )
    stable, result = control.rollback()
    assert stable == "blue" and result.after == Weights(100, 0) and result.changed


def test_rollout_rolls_back_on_an_alarm(aws, control) -> None:
    events = []

    def observe(event) -> None:
        events.append(event)
        if event.kind == "tick" and event.step == 2:
            aws("cloudwatch").set_alarm_state(
                AlarmName="chat-target-5xx-green", StateValue="ALARM", StateReason="5xx burst"
            )

    with pytest.raises(RolloutFailed, match="chat-target-5xx-green") as caught:
        rollout(
            control,
            "green",
            rollout_steps("green", [10, 50, 100]),
            bake=0.3,
            poll=0.05,
            observe=observe,
            sleep=lambda s: None,
        )
    assert "rolled back to blue" in caught.value.message
    assert listener_weights(aws, control) == {"blue": 100, "green": 0}
    kinds = [e.kind for e in events if e.kind != "tick"]
    assert kinds == ["step", "step", "rollback"]


def test_rollout_rolls_back_on_ctrl_c(aws, control) -> None:
    def observe(event) -> None:
        if event.kind == "tick":
            raise KeyboardInterrupt

    with pytest.raises(RolloutFailed, match="interrupted at step 1"):
        rollout(control, "green", rollout_steps("green", [10]), bake=5, observe=observe)
    assert listener_weights(aws, control) == {"blue": 100, "green": 0}


def test_rollout_ends_with_everything_on_the_new_colour(aws, control) -> None:
    final = rollout(control, "green", rollout_steps("green", [10, 50]), bake=0, poll=0.01)
    assert final == Weights(0, 100)
    assert listener_weights(aws, control) == {"blue": 0, "green": 100}
    assert TrafficRecord.load(control.record_path).stable == "green"


def test_rollout_does_not_start_while_an_alarm_fires(aws, control) -> None:
    aws("cloudwatch").set_alarm_state(AlarmName="chat-alb-5xx", StateValue="ALARM", StateReason="x")
    with pytest.raises(RolloutFailed, match="not starting: alarms are already firing"):
        rollout(control, "green", rollout_steps("green", [10]), bake=0)
    assert listener_weights(aws, control) == {"blue": 100, "green": 0}


STATUS_SCHEMA = {
    "target": str,
    "weights": dict,
    "configured_weights": (dict, type(None)),
    "drift": bool,
    "reconcile": (str, type(None)),
    "stable": str,
    "stickiness": bool,
    "colours": dict,
    "alarms": list,
    "alarms_firing": list,
}


def test_status_json_follows_the_documented_schema(aws, control) -> None:
    control.shift(Weights(90, 10))
    aws("cloudwatch").set_alarm_state(AlarmName="chat-alb-5xx", StateValue="ALARM", StateReason="x")
    report = status(control, Weights(100, 0), "the test target", "chatops shift").to_json()
    assert set(report) == set(STATUS_SCHEMA)
    for key, kind in STATUS_SCHEMA.items():
        assert isinstance(report[key], kind), key
    assert report["weights"] == {"blue": 90, "green": 10}
    assert report["drift"] is True and report["reconcile"] == "chatops shift 100 0"
    blue = report["colours"]["blue"]
    assert blue["weight"] == 90
    assert blue["targets"] == {
        "healthy": 2,
        "unhealthy": 0,
        "draining": 0,
        "initial": 0,
        "other": 0,
        "total": 2,
    }
    assert blue["tasks"] == {"running": 2, "desired": 2, "pending": 0}
    assert blue["image"] == "chat:blue" and blue["version"] == "blue"
    assert blue["connections"] is None  # the stack reports no metrics namespace
    assert report["stickiness"] is True
    assert report["alarms_firing"] == ["chat-alb-5xx"]
    assert {a["key"]: a["colour"] for a in report["alarms"]}["target-5xx-green"] == "green"


def test_status_without_drift(aws, control) -> None:
    report = status(control, Weights(100, 0), "t", "chatops shift").to_json()
    assert report["drift"] is False and report["reconcile"] is None


# --- stickiness, capacity, history -----------------------------------------------------------


def listener_stickiness(aws, control: TrafficControl) -> bool:
    listener = aws("elbv2").describe_listeners(ListenerArns=[control.endpoints.listener_arn])
    forward = listener["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]
    return bool(forward["TargetGroupStickinessConfig"]["Enabled"])


def test_rollback_turns_stickiness_off_in_the_same_call(aws, control) -> None:
    control.shift(Weights(50, 50))
    calls = []
    elbv2 = aws("elbv2")

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(elbv2, name)

        def modify_listener(self, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return elbv2.modify_listener(**kwargs)

    counting = Counting()
    rolling = TrafficControl(
        control.endpoints,
        lambda service: counting if service == "elbv2" else aws(service),
        control.record_path,
        control.weights_path,
        control.history,
    )
    stable, result = rolling.rollback(reason="green answers 500")
    assert stable == "blue" and result.stickiness_released
    assert len(calls) == 1
    assert listener_weights(aws, control) == {"blue": 100, "green": 0}
    assert listener_stickiness(aws, control) is False
    assert read_live_variables(control.weights_path) == {
        "blue_weight": 100,
        "green_weight": 0,
        "enable_stickiness": False,
    }
    last = control.history.entries()[-1]
    assert (last.action, last.reason) == ("rollback", "green answers 500")
    assert last.before == {"blue": 50, "green": 50, "stickiness": True}
    assert last.after == {"blue": 100, "green": 0, "stickiness": False}


def test_a_rollback_with_nothing_to_do_changes_and_records_nothing(aws, control) -> None:
    aws("elbv2").modify_listener(
        ListenerArn=control.endpoints.listener_arn,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": control.endpoints.target_groups["blue"], "Weight": 100},
                        {"TargetGroupArn": control.endpoints.target_groups["green"], "Weight": 0},
                    ],
                    "TargetGroupStickinessConfig": {"Enabled": False},
                },
            }
        ],
    )
    _, result = control.rollback()
    assert not result.changed
    assert control.history.entries() == []


@pytest.mark.parametrize(
    ("value", "ok"), [("0", 0), ("3", 3), ("10", 10), ("11", None), ("-1", None), ("two", None)]
)
def test_task_counts(value: str, ok: int | None) -> None:
    if ok is None:
        with pytest.raises(UsageError, match="whole number of tasks from 0 to 10"):
            parse_count(value)
    else:
        assert parse_count(value) == ok


def service_counts(aws, control: TrafficControl, colour: str) -> tuple[int, int]:
    service = aws("ecs").describe_services(
        cluster=control.endpoints.cluster, services=[control.endpoints.services[colour]]
    )["services"][0]
    return service["desiredCount"], service["runningCount"]


def test_scale_changes_the_service_and_records_it_for_terraform(aws, control) -> None:
    events = []
    result = scale(control, "green", 3, reason="load test", observe=events.append, sleep=no_wait)
    assert (result.before, result.after, result.changed) == (1, 3, True)
    assert service_counts(aws, control, "green") == (3, 3)
    assert read_live_variables(control.weights_path) == {"green_desired_count": 3}
    assert events and events[-1].health.healthy == 3
    entry = control.history.entries()[-1]
    assert (entry.action, entry.colour, entry.before, entry.after, entry.reason) == (
        "scale",
        "green",
        {"tasks": 1},
        {"tasks": 3},
        "load test",
    )


def no_wait(seconds: float) -> None:
    pass


def test_retire_refuses_a_colour_that_still_has_weight(aws, control) -> None:
    control.shift(Weights(90, 10))
    with pytest.raises(UsageError, match="green still receives 10% of new connections"):
        retire(control, "green")
    assert service_counts(aws, control, "green") == (1, 1)
    assert "green_desired_count" not in read_live_variables(control.weights_path)


def test_retire_refuses_to_leave_nothing_serving(aws, tmp_path) -> None:
    endpoints = build_stack(aws, {"blue": 1, "green": 0})
    control = TrafficControl(endpoints, aws, tmp_path / "t.json", tmp_path / "w.json")
    control.shift(Weights(0, 100), force=True)
    with pytest.raises(UnhealthyColour, match="retiring blue would leave nothing to serve"):
        retire(control, "blue")
    assert service_counts(aws, control, "blue") == (1, 1)


def test_retire_scales_to_zero_releases_stickiness_and_watches_the_drain(aws, control) -> None:
    control.shift(Weights(0, 100))
    events = []
    result = retire(control, "blue", reason="v2 is good", observe=events.append, sleep=no_wait)
    assert (result.before, result.after) == (2, 0)
    assert service_counts(aws, control, "blue") == (0, 0)
    assert listener_stickiness(aws, control) is False
    assert read_live_variables(control.weights_path) == {
        "blue_weight": 0,
        "green_weight": 100,
        "blue_desired_count": 0,
        "enable_stickiness": False,
    }
    assert events[-1].health.targets == 0 and events[-1].health.running == 0
    actions = [(e.action, e.colour) for e in control.history.entries()]
    assert actions == [("shift", None), ("stickiness-off", None), ("retire", "blue")]


def test_history_says_who_when_and_why(control, tmp_path) -> None:
    control.shift(Weights(90, 10), reason="canary")
    (entry,) = control.history.entries()
    assert entry.action == "shift" and entry.reason == "canary"
    assert entry.user and entry.at.endswith("+00:00")
    assert (entry.before, entry.after) == ({"blue": 100, "green": 0}, {"blue": 90, "green": 10})
    assert History(control.history.path, "x").entries(limit=1) == [entry]


def test_live_variables_merge_and_ignore_what_is_not_a_variable(tmp_path) -> None:
    path = tmp_path / "live.tfvars.json"
    record_live_variables(path, blue_weight=90, green_weight=10)
    record_live_variables(path, green_desired_count=0)
    record_live_variables(path, blue_weight=100, green_weight=0)
    assert json.loads(path.read_text()) == {
        "blue_weight": 100,
        "green_weight": 0,
        "green_desired_count": 0,
    }
    with pytest.raises(ValueError, match="not a live variable"):
        record_live_variables(path, task_cpu=512)


def test_connections_sum_the_latest_report_of_each_live_task(aws, control) -> None:
    from datetime import UTC, datetime, timedelta

    from chatops.traffic.health import connections

    endpoints = Endpoints(**{**control.endpoints.__dict__, "metrics_namespace": "chat/test"})
    cloudwatch = aws("cloudwatch")
    now = datetime.now(UTC)

    def report(colour: str, task: str, value: int, age: float) -> None:
        cloudwatch.put_metric_data(
            Namespace="chat/test",
            MetricData=[
                {
                    "MetricName": "WebSocketConnections",
                    "Dimensions": [
                        {"Name": "Colour", "Value": colour},
                        {"Name": "Task", "Value": task},
                    ],
                    "Timestamp": now - timedelta(seconds=age),
                    "Value": value,
                    "Unit": "Count",
                    "StorageResolution": 1,
                }
            ],
        )

    report("blue", "a", 40, age=70)
    report("blue", "a", 12, age=5)  # a draining task: its latest report counts
    report("blue", "b", 30, age=20)
    report("blue", "gone", 99, age=600)  # stopped long ago
    report("green", "c", 7, age=5)
    assert connections(endpoints, aws, "blue", now=lambda: now) == 42
    assert connections(endpoints, aws, "green", now=lambda: now) == 7
    assert connections(control.endpoints, aws, "blue") is None  # no namespace


def test_the_status_table_keeps_one_line_per_colour_in_80_columns(aws, control) -> None:
    from rich.console import Console

    from chatops.cli.commands import status as status_command

    control.shift(Weights(90, 10))
    report = status(control, Weights(90, 10), "the local emulator (http://127.0.0.1:40000)", "x")
    narrow = Console(width=80, record=True, highlight=False)
    original = status_command.console
    status_command.console = narrow
    try:
        status_command._render(report)
    finally:
        status_command.console = original
    lines = narrow.export_text().splitlines()
    rows = [line for line in lines if line.lstrip().startswith(("blue", "green"))]
    assert len(rows) == 2, lines
    assert all(len(line) <= 80 for line in lines)
    assert "2/2 healthy" in rows[0] and "90%" in rows[0]


def test_scale_refuses_a_colour_nothing_was_released_to(aws, tmp_path) -> None:
    endpoints = build_stack(aws, {"blue": 1, "green": 0}, images={"green": "chat:unreleased"})
    control = TrafficControl(endpoints, aws, tmp_path / "t.json", tmp_path / "w.json")
    with pytest.raises(ChatopsError, match="green has no released version yet"):
        scale(control, "green", 1, sleep=no_wait)
    assert service_counts(aws, control, "green") == (0, 0)
    assert read_live_variables(control.weights_path) == {}
    assert scale(control, "green", 0, sleep=no_wait).changed is False  # 0 is always fine


# --- edge-only: the weights live on the traffic rule ---------------------------------------


def edge_only(aws, endpoints: Endpoints) -> Endpoints:
    """The listener as the alb module builds it edge-only: 403 by default, and a rule
    that forwards (with the weights) the requests carrying the origin secret."""
    elbv2 = aws("elbv2")
    listener = elbv2.describe_listeners(ListenerArns=[endpoints.listener_arn])["Listeners"][0]
    forward = listener["DefaultActions"][0]
    rule = elbv2.create_rule(
        ListenerArn=endpoints.listener_arn,
        Priority=100,
        Conditions=[
            {
                "Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": "X-Origin-Verify", "Values": ["s3cret"]},
            }
        ],
        Actions=[{"Type": "forward", "ForwardConfig": forward["ForwardConfig"]}],
    )["Rules"][0]["RuleArn"]
    fixed = {"StatusCode": "403", "ContentType": "text/plain", "MessageBody": "Forbidden"}
    elbv2.modify_listener(
        ListenerArn=endpoints.listener_arn,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": fixed}],
    )
    return Endpoints(**{**endpoints.__dict__, "traffic_rule_arn": rule})


def rule_forward(aws, control: TrafficControl) -> dict[str, Any]:
    rule = aws("elbv2").describe_rules(RuleArns=[control.endpoints.traffic_rule_arn])["Rules"][0]
    return dict(rule)


def test_edge_only_shift_and_rollback_move_the_rule_and_keep_the_403(aws, tmp_path) -> None:
    endpoints = edge_only(aws, build_stack(aws, {"blue": 1, "green": 1}))
    control = TrafficControl(endpoints, aws, tmp_path / "traffic.json", tmp_path / "weights.json")
    assert control.live_weights() == Weights(100, 0)
    control.shift(Weights(30, 70))
    rule = rule_forward(aws, control)
    names = {arn: colour for colour, arn in endpoints.target_groups.items()}
    weights = {
        names[g["TargetGroupArn"]]: g["Weight"]
        for g in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    }
    assert weights == {"blue": 30, "green": 70}
    assert rule["Conditions"][0]["HttpHeaderConfig"]["Values"] == ["s3cret"]
    control.rollback()
    assert control.live_weights() == Weights(100, 0)
    assert control.stickiness_enabled() is False  # rollback releases pinned clients
    listener = aws("elbv2").describe_listeners(ListenerArns=[endpoints.listener_arn])
    assert listener["Listeners"][0]["DefaultActions"][0]["Type"] == "fixed-response"
    assert read_weights_file(control.weights_path) == Weights(100, 0)


def test_the_traffic_rule_comes_from_the_outputs_and_survives_the_record(tmp_path) -> None:
    from chatops.terraform.models import OutputValue

    outputs = {
        name: OutputValue(name, value)
        for name, value in {
            "aws_region": REGION,
            "listener_arn": "arn:listener",
            "traffic_rule_arn": "arn:rule",
            "blue_target_group_arn": "arn:blue",
            "green_target_group_arn": "arn:green",
            "ecs_cluster_name": "c",
            "blue_service_name": "b",
            "green_service_name": "g",
        }.items()
    }
    endpoints = Endpoints.from_outputs(outputs)
    assert endpoints.traffic_rule_arn == "arn:rule"
    direct = Endpoints.from_outputs(
        {**outputs, "traffic_rule_arn": OutputValue("traffic_rule_arn", None)}
    )
    assert direct.traffic_rule_arn is None
    TrafficRecord(endpoints).save(tmp_path / "traffic.json")
    assert TrafficRecord.load(tmp_path / "traffic.json").endpoints == endpoints
