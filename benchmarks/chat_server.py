"""Benchmark: the chat server beside a Node.js Socket.IO peer, under the same load.

Starts a real Redis, DynamoDB tables on the embedded emulator and one server process at
a time: the chat server (`python -m chatapp`) and the Socket.IO peer
(benchmarks/peers/socketio, `npm ci` on first use). The load comes from a separate
process (`python -m benchmarks.loadgen`), the same code for both servers. Figures,
side by side with the ratio chat server / peer:

- connections held and the server's memory per connection (RSS growth / connections);
  targets: 5,000 connections, <= 50 KiB each;
- fan-out into one room at each rate of `--rates` messages/s (open loop: messages go
  out on schedule whether or not the server keeps up): deliveries per second and
  end-to-end latency p50/p99 (send to receipt, one clock), plus send-to-ack latency
  and the CPU of the server, the emulator and Redis; targets >= 10,000 deliveries/s
  with p99 <= 150 ms, and at least the peer's throughput. The default rates go on
  past the point where the peer's process uses a whole core (200 messages/s) to where
  both servers have saturated two cores (280 messages/s, 280,000 deliveries/s asked).

Prints figures, asserts nothing: on a shared machine they are indicative only.

    python benchmarks/chat_server.py [--connections 5000] [--room-size 1000]
        [--rates 10,20,40,80,120,160,200,240,280] [--step-seconds 10]
        [--servers chatapp,socketio] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
from chatapp import tables

from chatops.emulator.dataplane.elasticache import find_redis, start_redis, stop_redis
from chatops.emulator.manager import EmulatorManager
from chatops.processes import HOST, free_port, terminate

ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = ROOT / "benchmarks" / "peers" / "socketio"
REGION = "us-east-1"
REDIS_PASSWORD = secrets.token_urlsafe(24)
TABLE_PREFIX = "bench"
TABLES = {
    "MESSAGES_TABLE": "bench-messages",
    "CONNECTIONS_TABLE": "bench-connections",
    "USER_COUNTER_TABLE": "bench-user-counter",
}
SERVERS = ("chatapp", "socketio")
LABELS = {"chatapp": "chat server", "socketio": "Socket.IO peer"}
START_TIMEOUT = 60.0
COLUMN = 22  # width of a figure in the report


# ---- measuring a process ----------------------------------------------------------------


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """Resident set size (or `VmHWM`, its peak) of `pid` in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field_name} for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_open_files(wanted: int) -> int:
    """Raise RLIMIT_NOFILE towards `wanted` (children inherit it); returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(
                f"{url}: the server exited at start (code {process.returncode}):\n" + tail(log)
            )
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    sys.exit(f"{url}: the server did not answer in {START_TIMEOUT:.0f} s:\n" + tail(log))


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---- what the servers need ----------------------------------------------------------------


def create_tables(endpoint: str) -> None:
    """The three tables exactly as terraform/modules/dynamodb defines them."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    names = tables.create_tables(client, TABLE_PREFIX)
    assert {tables.VARIABLES[role]: name for role, name in names.items()} == TABLES


@dataclass
class Backends:
    emulator_endpoint: str
    emulator_pid: int
    redis_port: int
    redis_pid: int
    redis_describe: str


@contextmanager
def backends(workdir: Path) -> Iterator[Backends]:
    """The emulator with the tables, and a Redis requiring a password; stopped by pid."""
    manager = EmulatorManager(workdir / "emulator")
    redis = None
    try:
        emulator, _ = manager.start()
        create_tables(emulator.endpoint)
        redis = start_redis(
            free_port(), password=REDIS_PASSWORD, workdir=workdir / "redis", binary=find_redis()
        )
        yield Backends(
            emulator.endpoint, emulator.pid, redis.port, redis.pid, redis.binary.describe()
        )
    finally:
        if redis is not None:
            stop_redis(redis.pid)
        manager.stop()


