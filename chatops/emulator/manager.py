"""Lifecycle of the emulator process: start, find, probe, stop.

The emulator runs detached from the CLI (its own session), so it outlives the command
that started it. Its pid, port and instance id live in `<state dir>/local/emulator.json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from chatops.errors import EmulatorDown, EmulatorStartFailed
from chatops.processes import HOST, alive, free_port, terminate

# Answered by the emulator itself (see server.py); kept here so the CLI never imports moto.
PRIVATE_PREFIX = "/__chatops/"
INSTANCE_PATH = PRIVATE_PREFIX + "instance"
GENERATION_PATH = PRIVATE_PREFIX + "generation"
# Header the data plane puts on its read-only AWS requests (they change nothing).
READ_HEADER = "X-Chatops-Read"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Emulator:
    pid: int
    port: int
    instance_id: str
    started_at: float
    host: str = HOST

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


def probe(endpoint: str, timeout: float = 2.0) -> str | None:
    """The instance id of the chatops emulator answering at `endpoint`, if any."""
    try:
        with urllib.request.urlopen(endpoint + INSTANCE_PATH, timeout=timeout) as response:
            return str(json.load(response).get("instance_id"))
    except (OSError, ValueError, urllib.error.URLError):
        return None


class EmulatorManager:
    def __init__(self, local_dir: Path) -> None:
        self.local_dir = local_dir
        self.info_path = local_dir / "emulator.json"
        self.log_path = local_dir / "emulator.log"

    def recorded(self) -> Emulator | None:
        try:
            return Emulator(**json.loads(self.info_path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def running(self) -> Emulator | None:
        """The recorded emulator if it is alive and answering as itself."""
        emulator = self.recorded()
        if emulator is None or not alive(emulator.pid):
            return None
        if probe(emulator.endpoint) != emulator.instance_id:
            return None
        return emulator

    def require_running(self) -> Emulator:
        emulator = self.running()
        if emulator is None:
            raise EmulatorDown(
                "the local emulator is not running",
                "start it with `chatops local start` (any --local command also starts it)",
            )
        return emulator

    def start(self) -> tuple[Emulator, bool]:
        """The running emulator, starting one if needed; the flag says whether it is new."""
        current = self.running()
        if current is not None:
            return current, False
        self.local_dir.mkdir(parents=True, exist_ok=True)
        instance_id = uuid.uuid4().hex[:12]
        port = free_port()
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "chatops.emulator.server",
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                    "--instance-id",
                    instance_id,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        emulator = Emulator(
            pid=process.pid, port=port, instance_id=instance_id, started_at=time.time()
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if probe(emulator.endpoint, timeout=0.5) == instance_id:
                self.info_path.write_text(json.dumps(asdict(emulator), indent=2))
                return emulator, True
            time.sleep(0.2)
        process.kill()
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise EmulatorStartFailed(
            f"the local emulator did not start on port {port}: {tail[0]}",
            f"see {self.log_path}; is moto[server] installed (pip install -e .)?",
        )

    def stop(self, timeout: float = 10.0) -> Emulator | None:
        """Stop the recorded emulator; returns it, or None if none was running."""
        emulator = self.recorded()
        self.info_path.unlink(missing_ok=True)
        if emulator is None or not alive(emulator.pid):
            return None
        if probe(emulator.endpoint) != emulator.instance_id:
            # The pid was reused by something else: not ours to signal.
            return None
        terminate(emulator.pid, timeout)
        return emulator
