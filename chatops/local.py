"""The --local target's housekeeping: status, shell exports, reset."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field

from chatops.emulator.manager import Emulator, EmulatorManager
from chatops.inventory import StackId, find_resources
from chatops.project import Project
from chatops.targets import DEFAULT_REGION, LOCAL_CREDENTIALS, Target, read_state


@dataclass(frozen=True)
class LocalStatus:
    running: bool
    endpoint: str | None = None
    pid: int | None = None
    instance_id: str | None = None
    uptime_seconds: float | None = None
    state_resources: int = 0
    stack_resources: dict[str, list[str]] = field(default_factory=dict)

    @property
    def stack_resource_count(self) -> int:
        return sum(len(names) for names in self.stack_resources.values())

    def to_json(self) -> dict[str, object]:
        return {
            "running": self.running,
            "endpoint": self.endpoint,
            "pid": self.pid,
            "instance_id": self.instance_id,
            "uptime_seconds": round(self.uptime_seconds) if self.uptime_seconds else None,
            "state_resources": self.state_resources,
            "stack_resources": self.stack_resource_count,
            "stack_resources_by_kind": {k: len(v) for k, v in self.stack_resources.items()},
        }


def shell_exports(emulator: Emulator, region: str | None = None) -> str:
    """POSIX shell lines that point any AWS SDK or CLI at the emulator."""
    variables = {
        "AWS_ENDPOINT_URL": emulator.endpoint,
        **LOCAL_CREDENTIALS,
        "AWS_REGION": region or DEFAULT_REGION,
        "AWS_DEFAULT_REGION": region or DEFAULT_REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    lines = ["unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
    return "\n".join(lines)


def reset(project: Project) -> Emulator | None:
    """Stop the emulator and forget the local stack: state, saved plan, ownership record."""
    stopped = EmulatorManager(project.local_dir).stop()
    local = project.local_dir
    for name in ("terraform.tfstate", "terraform.tfstate.backup", "state-owner.json"):
        (local / name).unlink(missing_ok=True)
    (local / "terraform" / "chatops.tfplan").unlink(missing_ok=True)
    return stopped


def status(project: Project) -> LocalStatus:
    """Whether the emulator is up, and how much of the local stack it holds."""
    emulator = EmulatorManager(project.local_dir).running()
    state = read_state(project.local_dir / "terraform.tfstate")
    in_state = sum(
        len(resource.get("instances", []))
        for resource in state.get("resources", [])
        if resource.get("mode") == "managed"
    )
    if emulator is None:
        return LocalStatus(running=False, state_resources=in_state)
    outputs = {name: raw.get("value") for name, raw in state.get("outputs", {}).items()}
    held: dict[str, list[str]] = {}
    stack_id = StackId.from_outputs(outputs)
    if stack_id is not None:
        target = Target(kind="local", project=project, emulator=emulator)
        region = str(outputs.get("aws_region") or DEFAULT_REGION)
        held = find_resources(lambda service: target.client(service, region), stack_id)
    return LocalStatus(
        running=True,
        endpoint=emulator.endpoint,
        pid=emulator.pid,
        instance_id=emulator.instance_id,
        uptime_seconds=time.time() - emulator.started_at,
        state_resources=in_state,
        stack_resources=held,
    )
