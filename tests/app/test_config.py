"""Configuration from the environment: parsed once, every error names its variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from chatapp.config import Config, ConfigError

from tests.helpers import ROOT

BASE = {
    "AWS_REGION": "ap-northeast-2",
    "MESSAGES_TABLE": "chat-dev-messages",
    "CONNECTIONS_TABLE": "chat-dev-connections",
    "USER_COUNTER_TABLE": "chat-dev-user-counter",
    "REDIS_HOST": "master.chat.cache.amazonaws.com",
    "REDIS_READER_HOST": "replica.chat.cache.amazonaws.com",
    "REDIS_PORT": "6379",
    "REDIS_TLS": "true",
    "REDIS_AUTH_TOKEN": "redis-token",
    "SESSION_SECRET": "x" * 32,
    "COLOR": "green",
    "PORT": "8080",
}


def test_the_task_environment_parses() -> None:
    config = Config.from_env(
        {
            **BASE,
            "APP_VERSION": "v1.2.3",
            "TARGET_GROUP_ARN": "arn:aws:elasticloadbalancing:ap-northeast-2:1:targetgroup/g/1",
            "DRAIN_SECONDS": "45",
            "METRICS_NAMESPACE": "Chat",
            "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/abc/",
        }
    )
    assert config.colour == "green" and config.port == 8080 and config.redis_tls
    assert config.redis_reader_host == "replica.chat.cache.amazonaws.com"
    assert config.version == "v1.2.3" and config.drain_seconds == 45.0
    assert config.target_poll_seconds == 5.0
    assert config.metadata_uri == "http://169.254.170.2/v4/abc"
    assert config.host == "0.0.0.0" and config.metrics_interval == 60.0
    assert "x" * 32 not in repr(config) and "redis-token" not in repr(config)


def test_optional_settings_have_defaults() -> None:
    env = {k: v for k, v in BASE.items() if k not in ("REDIS_READER_HOST", "REDIS_AUTH_TOKEN")}
    config = Config.from_env({**env, "REDIS_TLS": "", "DRAIN_SECONDS": "2"})
    assert config.redis_reader_host == config.redis_host
    assert config.redis_auth_token is None and not config.redis_tls
    assert config.version.endswith("-dev")
    assert config.target_group_arn is None and config.metrics_namespace is None
    assert config.target_poll_seconds == 0.5


@pytest.mark.parametrize(
    ("changes", "variable", "says"),
    [
        ({"AWS_REGION": None}, "AWS_REGION", "is not set"),
        ({"MESSAGES_TABLE": None}, "MESSAGES_TABLE", "is not set"),
        ({"CONNECTIONS_TABLE": "a b"}, "CONNECTIONS_TABLE", "DynamoDB table name"),
        ({"REDIS_HOST": ""}, "REDIS_HOST", "is not set"),
        ({"REDIS_PORT": "redis"}, "REDIS_PORT", "TCP port"),
        ({"REDIS_PORT": "70000"}, "REDIS_PORT", "TCP port"),
        ({"REDIS_TLS": "yes"}, "REDIS_TLS", "true or false"),
        ({"SESSION_SECRET": None}, "SESSION_SECRET", "is not set"),
        ({"SESSION_SECRET": "short"}, "SESSION_SECRET", "at least 32"),
        ({"COLOR": "red"}, "COLOR", "blue or green"),
        ({"COLOR": None}, "COLOR", "is not set"),
        ({"PORT": "0"}, "PORT", "TCP port"),
        ({"PORT": None}, "PORT", "is not set"),
        ({"DRAIN_SECONDS": "soon"}, "DRAIN_SECONDS", "number of seconds"),
        ({"DRAIN_SECONDS": "-5"}, "DRAIN_SECONDS", "number of seconds"),
        ({"METRICS_INTERVAL": "0"}, "METRICS_INTERVAL", "number of seconds"),
        ({"TARGET_GROUP_ARN": "my-group"}, "TARGET_GROUP_ARN", "target group ARN"),
        ({"WEB_ROOT": "/nonexistent/dir"}, "WEB_ROOT", "existing directory"),
        (
            {"ECS_CONTAINER_METADATA_URI_V4": "169.254.170.2"},
            "ECS_CONTAINER_METADATA_URI_V4",
            "URL",
        ),
        ({"HOST": "bad host"}, "HOST", "host name"),
    ],
)
def test_a_bad_setting_names_its_variable(
    changes: dict[str, str | None], variable: str, says: str
) -> None:
    env = dict(BASE)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    with pytest.raises(ConfigError) as raised:
        Config.from_env(env)
    assert raised.value.variable == variable
    assert str(raised.value).startswith(variable) and says in str(raised.value)


def test_the_secret_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as raised:
        Config.from_env({**BASE, "SESSION_SECRET": "hunter2-but-short"})
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("changes", "variable"),
    [({"SESSION_SECRET": None}, "SESSION_SECRET"), ({"COLOR": "purple"}, "COLOR")],
)
def test_the_process_exits_2_with_one_line_on_stderr(
    tmp_path: Path, changes: dict[str, str | None], variable: str
) -> None:
    env = {k: v for k, v in BASE.items() if changes.get(k, "") is not None}
    env.update({k: v for k, v in changes.items() if v is not None})
    result = subprocess.run(
        [sys.executable, "-m", "chatapp"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], result.stderr
