"""The data plane's pure logic: routing, stickiness, health, task plans, environments."""

from __future__ import annotations

import gc
import random
from pathlib import Path

import pytest

from chatops.emulator.dataplane import alb, cloudfront, ecs, state, targets
from chatops.emulator.dataplane.http import Head, ProtocolError, parse_head
from chatops.processes import GC_THRESHOLDS, connection_gc, free_port

BLUE, GREEN = "arn:aws:elasticloadbalancing:r:1:targetgroup/chat-blue/1", "arn:x:tg/chat-green/2"


def group(arn: str, weight: int, *states: str) -> alb.Group:
    return alb.Group(
        arn, arn, weight, tuple(alb.Target("127.0.0.1", 9000 + i, s) for i, s in enumerate(states))
    )


# --- weights ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "roll", "expected"),
    [
        ((100, 0), 0.0, BLUE),
        ((100, 0), 0.999, BLUE),
        ((0, 100), 0.0, GREEN),
        ((50, 50), 0.49, BLUE),
        ((50, 50), 0.5, GREEN),
        ((10, 30), 0.24, BLUE),
        ((10, 30), 0.26, GREEN),
        ((0, 0), 0.5, None),
    ],
)
def test_weighted_choice(weights: tuple[int, int], roll: float, expected: str | None) -> None:
    groups = [group(BLUE, weights[0], "healthy"), group(GREEN, weights[1], "healthy")]
    chosen = alb.choose_by_weight(groups, roll)
    assert (chosen.arn if chosen else None) == expected


def test_weights_share_traffic_in_proportion() -> None:
    rng = random.Random(7)
    groups = [group(BLUE, 90, "healthy"), group(GREEN, 10, "healthy")]
    picks = [alb.choose_by_weight(groups, rng.random()) for _ in range(10_000)]
    green = sum(1 for g in picks if g is not None and g.arn == GREEN)
    assert 850 < green < 1150


# --- stickiness ---------------------------------------------------------------------------


def routing(blue: int, green: int, *, blue_states: tuple[str, ...] = ("healthy",)) -> alb.Routing:
    return alb.Routing(
        groups=(group(BLUE, blue, *blue_states), group(GREEN, green, "healthy")),
        stickiness=True,
        duration=3600,
    )


@pytest.mark.parametrize(
    ("routing_", "cookie", "now", "expected", "sticky"),
    [
        # No cookie: the weights decide.
        (routing(0, 100), None, 1000.0, GREEN, False),
        # A valid cookie wins over the weights, weight 0 included.
        (routing(0, 100), (BLUE, 900.0), 1000.0, BLUE, True),
        # Stickiness lasts DurationSeconds from the choice.
        (routing(0, 100), (BLUE, 1000.0 - 3600), 1000.0, GREEN, False),
        # Stickiness takes precedence over health: a pinned client keeps its group even
        # with no healthy target (fail open within it) or none at all (the ALB's 503).
        (routing(0, 100, blue_states=("unhealthy",)), (BLUE, 900.0), 1000.0, BLUE, True),
        (routing(0, 100, blue_states=()), (BLUE, 900.0), 1000.0, BLUE, True),
        # A group that left the action is not held to either.
        (routing(0, 100), ("arn:gone", 900.0), 1000.0, GREEN, False),
    ],
)
def test_group_stickiness(routing_, cookie, now, expected, sticky) -> None:
    choice = alb.choose_group(routing_, cookie, now, roll=0.5)
    assert choice.group is not None and choice.group.arn == expected
    assert choice.sticky is sticky
    assert choice.issued == (cookie[1] if sticky else now)


def test_stickiness_disabled_ignores_the_cookie() -> None:
    plain = alb.Routing(groups=routing(0, 100).groups, stickiness=False)
    assert alb.choose_group(plain, (BLUE, 999.0), 1000.0, 0.5).group.arn == GREEN  # type: ignore[union-attr]


def test_cookie_round_trip_and_tampering() -> None:
    cookies = alb.StickyCookie(b"k" * 32)
    value = cookies.encode(BLUE, 1234.5)
    assert cookies.decode(value) == (BLUE, 1234.5)
    assert alb.StickyCookie(b"x" * 32).decode(value) is None  # another balancer's cookie
    assert cookies.decode(value[:-4] + "AAAA") is None
    assert cookies.decode("%2Fnot-base64") is None  # URL-encoded values are not supported
    header = [f"session=1; {alb.CORS_COOKIE}={value}; other=2"]
    assert cookies.from_header(header) == (BLUE, 1234.5)


