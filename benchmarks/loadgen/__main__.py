"""The benchmark's load generator: a process of its own, driven by benchmarks/chat_server.py.

    python -m benchmarks.loadgen --url ws://127.0.0.1:8080 --kind chatapp [options]

Scenario, reported as one JSON object per line on stdout:

0. open and close `--warmup` connections, report `warm` and wait for a line on stdin
   (the driver reads the server's memory: the baseline);
1. open `--connections` connections (at most `--concurrency` handshakes at a time) and
   hold them for `--hold-seconds`, answering pings; report `held` and wait for a line
   on stdin (the driver reads the server's memory again);
2. join `--room-size` of them to one room and let the joins settle (`joined`);
3. for each rate in `--rates` (messages per second into the room), for
   `--step-seconds`: senders among the members send on a fixed schedule (open loop),
   each message carrying its send time; every member records each delivery's latency
   (`step_start`, then `step` with the figures);
4. close everything (`done`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import secrets
import sys
import time
from typing import Any

from .sessions import ChatappSession, Session, SocketioSession, Stats, StepStats

# Per sender, under the chat server's per-connection limit (5 sends/s, burst 10).
SENDS_PER_SENDER = 4.0


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def wait_for_driver() -> None:
    """Block until the driver writes a line (or closes stdin)."""
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def percentile(sorted_values: list[int], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index] / 1e6


def summarize(step: StepStats, members: int) -> dict[str, Any]:
    latencies = sorted(step.latencies_ns)
    ack_latencies = sorted(step.ack_latencies_ns)
    window_ns = (step.last_delivery_ns or step.stopped_ns) - step.started_ns
    return {
        "index": step.index,
        "rate": step.rate,
        "senders": step.senders,
        "members": members,
        "sent": step.sent,
        "acked": step.acked,
        "deliveries": step.deliveries,
        "expected": step.acked * members,
        "seconds": round(window_ns / 1e9, 3),
        "deliveries_per_s": round(step.deliveries / (window_ns / 1e9), 1) if window_ns > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(latencies[-1] / 1e6, 2) if latencies else float("nan"),
        "ack_p50_ms": round(percentile(ack_latencies, 0.50), 2),
        "ack_p99_ms": round(percentile(ack_latencies, 0.99), 2),
        "errors": dict(step.errors),
    }


class Scenario:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stats = Stats()
        self.sessions: list[Session] = []
        self.room = "bench" + secrets.token_hex(4)
        self.token: str | None = None

    def make(self, index: int) -> Session:
        nickname = f"bench{index}"
        if self.args.kind == "chatapp":
            return ChatappSession(self.args.url, index, self.stats, nickname, self.token)
        return SocketioSession(self.args.url, index, self.stats, nickname)

    async def warm_up(self) -> None:
        """Let the server allocate what its first connections need, then wait."""
        sessions = [self.make(-1 - i) for i in range(self.args.warmup)]
        for session in sessions:
            try:
                await session.open(self.args.timeout)
            except Exception:  # noqa: BLE001 - the connect phase reports failures
                if session.ws is not None:
                    session.ws.finish()
        await asyncio.gather(*(session.close() for session in sessions))
        await asyncio.sleep(1.0)
        emit("warm", connections=len(sessions))
        await wait_for_driver()

    async def open_all(self) -> None:
        args = self.args
        if args.shared_identity and args.kind == "chatapp":
            first = self.make(0)
            await first.open(args.timeout)
            assert isinstance(first, ChatappSession)
            self.token = first.token
            self.sessions.append(first)
        gate = asyncio.Semaphore(args.concurrency)
        failures: dict[str, int] = {}

        async def one(index: int) -> Session | None:
            async with gate:
                session = self.make(index)
                try:
                    await session.open(args.timeout)
                except Exception as error:  # noqa: BLE001 - counted and reported
                    name = type(error).__name__
                    failures[name] = failures.get(name, 0) + 1
                    if session.ws is not None:
                        session.ws.finish()
                    return None
                return session

        started = time.monotonic()
        indexes = range(len(self.sessions), args.connections)
        opened = await asyncio.gather(*(one(index) for index in indexes))
        self.sessions.extend(session for session in opened if session is not None)
        emit(
            "connected",
            requested=args.connections,
            opened=len(self.sessions),
            failures=failures,
            seconds=round(time.monotonic() - started, 2),
        )

    async def hold(self) -> None:
        await asyncio.sleep(self.args.hold_seconds)
        alive = sum(1 for session in self.sessions if session.is_open)
        emit("held", open=alive, closes=dict(self.stats.closes), seconds=self.args.hold_seconds)
        await wait_for_driver()

    async def join_room(self) -> list[Session]:
        args = self.args
        members = [session for session in self.sessions if session.is_open][: args.room_size]
        gate = asyncio.Semaphore(args.concurrency)
        failures: dict[str, int] = {}

        async def one(session: Session) -> bool:
            async with gate:
                try:
                    await session.join(self.room, args.timeout)
                except Exception as error:  # noqa: BLE001 - counted and reported
                    failures[type(error).__name__] = failures.get(type(error).__name__, 0) + 1
                    return False
                return True

        started = time.monotonic()
        results = await asyncio.gather(*(one(session) for session in members))
        joined = [session for session, ok in zip(members, results, strict=True) if ok]
        # Presence updates of the joins are still flowing: let them finish.
        await asyncio.sleep(args.settle_seconds)
        emit(
            "joined",
            room=self.room,
            members=len(joined),
            failures=failures,
            seconds=round(time.monotonic() - started, 2),
        )
        return joined

    async def run_step(self, index: int, rate: float, members: list[Session]) -> None:
        args = self.args
        count = min(len(members), max(1, math.ceil(rate / SENDS_PER_SENDER)))
        senders = members[:count]
        step = StepStats(index=index, rate=rate, senders=count)
        self.stats.steps[index] = step
        interval_ns = int(1e9 * count / rate)  # per sender
        padding = "x" * max(0, args.text_bytes - 40)
        emit("step_start", index=index, rate=rate, senders=count)
        step.started_ns = time.perf_counter_ns()
        end_ns = step.started_ns + int(args.step_seconds * 1e9)

        async def sender(position: int, session: Session) -> None:
            # Senders are staggered across one interval, then keep a fixed schedule.
            due = step.started_ns + interval_ns * position // count
            n = 0
            while due < end_ns and session.is_open:
                delay = (due - time.perf_counter_ns()) / 1e9
                if delay > 0:
                    await asyncio.sleep(delay)
                sent_ns = time.perf_counter_ns()
                session.send(
                    self.room,
                    f"bench {index} {sent_ns} {padding}",
                    f"s{index}x{session.index:06d}x{n:06d}",  # 8-64 characters
                )
                step.sent += 1
                n += 1
                due += interval_ns

        await asyncio.gather(*(sender(i, session) for i, session in enumerate(senders)))
        step.stopped_ns = time.perf_counter_ns()
        # Drain: until every acknowledged message reached every member, or nothing
        # arrives for a while.
        deadline = time.monotonic() + args.drain_seconds
        last_seen = (step.deliveries, step.acked)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if step.acked >= step.sent and step.deliveries >= step.acked * len(members):
                break
            await asyncio.sleep(0.1)
            now_seen = (step.deliveries, step.acked)
            if now_seen != last_seen:
                last_seen, quiet_since = now_seen, time.monotonic()
            elif time.monotonic() - quiet_since > 3.0:
                break
        emit("step", **summarize(step, len(members)))
        step.latencies_ns = []
        step.ack_latencies_ns = []

    async def close_all(self) -> None:
        gate = asyncio.Semaphore(self.args.concurrency * 2)

        async def one(session: Session) -> None:
            async with gate:
                await session.close()

        await asyncio.gather(*(one(session) for session in self.sessions))

    async def run(self) -> None:
        try:
            await self.warm_up()
            await self.open_all()
            await self.hold()
            members = await self.join_room()
            if members:
                for index, rate in enumerate(self.args.rates):
                    await self.run_step(index, rate, members)
        finally:
            still_open = sum(1 for session in self.sessions if session.is_open)
            await self.close_all()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            emit(
                "done",
                open_at_end=still_open,
                closes=dict(self.stats.closes),
                errors=dict(self.stats.errors),
                cpu_seconds=round(usage.ru_utime + usage.ru_stime, 2),
            )


def rates(text: str) -> list[float]:
    values = [float(part) for part in text.split(",") if part.strip()]
    if not values or any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError("rates are positive numbers, comma-separated")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen", description=__doc__)
    parser.add_argument("--url", required=True, help="ws://host:port of the server")
    parser.add_argument("--kind", choices=["chatapp", "socketio"], required=True)
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--room-size", type=int, default=1000)
    parser.add_argument("--rates", type=rates, default=[10.0, 20.0, 40.0, 80.0])
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--hold-seconds", type=float, default=5.0)
    parser.add_argument("--settle-seconds", type=float, default=3.0)
    parser.add_argument("--drain-seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--text-bytes", type=int, default=100)
    parser.add_argument(
        "--shared-identity",
        action="store_true",
        help="chatapp: every connection resumes the first one's token (one user)",
    )
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.connections + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    asyncio.run(Scenario(args).run())


if __name__ == "__main__":
    main()