@dataclass
class Server:
    kind: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def chatapp_server(back: Backends, workdir: Path) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_ENDPOINT_URL": back.emulator_endpoint,
        **TABLES,
        "REDIS_HOST": HOST,
        "REDIS_READER_HOST": HOST,
        "REDIS_PORT": str(back.redis_port),
        "REDIS_TLS": "false",
        "REDIS_AUTH_TOKEN": REDIS_PASSWORD,
        "SESSION_SECRET": secrets.token_urlsafe(48),
        "COLOR": "blue",
        "PORT": str(port),
        "HOST": HOST,
        "APP_VERSION": "bench",
        "DRAIN_SECONDS": "2",
        "METRICS_NAMESPACE": "",
    }
    for name in ("TARGET_GROUP_ARN", "ECS_CONTAINER_METADATA_URI_V4", "WEB_ROOT"):
        env.pop(name, None)
    log = workdir / "chatapp.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "chatapp"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server("chatapp", process, port, log)
    try:
        wait_healthy(f"http://{HOST}:{port}/health", process, log)
        yield server
    finally:
        terminate(process.pid, timeout=15.0)


@contextmanager
def socketio_server(back: Backends, workdir: Path) -> Iterator[Server]:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        sys.exit("the Socket.IO peer needs node and npm on PATH (or pass --servers chatapp)")
    if not (PEER_DIR / "node_modules").is_dir():
        print("installing the Socket.IO peer's dependencies (npm ci)...", file=sys.stderr)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER_DIR, check=True
        )
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": HOST,
        "REDIS_URL": f"redis://:{REDIS_PASSWORD}@{HOST}:{back.redis_port}",
    }
    log = workdir / "socketio.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [node, "server.mjs"],
            cwd=PEER_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server("socketio", process, port, log)
    try:
        wait_healthy(f"http://{HOST}:{port}/health", process, log)
        yield server
    finally:
        terminate(process.pid, timeout=10.0)


# ---- one run of the load against one server ---------------------------------------------


@dataclass
class Result:
    kind: str
    baseline_kib: int = 0
    held_kib: int = 0
    peak_kib: int = 0
    connected: dict[str, Any] = field(default_factory=dict)
    held: dict[str, Any] = field(default_factory=dict)
    joined: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    done: dict[str, Any] = field(default_factory=dict)

    @property
    def per_connection_kib(self) -> float:
        opened = self.connected.get("opened") or 0
        return (self.held_kib - self.baseline_kib) / opened if opened else float("nan")


def run_load(server: Server, back: Backends, args: argparse.Namespace, workdir: Path) -> Result:
    command = [
        sys.executable,
        "-m",
        "benchmarks.loadgen",
        "--url",
        f"ws://{HOST}:{server.port}",
        "--kind",
        server.kind,
        "--connections",
        str(args.connections),
        "--room-size",
        str(args.room_size),
        "--rates",
        ",".join(str(rate) for rate in args.rates),
        "--step-seconds",
        str(args.step_seconds),
        "--hold-seconds",
        str(args.hold_seconds),
        "--concurrency",
        str(args.concurrency),
        "--text-bytes",
        str(args.text_bytes),
        "--settle-seconds",
        str(args.settle_seconds),
    ]
    if args.shared_identity:
        command.append("--shared-identity")
    result = Result(server.kind)
    errors = workdir / f"loadgen-{server.kind}.log"
    # CPU seconds of the server, the emulator (DynamoDB) and Redis at the start of a step.
    watched = {"server": server.pid, "emulator": back.emulator_pid, "redis": back.redis_pid}
    cpu_at_start = dict.fromkeys(watched, 0.0)
    with errors.open("ab") as err:
        load = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    assert load.stdin is not None and load.stdout is not None
    try:
        for line in load.stdout:
            event = json.loads(line)
            kind = event.pop("event")
            progress(server.kind, kind, event)
            if kind == "warm":
                result.baseline_kib = rss_kib(server.pid)
                load.stdin.write("go\n")
                load.stdin.flush()
            elif kind == "connected":
                result.connected = event
            elif kind == "held":
                result.held = event
                result.held_kib = rss_kib(server.pid)
                load.stdin.write("go\n")
                load.stdin.flush()
            elif kind == "joined":
                result.joined = event
            elif kind == "step_start":
                cpu_at_start = {name: cpu_seconds(pid) for name, pid in watched.items()}
            elif kind == "step":
                for name, pid in watched.items():
                    used = cpu_seconds(pid) - cpu_at_start[name]
                    event[f"{name}_cpu_seconds"] = round(used, 2)
                result.steps.append(event)
            elif kind == "done":
                result.done = event
        result.peak_kib = rss_kib(server.pid, "VmHWM")
    finally:
        if load.poll() is None:
            load.stdin.close()
            try:
                load.wait(timeout=30)
            except subprocess.TimeoutExpired:
                terminate(load.pid, timeout=5.0)
    if load.returncode not in (0, None):
        sys.exit(f"the load generator failed (code {load.returncode}):\n" + tail(errors))
    return result