def test_set_cookie_headers_as_alb_sends_them() -> None:
    headers = alb.StickyCookie(b"k" * 32).set_cookie_headers(BLUE, 1000.0, 1000.0)
    assert [name for name, _ in headers] == ["Set-Cookie", "Set-Cookie"]
    plain, cors = (value for _, value in headers)
    assert plain.startswith(f"{alb.COOKIE}=") and plain.endswith("; Path=/")
    assert "Expires=Thu, 08 Jan 1970" in plain  # seven days after 1000 s
    assert cors.startswith(f"{alb.CORS_COOKIE}=") and cors.endswith("SameSite=None; Secure")


# --- targets within a group ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "routable"),
    [
        (("healthy", "unhealthy", "healthy"), [9000, 9002]),
        (("healthy", "draining", "initial"), [9000]),
        # Fail open: no healthy target, every registered one not draining.
        (("unhealthy", "initial", "draining"), [9000, 9001]),
        (("draining",), []),
        ((), []),
    ],
)
def test_routable_targets(states: tuple[str, ...], routable: list[int]) -> None:
    assert [t.port for t in group(BLUE, 1, *states).routable()] == routable


def test_round_robin_over_healthy_targets() -> None:
    rr = alb.RoundRobin()
    blue = group(BLUE, 1, "healthy", "unhealthy", "healthy")
    assert [rr.pick(blue).port for _ in range(4)] == [9000, 9002, 9000, 9002]  # type: ignore[union-attr]


def test_faults_by_group_name(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    faults = alb.Faults(path)
    faults.reload()
    assert faults.for_group(group(GREEN, 1)) is None
    path.write_text('{"' + GREEN + '": {"http_5xx_share": 0.5, "added_latency": 0.1}}')
    faults.reload()
    assert faults.for_group(group(GREEN, 1)) == alb.Fault(0.5, 0.1)


# --- health -------------------------------------------------------------------------------


OK = targets.CheckResult(True)
TIMEOUT = targets.CheckResult(False, "Target.Timeout", "Request timed out")


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([OK], "healthy"),  # one passing check after registration
        ([TIMEOUT], "initial"),
        ([TIMEOUT, TIMEOUT, TIMEOUT], "unhealthy"),
        ([OK, TIMEOUT, TIMEOUT], "healthy"),
        ([OK, TIMEOUT, TIMEOUT, TIMEOUT], "unhealthy"),
        ([OK, TIMEOUT, TIMEOUT, TIMEOUT, OK], "unhealthy"),
        ([OK, TIMEOUT, TIMEOUT, TIMEOUT, OK, OK], "healthy"),
        ([OK, TIMEOUT, OK, TIMEOUT, OK, TIMEOUT], "healthy"),  # never 3 failures in a row
    ],
)
def test_health_state_machine(results: list[targets.CheckResult], expected: str) -> None:
    check = targets.HealthCheck(healthy_threshold=2, unhealthy_threshold=3)
    health = targets.TargetHealth(check)
    for result in results:
        health.record(result)
    assert health.state == expected


def test_a_new_target_that_does_not_listen_yet_stays_initial() -> None:
    refused = targets.CheckResult(False, "Target.FailedHealthChecks", "x", refused=True)
    health = targets.TargetHealth(targets.HealthCheck(unhealthy_threshold=2))
    for _ in range(5):
        assert not health.record(refused)
    assert (health.state, health.failures) == ("initial", 0)
    health.record(OK)
    assert health.state == "healthy"
    health.record(refused)
    health.record(refused)
    assert health.state == "unhealthy"  # once it has answered, refusals count


def test_unhealthy_reason_is_the_last_failure() -> None:
    health = targets.TargetHealth(targets.HealthCheck(unhealthy_threshold=1))
    assert health.record(targets.CheckResult(False, "Target.ResponseCodeMismatch", "[503]"))
    assert (health.state, health.reason) == ("unhealthy", "Target.ResponseCodeMismatch")


@pytest.mark.parametrize(
    ("code", "matcher", "ok"),
    [
        (200, "200", True),
        (204, "200", False),
        (204, "200,204", True),
        (299, "200-299", True),
        (300, "200-299", False),
        (503, "200-399, 503", True),
    ],
)
def test_matcher(code: int, matcher: str, ok: bool) -> None:
    assert targets.matches(code, matcher) is ok


def test_health_check_settings_from_the_target_group() -> None:
    check = targets.HealthCheck.from_target_group(
        {
            "HealthCheckPath": "/health",
            "HealthCheckIntervalSeconds": 15,
            "HealthCheckTimeoutSeconds": 5,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 3,
            "Matcher": {"HttpCode": "200"},
        }
    )
    assert check == targets.HealthCheck("/health", "traffic-port", 15.0, 5.0, 2, 3, "200")


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.3.0.1", True), ("::1", True), ("10.0.0.5", False)],
)
def test_only_loopback_targets_are_probed(address: str, loopback: bool) -> None:
    assert targets.is_loopback(address) is loopback


# --- task plans ---------------------------------------------------------------------------


