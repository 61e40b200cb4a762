"""Processes and ports chatops starts and stops by pid (the emulator, the data plane)."""

from __future__ import annotations

import gc
import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"

# A process holding hundreds of WebSockets makes short-lived asyncio objects for every
# frame. With CPython's default thresholds (700, 10, 10) enough of them are alive at a
# collection to reach the oldest generation and trigger a full collection every few
# seconds: a pause of 50-200 ms that every frame in flight waits through. Collecting
# the youngest generation every 20,000 allocations lets them die young instead.
GC_THRESHOLDS = (20_000, 50, 10)


@contextmanager
def connection_gc() -> Iterator[None]:
    """Collect garbage as a process serving many connections should (see above), and
    never scan what existed before (imports, configuration)."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


def alive(pid: int) -> bool:
    """Whether `pid` runs; reaps it first when it is a finished child of ours."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass  # not our child: only the signal probe can tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that exited but was not reaped yet (its parent died before it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def terminate(pid: int, timeout: float = 10.0, *, group: bool = False) -> bool:
    """SIGTERM, then SIGKILL once `timeout` has passed; True if it had to be killed.

    With `group`, the signals go to the process group `pid` leads (a detached process
    and its children).
    """

    def send(signum: int) -> bool:
        try:
            if group:
                os.killpg(pid, signum)
            else:
                os.kill(pid, signum)
        except ProcessLookupError:
            return False
        return True

    if not send(signal.SIGTERM):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return False
        time.sleep(0.05)
    send(signal.SIGKILL)
    for _ in range(100):
        if not alive(pid):
            break
        time.sleep(0.02)
    return True


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
