"""What the data plane records on disk: the processes it started and the ports it uses.

`<local dir>/dataplane.json` is rewritten by the supervisor whenever something changes.
It holds enough to rebuild everything from the emulator: the supervisor's pid, every
process it started (role, pid, port, and the marker that proves a pid is still that
process), and the port each long-lived role last listened on, so the URLs stay the same
across restarts when the ports are free.

Every process of the data plane carries `CHATOPS_DATAPLANE=<instance id>/<key>` in its
environment; a recorded pid counts as ours only while `/proc/<pid>/environ` says so
(pids are reused).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatops.processes import alive, free_port, port_is_free, terminate

STATE_FILE = "dataplane.json"
MARKER_VARIABLE = "CHATOPS_DATAPLANE"


@dataclass
class ProcessRecord:
    """One process the data plane started: a task, Redis, an ALB, an edge."""

    key: str  # unique: "task:<task id>", "redis:<group>", "alb:<name>", "edge:<id>"
    role: str  # "task", "redis", "alb", "edge"
    pid: int
    port: int
    marker: str
    started_at: float = field(default_factory=time.time)
    colour: str | None = None
    health: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    title: str | None = None  # for processes that overwrite their environment (Redis)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class DataplaneRecord:
    instance_id: str = ""
    supervisor_pid: int | None = None
    supervisor_started_at: float | None = None
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    updated_at: float = 0.0

    @classmethod
    def load(cls, local_dir: Path) -> DataplaneRecord:
        try:
            raw = json.loads((local_dir / STATE_FILE).read_text())
            processes = {
                key: ProcessRecord(**value) for key, value in raw.pop("processes", {}).items()
            }
            return cls(**raw, processes=processes)
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, local_dir: Path) -> None:
        self.updated_at = time.time()
        local_dir.mkdir(parents=True, exist_ok=True)
        path = local_dir / STATE_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        temporary.replace(path)


def marker(instance_id: str, key: str) -> str:
    return f"{instance_id}/{key}"


def process_marker(pid: int) -> str | None:
    """The data-plane marker in a live process's environment; None if absent or unreadable."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = MARKER_VARIABLE.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def process_title(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def is_ours(pid: int | None, expected_marker: str, title: str | None = None) -> bool:
    """Whether `pid` is alive and is the process that was given `expected_marker`.

    Redis rewrites its process title over its environment, so for it the title (which
    names its address) is checked instead. Where /proc is missing (not Linux) a live pid
    is trusted.
    """
    if not pid or not alive(pid):
        return False
    if not Path("/proc/self/environ").exists():
        return True
    if process_marker(pid) == expected_marker:
        return True
    return title is not None and title in process_title(pid)


def stop_recorded(record: DataplaneRecord, timeout: float = 5.0) -> list[ProcessRecord]:
    """Stop every recorded process that is still ours (SIGTERM, SIGKILL after `timeout`)."""
    stopped = []
    for process in record.processes.values():
        if is_ours(process.pid, process.marker, process.title):
            terminate(process.pid, timeout)
            stopped.append(process)
    return stopped


def choose_port(preferred: int | None) -> int:
    """The preferred port when it is free, else any free port (never an error)."""
    if preferred and port_is_free(preferred):
        return preferred
    return free_port()


def iter_pids(record: DataplaneRecord) -> Iterator[int]:
    if record.supervisor_pid:
        yield record.supervisor_pid
    for process in record.processes.values():
        yield process.pid


def environ_base() -> dict[str, str]:
    """What any process needs from the environment to run, and nothing else."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "SYSTEMROOT", "VIRTUAL_ENV")
    return {name: os.environ[name] for name in keep if name in os.environ}