def spec(
    desired: int, definition: str = "td:2", max_percent: int = 200, min_percent: int = 100
) -> ecs.ServiceSpec:
    return ecs.ServiceSpec(
        "svc",
        "svc",
        "cluster",
        "r",
        "ACTIVE",
        desired,
        definition,
        max_percent,
        min_percent,
        60.0,
        (),
    )


def task(
    task_id: str, definition: str = "td:2", started: float = 0.0, serving: bool = True
) -> ecs.TaskView:
    return ecs.TaskView(task_id, definition, started, serving)


@pytest.mark.parametrize(
    ("service", "live", "start", "stop"),
    [
        (spec(2), [], 2, ()),
        (spec(2), [task("a")], 1, ()),
        (spec(1), [task("a", started=1), task("b", started=2)], 0, ("b",)),  # newest goes
        (spec(1), [task("a", started=2), task("b", started=1, serving=False)], 0, ("b",)),
        (spec(0), [task("a"), task("b")], 0, ("a", "b")),
        # Rolling: start the new one first, keep the old until the new serves.
        (spec(1), [task("old", "td:1")], 1, ()),
        (spec(1), [task("old", "td:1"), task("new", serving=False)], 0, ()),
        (spec(1), [task("old", "td:1"), task("new")], 0, ("old",)),
        # maximumPercent 100: an old task has to make way first.
        (spec(1, max_percent=100, min_percent=0), [task("old", "td:1")], 0, ("old",)),
        # minimumHealthyPercent 50 of 2: one old one may go at once.
        (
            spec(2, min_percent=50),
            [
                task("o1", "td:1", 1),
                task("o2", "td:1", 2),
                task("n1", serving=False),
                task("n2", serving=False),
            ],
            0,
            ("o1",),
        ),
    ],
)
def test_service_plans(service, live, start: int, stop: tuple[str, ...]) -> None:
    plan = ecs.plan_service(service, live)
    assert (plan.start, set(plan.stop)) == (start, set(stop))


# --- environment and sources --------------------------------------------------------------


CONTAINER = {
    "name": "app",
    "environment": [
        {"name": "AWS_REGION", "value": "ap-northeast-2"},
        {"name": "REDIS_HOST", "value": "master.chat-redis.abc.apn2.cache.amazonaws.com"},
        {"name": "REDIS_READER_HOST", "value": "replica.chat-redis.abc.apn2.cache.amazonaws.com"},
        {"name": "REDIS_PORT", "value": "6379"},
        {"name": "REDIS_TLS", "value": "true"},
        {"name": "PORT", "value": "8080"},
        {"name": "COLOR", "value": "green"},
        {"name": "MESSAGES_TABLE", "value": "chat-messages"},
        {"name": "TARGET_GROUP_ARN", "value": GREEN},
    ],
}


def test_task_environment_rewrites_only_endpoints(tmp_path: Path) -> None:
    env = ecs.task_environment(
        CONTAINER,
        {"REDIS_AUTH_TOKEN": "token", "SESSION_SECRET": "s" * 64},
        port=41234,
        redis_port=45000,
        aws_endpoint="http://127.0.0.1:5000",
        metadata_uri="http://127.0.0.1:5001/v4/abc",
        marker="instance/task:abc",
        source=tmp_path,
        credentials_uri="http://127.0.0.1:5001/v2/credentials/abc",
        credentials_token="secret-token",
        base={"PATH": "/usr/bin", "AWS_ACCESS_KEY_ID": "test", "AWS_PROFILE": "dev"},
    )
    assert env == {
        "PATH": "/usr/bin",
        "AWS_REGION": "ap-northeast-2",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_READER_HOST": "127.0.0.1",
        "REDIS_PORT": "45000",
        "REDIS_TLS": "false",
        "PORT": "41234",
        "HOST": "127.0.0.1",
        "COLOR": "green",
        "MESSAGES_TABLE": "chat-messages",
        "TARGET_GROUP_ARN": GREEN,
        "REDIS_AUTH_TOKEN": "token",
        "SESSION_SECRET": "s" * 64,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:5001/v2/credentials/abc",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "secret-token",
        "AWS_EC2_METADATA_DISABLED": "true",
        "ECS_CONTAINER_METADATA_URI_V4": "http://127.0.0.1:5001/v4/abc",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(tmp_path),
        "CHATOPS_DATAPLANE": "instance/task:abc",
    }


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("localhost/chatapp:rel-3", "images/rel-3"),
        ("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/chatapp-dev:blue", "app"),
        ("localhost/other:rel-3", "app"),
        ("localhost/chatapp:../x", "app"),
    ],
)
def test_source_dir_from_the_image(image: str, expected: str, tmp_path: Path) -> None:
    app = tmp_path / "app"
    assert ecs.source_dir(image, tmp_path / "local", app) == (
        app if expected == "app" else tmp_path / "local" / expected
    )


