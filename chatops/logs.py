"""The chat tasks' logs: from CloudWatch Logs on AWS, from the data plane's files locally.

On AWS the containers log to the stack's log group with the colour as stream prefix
(`<colour>/app/<task id>`), which is what `aws logs tail` reads; locally each task
writes `<local dir>/logs/<service>/<task id>.log`. Both are shown the same way: one line
per event, `<time> <colour>/app/<task id> <message>`, oldest first, optionally
following new events as they come.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatops.errors import UsageError

COLOURS = ("blue", "green")
_SINCE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
FOLLOW_POLL = 1.0


@dataclass(frozen=True)
class LogEvent:
    timestamp: float
    stream: str
    message: str

    def render(self) -> str:
        moment = datetime.datetime.fromtimestamp(self.timestamp, datetime.UTC)
        return f"{moment.isoformat(timespec='milliseconds')} {self.stream} {self.message}"


def parse_since(value: str) -> float:
    """Seconds in `10m`, `2h`, `30s`, `1d`, `1w`."""
    match = _SINCE.match(value.strip())
    if not match:
        raise UsageError(
            f"--since {value!r} is not a duration", "use a number and a unit: 30s, 10m, 2h, 1d"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def check_colour(colour: str | None) -> str | None:
    if colour is not None and colour not in COLOURS:
        raise UsageError(f"--colour must be blue or green, not {colour!r}")
    return colour


def _event_time(line: str, fallback: float) -> float:
    """A JSON log line's `ts` (epoch seconds or milliseconds, or ISO 8601)."""
    if not line.startswith("{"):
        return fallback
    try:
        value = json.loads(line).get("ts")
    except (ValueError, AttributeError):
        return fallback
    if isinstance(value, int | float):
        return float(value) / (1000 if value > 1e11 else 1)
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return fallback
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.UTC)
        return parsed.timestamp()
    return fallback


# --- local files ------------------------------------------------------------------------


@dataclass
class LocalLogs:
    """Task log files under `<local dir>/logs/<service>/`, per colour."""

    logs_dir: Path
    services: Mapping[str, str]  # colour -> service name
    colour: str | None = None
    _offsets: dict[Path, int] = field(default_factory=dict)

    def files(self) -> list[tuple[str, Path]]:
        """(colour, file) of every task log of the wanted colours."""
        found = []
        for colour, service in self.services.items():
            if self.colour and colour != self.colour:
                continue
            directory = self.logs_dir / service
            if directory.is_dir():
                found += [(colour, path) for path in sorted(directory.glob("*.log"))]
        return found

    def read_new(self, since: float | None = None) -> list[LogEvent]:
        """Events written since the last call (all of them the first time)."""
        events = []
        for colour, path in self.files():
            offset = self._offsets.get(path, 0)
            try:
                with path.open("rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
                mtime = path.stat().st_mtime
            except OSError:
                continue
            complete = data.rsplit(b"\n", 1)[0] + b"\n" if b"\n" in data else b""
            self._offsets[path] = offset + len(complete)
            stream = f"{colour}/app/{path.stem}"
            last = mtime
            for raw in complete.decode(errors="replace").splitlines():
                if not raw.strip():
                    continue
                last = _event_time(raw, last)
                if since is None or last >= since:
                    events.append(LogEvent(last, stream, raw))
        events.sort(key=lambda event: event.timestamp)
        return events


# --- CloudWatch Logs ----------------------------------------------------------------------


@dataclass
class CloudWatchLogs:
    """The stack's log group, filtered by colour (the stream prefix)."""

    client: Any
    group: str
    colour: str | None = None
    _seen: set[str] = field(default_factory=set)
    _after: float = 0.0

    def read_new(self, since: float | None = None) -> list[LogEvent]:
        start = since if since is not None and not self._after else self._after
        kwargs: dict[str, Any] = {"logGroupName": self.group, "startTime": int(start * 1000)}
        if self.colour:
            kwargs["logStreamNamePrefix"] = f"{self.colour}/"
        events = []
        for page in self.client.get_paginator("filter_log_events").paginate(**kwargs):
            for event in page.get("events", []):
                if event["eventId"] in self._seen:
                    continue
                self._seen.add(event["eventId"])
                events.append(
                    LogEvent(event["timestamp"] / 1000, event["logStreamName"], event["message"])
                )
        if events:
            self._after = max(e.timestamp for e in events)
        events.sort(key=lambda event: event.timestamp)
        return events


Source = LocalLogs | CloudWatchLogs


def tail(
    source: Source,
    *,
    since: float,
    follow: bool,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.time,
) -> Iterator[LogEvent]:
    """Events of the last `since` seconds, then (with `follow`) new ones until interrupted."""
    yield from source.read_new(now() - since)
    while follow:
        sleep(FOLLOW_POLL)
        yield from source.read_new()


def service_names(outputs: Mapping[str, Any]) -> dict[str, str]:
    """colour -> ECS service name, from the stack's output values."""
    return {
        colour: str(outputs[f"{colour}_service_name"])
        for colour in COLOURS
        if outputs.get(f"{colour}_service_name")
    }


def open_logs(target: Any, outputs: Mapping[str, Any], colour: str | None) -> Source:
    """Where the stack's task logs are on `target` (a `Target`), given its output values."""
    if target.is_local:
        return LocalLogs(target.project.local_dir / "logs", service_names(outputs), colour)
    group = outputs.get("log_group_name")
    if not group:
        raise UsageError(
            "the stack's outputs name no log group", "deploy the stack first: `chatops deploy`"
        )
    region = str(outputs.get("aws_region") or target.region or "")
    return CloudWatchLogs(target.client("logs", region or None), str(group), colour)
