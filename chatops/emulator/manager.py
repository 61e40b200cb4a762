"""Lifecycle of the emulator process and its data plane: start, find, probe, stop.

The emulator runs detached from the CLI (its own session), so it outlives the command
that started it. Its pid, port and instance id live in `<state dir>/local/emulator.json`.
Beside it runs the data plane's supervisor (`dataplane.supervisor`), started with the
emulator and restarted by the next command that finds it dead; what it runs is recorded
in `<state dir>/local/dataplane.json`.
"""

from __future__ import annotations

import fcntl
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
REGIONS_PATH = PRIVATE_PREFIX + "regions"
# Header the data plane puts on its read-only AWS requests (they change nothing).
READ_HEADER = "X-Chatops-Read"
START_TIMEOUT = 30.0
SUPERVISOR_STOP_TIMEOUT = 20.0
SUPERVISOR_MODULE = "chatops.emulator.dataplane.supervisor"


APP_DIR_ENV = "CHATOPS_APP_DIR"


def checkout_app_dir() -> Path | None:
    """The code tasks run (unless their image names a snapshot): `$CHATOPS_APP_DIR` when
    set, else the checkout's app/ when chatops runs from a checkout."""
    override = os.environ.get(APP_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    candidate = Path(__file__).resolve().parents[2] / "app"
    return candidate if (candidate / "chatapp").is_dir() else None


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
        self.ensure_dataplane(emulator)
        return emulator

    # --- the data plane's supervisor -------------------------------------------------

    def supervisor_pid(self, emulator: Emulator) -> int | None:
        """The live supervisor of `emulator`'s data plane, if any."""
        from chatops.emulator.dataplane.state import DataplaneRecord, is_ours, marker

        record = DataplaneRecord.load(self.local_dir)
        pid = record.supervisor_pid
        if pid and is_ours(pid, marker(emulator.instance_id, "supervisor")):
            return pid
        return None

    def ensure_dataplane(self, emulator: Emulator) -> tuple[int, bool]:
        """The supervisor's pid, starting it when it is not running (it died, even by
        SIGKILL: the new one adopts what the old one ran); the flag says it was started."""
        from chatops.emulator.dataplane.state import (
            MARKER_VARIABLE,
            DataplaneRecord,
            marker,
            stop_recorded,
        )

        self.local_dir.mkdir(parents=True, exist_ok=True)
        with (self.local_dir / "dataplane.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two commands at once start one supervisor
            pid = self.supervisor_pid(emulator)
            if pid is not None:
                return pid, False
            record = DataplaneRecord.load(self.local_dir)
            if record.instance_id and record.instance_id != emulator.instance_id:
                # Processes of an emulator that is gone: their stack went with it.
                stop_recorded(record)
                record.processes = {}
            record.instance_id = emulator.instance_id
            log_path = self.local_dir / "logs" / "supervisor.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            args = [
                sys.executable,
                "-m",
                SUPERVISOR_MODULE,
                "--emulator",
                emulator.endpoint,
                "--instance-id",
                emulator.instance_id,
                "--local-dir",
                str(self.local_dir),
            ]
            app_dir = checkout_app_dir()
            if app_dir is not None:
                args += ["--app-dir", str(app_dir)]
            env = {
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                MARKER_VARIABLE: marker(emulator.instance_id, "supervisor"),
            }
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=env,
                )
            record.supervisor_pid = process.pid
            record.supervisor_started_at = time.time()
            record.save(self.local_dir)
            return process.pid, True

    def stop_dataplane(self, timeout: float = SUPERVISOR_STOP_TIMEOUT) -> None:
        """Stop the supervisor (it stops what it runs), then anything recorded left over."""
        from chatops.emulator.dataplane.state import DataplaneRecord, is_ours, marker, stop_recorded

        record = DataplaneRecord.load(self.local_dir)
        pid = record.supervisor_pid
        if pid and record.instance_id and is_ours(pid, marker(record.instance_id, "supervisor")):
            terminate(pid, timeout)
        record = DataplaneRecord.load(self.local_dir)
        stop_recorded(record, timeout=2.0)
        if record.processes or record.supervisor_pid:
            record.processes = {}
            record.supervisor_pid = None
            record.save(self.local_dir)

    def start(self) -> tuple[Emulator, bool]:
        """The running emulator, starting one if needed; the flag says whether it is new."""
        current = self.running()
        if current is not None:
            self.ensure_dataplane(current)
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
                self.ensure_dataplane(emulator)
                return emulator, True
            time.sleep(0.2)
        process.kill()
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise EmulatorStartFailed(
            f"the local emulator did not start on port {port}: {tail[0]}",
            f"see {self.log_path}; is moto[server] installed (pip install -e .)?",
        )

    def stop(self, timeout: float = 10.0) -> Emulator | None:
        """Stop the data plane and the recorded emulator; returns the emulator, or None if
        none was running."""
        self.stop_dataplane()
        emulator = self.recorded()
        self.info_path.unlink(missing_ok=True)
        if emulator is None or not alive(emulator.pid):
            return None
        if probe(emulator.endpoint) != emulator.instance_id:
            # The pid was reused by something else: not ours to signal.
            return None
        terminate(emulator.pid, timeout)
        return emulator