@pytest.mark.parametrize(
    ("value_from", "name"),
    [
        (
            "arn:aws:ssm:ap-northeast-2:123456789012:parameter/chat/redis/auth-token",
            "/chat/redis/auth-token",
        ),
        ("/chat/session-secret", "/chat/session-secret"),
    ],
)
def test_secret_parameter_names(value_from: str, name: str) -> None:
    assert ecs.parameter_name(value_from) == name


def test_task_metadata_names_the_tasks_own_target() -> None:
    local = ecs.LocalTask(
        id="abc",
        arn="arn:aws:ecs:r:1:task/chat/abc",
        service_arn="s",
        service_name="svc",
        cluster_arn="arn:aws:ecs:r:1:cluster/chat",
        region="r",
        definition_arn="td:1",
        image="img",
        container_name="app",
        colour="blue",
        port=41000,
        pid=1,
        marker="m",
        log_path="x",
        stop_timeout=30,
        targets=[],
    )
    status, document = ecs.metadata_response(
        "/v4/abc/task", {"abc": local}, {"td:1": {"family": "chat", "revision": 1}}
    )
    assert status == 200 and document["TaskARN"] == local.arn
    assert document["Containers"][0]["Networks"][0]["IPv4Addresses"] == ["127.0.0.1"]
    assert ecs.metadata_response("/v4/other/task", {"abc": local}, {})[0] == 404


# --- ports --------------------------------------------------------------------------------


def test_a_recorded_port_is_kept_when_free_and_replaced_when_taken() -> None:
    import socket

    port = free_port()
    assert state.choose_port(port) == port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        other = state.choose_port(port)
    assert other != port and other > 0


def test_the_record_round_trips(tmp_path: Path) -> None:
    record = state.DataplaneRecord(instance_id="i", supervisor_pid=12, ports={"alb:x": 4000})
    record.processes["alb:x"] = state.ProcessRecord("alb:x", "alb", 13, 4000, "i/alb:x")
    record.save(tmp_path)
    loaded = state.DataplaneRecord.load(tmp_path)
    assert loaded.ports == {"alb:x": 4000} and loaded.processes["alb:x"].pid == 13


def test_a_pid_counts_as_ours_only_with_its_marker() -> None:
    import os

    assert not state.is_ours(os.getpid(), "some-instance/task:x")
    assert not state.is_ours(None, "x")


# --- HTTP heads and the edge's patterns ---------------------------------------------------


def test_request_heads() -> None:
    head = parse_head(
        b"GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        response=False,
    )
    assert (head.method, head.path, head.is_upgrade, head.keep_alive()) == (
        "GET",
        "/ws",
        True,
        True,
    )
    with pytest.raises(ProtocolError):
        parse_head(b"NOT HTTP\r\n\r\n", response=False)
    closing = Head(("GET", "/", "HTTP/1.1"), [("Connection", "close")])
    assert not closing.keep_alive()


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/ws*", "/ws", True),
        ("/ws*", "/ws/room", True),
        ("/api*", "/api/rooms/a/messages", True),
        ("/api*", "/index.html", False),
        ("ws*", "/ws", True),
        ("/*.js", "/app.js", True),
        ("/WS*", "/ws", False),
    ],
)
def test_edge_path_patterns(pattern: str, path: str, matches: bool) -> None:
    assert cloudfront.path_matches(pattern, path) is matches


def test_response_headers_policy() -> None:
    headers = cloudfront.policy_headers(
        {
            "SecurityHeadersConfig": {
                "ContentSecurityPolicy": {
                    "Override": True,
                    "ContentSecurityPolicy": "default-src 'self'",
                },
                "StrictTransportSecurity": {
                    "Override": True,
                    "AccessControlMaxAgeSec": 31536000,
                    "IncludeSubdomains": True,
                    "Preload": True,
                },
                "ContentTypeOptions": {"Override": True},
                "FrameOptions": {"Override": True, "FrameOption": "DENY"},
                "ReferrerPolicy": {
                    "Override": False,
                    "ReferrerPolicy": "strict-origin-when-cross-origin",
                },
            }
        }
    )
    head = Head(("HTTP/1.1", "200", "OK"), [("Referrer-Policy", "no-referrer")])
    cloudfront.apply_policy(head, headers)
    assert head.get("content-security-policy") == "default-src 'self'"
    assert head.get("strict-transport-security") == "max-age=31536000; includeSubDomains; preload"
    assert head.get("x-content-type-options") == "nosniff"
    assert head.get("x-frame-options") == "DENY"
    assert head.get("referrer-policy") == "no-referrer"  # not overridden


def test_the_proxies_collect_young_garbage_rarely_and_restore_the_defaults() -> None:
    before = gc.get_threshold()
    with connection_gc():
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what existed before is never scanned
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