def progress(kind: str, event: str, fields: dict[str, Any]) -> None:
    shown = {key: value for key, value in fields.items() if key not in ("errors",)}
    print(f"  [{kind}] {event}: {json.dumps(shown)}", file=sys.stderr, flush=True)


# ---- the report ---------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if a == a and b == b and b else "-"


def report(results: dict[str, Result], args: argparse.Namespace, context: str) -> str:
    kinds = [kind for kind in SERVERS if kind in results]
    both = len(kinds) == 2
    width = 44
    rows: list[str] = [context, ""]
    header = f"{'':<{width}}" + "".join(f"{LABELS[kind]:>{COLUMN}}" for kind in kinds)
    rows.append(header + (f"{'ratio':>10}" if both else ""))

    def row(label: str, values: list[float], fmt: str, show_ratio: bool = True) -> None:
        cells = "".join(f"{format(value, fmt):>{COLUMN}}" for value in values)
        extra = f"{ratio(values[0], values[1]):>10}" if both and show_ratio else ""
        rows.append(f"{label:<{width}}{cells}{extra}")

    def text_row(label: str, values: list[str]) -> None:
        rows.append(f"{label:<{width}}" + "".join(f"{value:>{COLUMN}}" for value in values))

    picked = [results[kind] for kind in kinds]
    row(
        f"connections held (target {args.connections:,})",
        [float(r.held.get("open", 0)) for r in picked],
        ",.0f",
    )
    row(
        "  still open at the end of the run",
        [float(r.done.get("open_at_end", 0)) for r in picked],
        ",.0f",
    )
    row("  seconds to open them", [float(r.connected.get("seconds", 0)) for r in picked], ".1f")
    row(
        f"  seconds for {args.room_size:,} of them to join one room",
        [float(r.joined.get("seconds", 0)) - args.settle_seconds for r in picked],
        ".1f",
    )
    row("memory per connection, KiB (target <= 50)", [r.per_connection_kib for r in picked], ".1f")
    text_row(
        "  server RSS idle / holding them, MiB",
        [f"{r.baseline_kib / 1024:.0f} / {r.held_kib / 1024:.0f}" for r in picked],
    )
    row("  server peak RSS, MiB", [r.peak_kib / 1024 for r in picked], ".0f")
    for index, rate in enumerate(args.rates):
        steps = [r.steps[index] if index < len(r.steps) else {} for r in picked]
        members = max((step.get("members", 0) for step in steps), default=0)
        rows.append("")
        rows.append(f"fan-out: {rate:g} messages/s into one room of {members:,}")
        row(
            "  deliveries/s (target >= 10,000)",
            [float(step.get("deliveries_per_s", 0)) for step in steps],
            ",.0f",
        )
        text_row(
            "  delivered / expected",
            [f"{step.get('deliveries', 0):,}/{step.get('expected', 0):,}" for step in steps],
        )
        row("  latency p50, ms", [float(step.get("p50_ms", "nan")) for step in steps], ".1f")
        row(
            "  latency p99, ms (target <= 150)",
            [float(step.get("p99_ms", "nan")) for step in steps],
            ".1f",
        )
        row("  latency max, ms", [float(step.get("max_ms", "nan")) for step in steps], ".1f")
        text_row(
            "  send to ack p50 / p99, ms",
            [
                f"{step.get('ack_p50_ms', 0):.1f} / {step.get('ack_p99_ms', 0):.1f}"
                for step in steps
            ],
        )
        row(
            "  server CPU, % of one core",
            [
                100.0 * step.get("server_cpu_seconds", 0) / max(step.get("seconds", 0), 1e-9)
                for step in steps
            ],
            ".0f",
        )
        for name, label in (("emulator", "DynamoDB emulator"), ("redis", "Redis")):
            row(
                f"  {label} CPU, % of one core",
                [
                    100.0 * step.get(f"{name}_cpu_seconds", 0) / max(step.get("seconds", 0), 1e-9)
                    for step in steps
                ],
                ".0f",
                False,
            )
        row(
            "  server CPU per delivery, µs",
            [
                1e6 * step.get("server_cpu_seconds", 0) / max(step.get("deliveries", 0), 1)
                for step in steps
            ],
            ".1f",
        )
        errors = [",".join(f"{k}:{v}" for k, v in step.get("errors", {}).items()) for step in steps]
        if any(errors):
            text_row("  errors", [error or "-" for error in errors])
    other = [",".join(f"{k}:{v}" for k, v in r.done.get("errors", {}).items()) for r in picked]
    if any(other):
        rows.append("")
        text_row("errors outside the steps (code:count)", [e or "-" for e in other])
    closes = [",".join(f"{k}:{v}" for k, v in r.done.get("closes", {}).items()) for r in picked]
    if any(closes):
        rows.append("")
        text_row("connections closed by the server (code:count)", [c or "-" for c in closes])
    rows.append("")
    row("load generator CPU, s", [float(r.done.get("cpu_seconds", 0)) for r in picked], ".1f")
    return "\n".join(rows)


