"""Configuration: read once from the environment into a frozen dataclass.

Every setting comes from the environment the ECS task definition gives the container
(terraform/modules/ecs). A missing or invalid value raises `ConfigError`, which names
the variable and what it must be; `__main__` prints it as one line and exits 2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chatapp import __version__

COLOURS = ("blue", "green")
MIN_SECRET_LENGTH = 32
_HOST = re.compile(r"^[A-Za-z0-9.:_-]+$")


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""

    def __init__(self, variable: str, requirement: str) -> None:
        super().__init__(f"{variable} {requirement}")
        self.variable = variable


@dataclass(frozen=True)
class Config:
    aws_region: str
    messages_table: str
    connections_table: str
    user_counter_table: str
    redis_host: str
    redis_reader_host: str
    redis_port: int
    redis_tls: bool
    redis_auth_token: str | None
    session_secret: str
    colour: str
    port: int
    host: str = "0.0.0.0"
    version: str = f"{__version__}-dev"
    target_group_arn: str | None = None
    drain_seconds: float = 60.0
    metrics_namespace: str | None = None
    metrics_interval: float = 60.0
    web_root: Path | None = None
    metadata_uri: str | None = None

    def __repr__(self) -> str:
        # Never print the secrets, whatever logs the object.
        return (
            f"Config(colour={self.colour!r}, port={self.port}, version={self.version!r}, "
            f"redis={self.redis_host}:{self.redis_port}, tls={self.redis_tls})"
        )

    @property
    def target_poll_seconds(self) -> float:
        """How often the task reads its own target's health: min(5, DRAIN_SECONDS / 4)."""
        return min(5.0, self.drain_seconds / 4)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        reader = _Reader(env)
        redis_host = reader.host("REDIS_HOST")
        return cls(
            aws_region=reader.required("AWS_REGION", "must name the AWS region of the tables"),
            messages_table=reader.table("MESSAGES_TABLE"),
            connections_table=reader.table("CONNECTIONS_TABLE"),
            user_counter_table=reader.table("USER_COUNTER_TABLE"),
            redis_host=redis_host,
            redis_reader_host=reader.host("REDIS_READER_HOST", default=redis_host),
            redis_port=reader.port("REDIS_PORT"),
            redis_tls=reader.boolean("REDIS_TLS", default=False),
            redis_auth_token=reader.optional("REDIS_AUTH_TOKEN"),
            session_secret=reader.secret("SESSION_SECRET"),
            colour=reader.choice("COLOR", COLOURS),
            port=reader.port("PORT"),
            host=reader.host("HOST", default="0.0.0.0"),
            version=reader.optional("APP_VERSION") or f"{__version__}-dev",
            target_group_arn=reader.target_group("TARGET_GROUP_ARN"),
            drain_seconds=reader.seconds("DRAIN_SECONDS", default=60.0),
            metrics_namespace=reader.optional("METRICS_NAMESPACE"),
            metrics_interval=reader.seconds("METRICS_INTERVAL", default=60.0),
            web_root=reader.directory("WEB_ROOT"),
            metadata_uri=reader.url("ECS_CONTAINER_METADATA_URI_V4"),
        )


class _Reader:
    """Parses one variable at a time; every failure names the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def optional(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def required(self, name: str, requirement: str) -> str:
        value = self.optional(name)
        if value is None:
            raise ConfigError(name, f"is not set: it {requirement}")
        return value

    def table(self, name: str) -> str:
        value = self.required(name, "must name a DynamoDB table")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", value):
            raise ConfigError(name, f"must be a DynamoDB table name (got {value!r})")
        return value

    def host(self, name: str, default: str | None = None) -> str:
        value = self.optional(name)
        if value is None:
            if default is None:
                raise ConfigError(name, "is not set: it must be a host name or address")
            return default
        if not _HOST.match(value):
            raise ConfigError(name, f"must be a host name or address (got {value!r})")
        return value

    def port(self, name: str) -> int:
        value = self.required(name, "must be a TCP port (1-65535)")
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            raise ConfigError(name, f"must be a TCP port between 1 and 65535 (got {value!r})")
        return int(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.optional(name)
        if value is None:
            return default
        if value.lower() not in ("true", "false"):
            raise ConfigError(name, f"must be true or false (got {value!r})")
        return value.lower() == "true"

    def secret(self, name: str) -> str:
        value = self.required(name, f"must be a key of at least {MIN_SECRET_LENGTH} characters")
        if len(value) < MIN_SECRET_LENGTH:
            # The value itself is never echoed.
            raise ConfigError(
                name, f"must be at least {MIN_SECRET_LENGTH} characters (got {len(value)})"
            )
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self.required(name, "must be " + " or ".join(choices))
        if value not in choices:
            raise ConfigError(name, f"must be {' or '.join(choices)} (got {value!r})")
        return value

    def seconds(self, name: str, default: float) -> float:
        value = self.optional(name)
        if value is None:
            return default
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not 0 < seconds <= 3600:
            raise ConfigError(name, f"must be a number of seconds in (0, 3600] (got {value!r})")
        return seconds

    def target_group(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and not value.startswith("arn:"):
            raise ConfigError(name, f"must be a target group ARN (got {value!r})")
        return value

    def directory(self, name: str) -> Path | None:
        value = self.optional(name)
        if value is None:
            return None
        path = Path(value)
        if not path.is_dir():
            raise ConfigError(name, f"must be an existing directory (got {value!r})")
        return path.resolve()

    def url(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and not value.startswith(("http://", "https://")):
            raise ConfigError(name, f"must be an http(s) URL (got {value!r})")
        return value.rstrip("/") if value else None
