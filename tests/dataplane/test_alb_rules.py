"""The local ALB's listener rules: conditions, priorities and actions, as pure decisions."""

from __future__ import annotations

import pytest

from chatops.emulator.dataplane import alb, http

FORWARD = alb.Forward((alb.Group("arn:tg/blue", "blue", 100),), True, 3600)
FORBIDDEN = alb.FixedResponse(403, "text/plain", "Forbidden")
SECRET = "s3cret-Value"


def request(
    path: str = "/ws",
    headers: tuple[tuple[str, str], ...] = (),
    *,
    method: str = "GET",
    source_ip: str = "127.0.0.1",
) -> alb.Request:
    head = http.Head((method, path, "HTTP/1.1"), [("Host", "chat.example.com:80"), *headers])
    return alb.Request.of(head, source_ip)


def header(*values: str, name: str = "X-Origin-Verify") -> alb.Condition:
    return alb.Condition("http-header", values, name)


# The edge-only listener: the rule forwards what carries the secret, the default is 403.
EDGE_ONLY = (
    alb.Rule(100, (header(SECRET),), FORWARD),
    alb.Rule(float("inf"), (), FORBIDDEN),
)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((("X-Origin-Verify", SECRET),), FORWARD),
        ((("x-origin-verify", SECRET.upper()),), FORWARD),  # names and values: any case
        ((("X-Origin-Verify", "wrong"),), FORBIDDEN),
        ((("X-Origin-Verify", SECRET + "x"),), FORBIDDEN),  # whole value, not a prefix
        ((), FORBIDDEN),
        ((("X-Other", SECRET),), FORBIDDEN),
        ((("X-Origin-Verify", "wrong"), ("X-Origin-Verify", SECRET)), FORWARD),
    ],
)
def test_the_origin_secret_rule(headers: tuple[tuple[str, str], ...], expected: alb.Action) -> None:
    assert alb.match_rule(EDGE_ONLY, request(headers=headers)) == expected


def test_during_a_rotation_both_secrets_are_accepted() -> None:
    rules = (alb.Rule(100, (header("old", "new"),), FORWARD), alb.Rule(float("inf"), (), FORBIDDEN))
    for value in ("old", "new"):
        assert alb.match_rule(rules, request(headers=(("X-Origin-Verify", value),))) == FORWARD
    assert alb.match_rule(rules, request(headers=(("X-Origin-Verify", "older"),))) == FORBIDDEN


def test_rules_are_evaluated_by_priority_not_by_order() -> None:
    maintenance = alb.FixedResponse(503, "text/plain", "maintenance")
    rules = (
        alb.Rule(float("inf"), (), FORBIDDEN),
        alb.Rule(200, (alb.Condition("path-pattern", ("/ws*",)),), FORWARD),
        alb.Rule(10, (alb.Condition("path-pattern", ("/ws",)),), maintenance),
    )
    assert alb.match_rule(rules, request("/ws")) == maintenance
    assert alb.match_rule(rules, request("/ws/x")) == FORWARD
    assert alb.match_rule(rules, request("/api")) == FORBIDDEN


def test_every_condition_of_a_rule_must_match() -> None:
    rules = (
        alb.Rule(1, (header(SECRET), alb.Condition("path-pattern", ("/api/*",))), FORWARD),
        alb.Rule(float("inf"), (), FORBIDDEN),
    )
    assert alb.match_rule(rules, request("/api/info", (("X-Origin-Verify", SECRET),))) == FORWARD
    assert alb.match_rule(rules, request("/ws", (("X-Origin-Verify", SECRET),))) == FORBIDDEN
    assert alb.match_rule(rules, request("/api/info")) == FORBIDDEN


@pytest.mark.parametrize(
    ("condition", "path", "matches"),
    [
        (alb.Condition("path-pattern", ("/api/*",)), "/api/info?x=1", True),  # path only
        (alb.Condition("path-pattern", ("/API/*",)), "/api/info", False),  # case-sensitive
        (alb.Condition("path-pattern", ("/r?om",)), "/room", True),
        (alb.Condition("path-pattern", ("/r?om",)), "/rooom", False),
        (alb.Condition("query-string", ("version=2",)), "/api?version=2", True),
        (alb.Condition("query-string", ("version=2",)), "/api?Version=2", True),  # any case
        (alb.Condition("query-string", ("version=2",)), "/api?version=3", False),
        (alb.Condition("query-string", ("=beta*",)), "/api?track=beta-1", True),  # any key
        (alb.Condition("query-string", ("a=1", "b=2")), "/api?b=2", True),  # one pair is enough
        (alb.Condition("host-header", ("*.example.com",)), "/", True),  # the port is ignored
        (alb.Condition("host-header", ("other.com",)), "/", False),
        (alb.Condition("http-request-method", ("GET",)), "/", True),
        (alb.Condition("http-request-method", ("POST",)), "/", False),
        (alb.Condition("source-ip", ("127.0.0.0/8",)), "/", True),
        (alb.Condition("source-ip", ("10.0.0.0/8",)), "/", False),
        (alb.Condition("unknown-field", ("x",)), "/", False),
    ],
)
def test_conditions(condition: alb.Condition, path: str, matches: bool) -> None:
    assert alb.condition_matches(condition, request(path)) is matches


def test_conditions_as_describe_rules_gives_them() -> None:
    parsed = alb.parse_conditions(
        [
            {
                "Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": "X-Origin-Verify", "Values": ["a", "b"]},
            },
            {"Field": "path-pattern", "Values": ["/ws*"]},
            {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api*"]}},
            {
                "Field": "query-string",
                "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}, {"Value": "x"}]},
            },
        ]
    )
    assert parsed == (
        header("a", "b"),
        alb.Condition("path-pattern", ("/ws*",)),
        alb.Condition("path-pattern", ("/api*",)),
        alb.Condition("query-string", ("v=2", "=x")),
    )


def test_a_routing_without_rules_forwards_by_its_own_groups() -> None:
    routing = alb.Routing(groups=FORWARD.groups, stickiness=True, duration=60)
    assert routing.decide(request()) is routing
    with_rules = alb.Routing(groups=FORWARD.groups, rules=EDGE_ONLY)
    assert with_rules.decide(request()) == FORBIDDEN


def test_the_forward_of_the_matching_rule_decides_stickiness() -> None:
    plain = alb.Forward(FORWARD.groups, stickiness=False)
    choice = alb.choose_group(plain, ("arn:tg/blue", 0.0), 10.0, 0.5)
    assert choice.set_cookie is False and choice.sticky is False
    assert alb.choose_group(FORWARD, ("arn:tg/blue", 0.0), 10.0, 0.5).sticky is True