def machine_context(args: argparse.Namespace, back: Backends) -> str:
    load1, _, _ = os.getloadavg()
    return (
        f"Chat server benchmark: {os.cpu_count()} CPUs, load average {load1:.1f} at start; "
        f"{args.connections:,} connections, rooms of {args.room_size:,}, "
        f"{args.step_seconds:g} s per rate, {args.text_bytes}-byte texts.\n"
        f"Backends: {back.redis_describe}; DynamoDB on the embedded emulator (moto). The chat "
        "server stores every message in DynamoDB before fanning it out; the peer stores "
        "nothing.\nRatio = chat server / peer. On a shared machine the figures are "
        "indicative only."
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=5000, help="connections to hold")
    parser.add_argument("--room-size", type=int, default=1000, help="members of the fan-out room")
    parser.add_argument(
        "--rates",
        default="10,20,40,80,120,160,200,240,280",
        help="messages per second into the room, one step each (comma-separated)",
    )
    parser.add_argument("--step-seconds", type=float, default=10.0, help="duration of each rate")
    parser.add_argument("--hold-seconds", type=float, default=5.0, help="hold before measuring")
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes in flight")
    parser.add_argument(
        "--settle-seconds", type=float, default=3.0, help="pause after the joins (presence)"
    )
    parser.add_argument("--text-bytes", type=int, default=100, help="size of each message text")
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help="which to measure: chatapp,socketio"
    )
    parser.add_argument(
        "--shared-identity",
        action="store_true",
        help="every chat server connection resumes one user's token (one user, many tabs)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    args.rates = [float(rate) for rate in args.rates.split(",") if rate.strip()]
    args.servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = set(args.servers) - set(SERVERS)
    if unknown or not args.servers:
        parser.error(f"--servers takes {', '.join(SERVERS)}")
    if args.room_size > args.connections:
        parser.error("--room-size cannot exceed --connections")
    return args


def main() -> None:
    args = parse_args()
    # The server and the load generator each hold one descriptor per connection.
    limit = raise_open_files(args.connections + 1024)
    if limit < args.connections + 256:
        sys.exit(f"RLIMIT_NOFILE is {limit}: too low for {args.connections} connections")
    starters = {"chatapp": chatapp_server, "socketio": socketio_server}
    results: dict[str, Result] = {}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chat-bench-")))
        back = stack.enter_context(backends(workdir))
        context = machine_context(args, back)
        for kind in args.servers:
            print(f"{LABELS[kind]}: starting", file=sys.stderr, flush=True)
            with starters[kind](back, workdir) as server:
                results[kind] = run_load(server, back, args, workdir)
    if args.json:
        figures = {
            kind: {**asdict(result), "per_connection_kib": round(result.per_connection_kib, 2)}
            for kind, result in results.items()
        }
        print(json.dumps(figures, indent=2))
    else:
        print(report(results, args, context))


if __name__ == "__main__":
    main()
