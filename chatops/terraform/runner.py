"""Runs the terraform binary: explicit argv, streamed output, typed errors.

Every command gets `-input=false` and either `-no-color` or `-json` (when its events
drive a progress view), and runs with TF_IN_AUTOMATION=1. `plan` uses
`-detailed-exitcode`, so exit 2 means "changes present", not failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatops.errors import (
    Diagnostic,
    InitRequired,
    LockInfo,
    StateLocked,
    TerraformFailed,
    TerraformNotFound,
    TerraformTooOld,
)
from chatops.terraform.models import (
    OutputValue,
    PlanSummary,
    StateResource,
    UIEvent,
    parse_event,
    parse_lock_info,
    parse_outputs,
    parse_plan,
    parse_state,
)

BINARY_ENV = "CHATOPS_TERRAFORM"
MINIMUM_VERSION = (1, 9, 0)

EventHandler = Callable[[UIEvent], None]
LineHandler = Callable[[str], None]

# Summaries Terraform uses when the working directory needs `terraform init`.
_INIT_SUMMARIES = (
    "Module not installed",
    "Required plugins are not installed",
    "Inconsistent dependency lock file",
    "Backend initialization required",
    "Missing required provider",
    "Module source has changed",
)


@dataclass(frozen=True)
class PlanResult:
    path: Path
    changes: bool


@dataclass(frozen=True)
class Settings:
    """How to run terraform for one target."""

    working_dir: Path
    binary: str = "terraform"
    data_dir: Path | None = None
    state_path: Path | None = None
    plugin_dir: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    env_remove: tuple[str, ...] = ()


def _state_args(settings: Settings) -> list[str]:
    return [f"-state={settings.state_path}"] if settings.state_path else []


def _variable_args(variables: Mapping[str, str], var_files: Sequence[Path]) -> list[str]:
    args = [f"-var-file={path}" for path in var_files]
    args += [f"-var={name}={value}" for name, value in variables.items()]
    return args


def init_args(settings: Settings, *, upgrade: bool = False) -> list[str]:
    args = ["init", "-input=false", "-no-color"]
    if settings.plugin_dir:
        args.append(f"-plugin-dir={settings.plugin_dir}")
    if upgrade:
        args.append("-upgrade")
    return args


def plan_args(
    settings: Settings,
    out: Path,
    variables: Mapping[str, str] | None = None,
    var_files: Sequence[Path] = (),
    *,
    destroy: bool = False,
    targets: Sequence[str] = (),
) -> list[str]:
    args = ["plan", "-input=false", "-json", "-detailed-exitcode", f"-out={out}"]
    if destroy:
        args.append("-destroy")
    args += [f"-target={address}" for address in targets]
    return args + _state_args(settings) + _variable_args(variables or {}, var_files)


def apply_args(settings: Settings, plan: Path) -> list[str]:
    return ["apply", "-input=false", "-json", *_state_args(settings), str(plan)]


def destroy_args(
    settings: Settings, variables: Mapping[str, str] | None = None, var_files: Sequence[Path] = ()
) -> list[str]:
    return [
        "apply",
        "-destroy",
        "-auto-approve",
        "-input=false",
        "-json",
        *_state_args(settings),
        *_variable_args(variables or {}, var_files),
    ]


def output_args(settings: Settings) -> list[str]:
    return ["output", "-json", "-no-color", *_state_args(settings)]


def show_args(path: Path | None = None) -> list[str]:
    return ["show", "-json", "-no-color", *([str(path)] if path else [])]


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise TerraformNotFound(f"could not read the terraform version from {text!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def locate_binary(binary: str = "terraform") -> str:
    """The terraform executable: CHATOPS_TERRAFORM if set, else `binary` on PATH."""
    configured = os.environ.get(BINARY_ENV, binary)
    found = shutil.which(configured)
    if found is None:
        raise TerraformNotFound(
            f"terraform was not found ({configured!r} is not on PATH)",
            f"install Terraform >= {'.'.join(map(str, MINIMUM_VERSION))} "
            f"(https://developer.hashicorp.com/terraform/install) or set {BINARY_ENV}",
        )
    return found


class Terraform:
    """One Terraform root module, run with one target's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._binary = locate_binary(settings.binary)

    # --- process plumbing -----------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # A TF_CLI_CONFIG_FILE naming a missing file only makes terraform print warnings.
        cli_config = env.get("TF_CLI_CONFIG_FILE")
        if cli_config and not Path(cli_config).is_file():
            env.pop("TF_CLI_CONFIG_FILE")
        for name in self.settings.env_remove:
            env.pop(name, None)
        env.update(self.settings.env)
        env["TF_IN_AUTOMATION"] = "1"
        env["TF_INPUT"] = "0"
        if self.settings.data_dir:
            env["TF_DATA_DIR"] = str(self.settings.data_dir)
        return env

    def _spawn(self, args: Sequence[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self._binary, *args],
            cwd=self.settings.working_dir,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def run(
        self,
        args: Sequence[str],
        *,
        on_line: LineHandler | None = None,
        on_event: EventHandler | None = None,
        events: bool = False,
        ok_codes: tuple[int, ...] = (0,),
    ) -> tuple[int, str, list[Diagnostic]]:
        """Run terraform, streaming stdout line by line; raise a typed error on failure.

        With `events`, stdout is the JSON UI: each line is parsed and passed to `on_event`.
        """
        process = self._spawn(args)
        stderr_chunks: list[str] = []
        reader = threading.Thread(
            target=lambda: stderr_chunks.append(process.stderr.read() if process.stderr else "")
        )
        reader.start()
        lines: list[str] = []
        diagnostics: list[Diagnostic] = []
        assert process.stdout is not None
        try:
            for line in process.stdout:
                lines.append(line)
                event = parse_event(line) if events else None
                if event is not None:
                    if event.diagnostic is not None:
                        diagnostics.append(event.diagnostic)
                    if on_event:
                        on_event(event)
                elif on_line:
                    on_line(line.rstrip("\n"))
        except KeyboardInterrupt:
            # Terraform got the same SIGINT: let it stop cleanly and save its state.
            process.wait()
            raise
        code = process.wait()
        reader.join()
        stdout = "".join(lines)
        if code not in ok_codes:
            stderr = "".join(stderr_chunks)
            if not diagnostics:
                diagnostics = _diagnostics_from_text(stdout + "\n" + stderr)
            raise self._failure(args[0], diagnostics, stdout + stderr)
        return code, stdout, diagnostics

    def _failure(self, command: str, diagnostics: list[Diagnostic], output: str) -> Exception:
        for diagnostic in diagnostics:
            if "state lock" in diagnostic.summary.lower():
                lock = parse_lock_info(diagnostic.detail) or LockInfo(id="unknown")
                return StateLocked(lock, self._unlock_hint(lock))
            if any(summary in diagnostic.summary for summary in _INIT_SUMMARIES):
                return InitRequired(
                    f"the Terraform working directory needs initialising ({diagnostic.summary})",
                    "run `chatops init` (add --local for the emulator target)",
                )
        return TerraformFailed(command, diagnostics, output)

    def _unlock_hint(self, lock: LockInfo) -> str:
        if self.settings.state_path:
            return (
                f"the lock is an OS file lock on {self.settings.state_path}, released as soon "
                "as the process holding it exits"
            )
        return f"terraform -chdir={self.settings.working_dir} force-unlock {lock.id}"

    # --- commands -------------------------------------------------------------------

    def version(self) -> tuple[int, int, int]:
        _, stdout, _ = self.run(["version", "-json"])
        try:
            text = json.loads(stdout).get("terraform_version", "")
        except json.JSONDecodeError:
            text = stdout
        return parse_version(text)

    def check_version(self) -> tuple[int, int, int]:
        found = self.version()
        if found < MINIMUM_VERSION:
            wanted = ".".join(map(str, MINIMUM_VERSION))
            raise TerraformTooOld(
                f"terraform {'.'.join(map(str, found))} is too old; the stack needs >= {wanted}",
                "upgrade Terraform: https://developer.hashicorp.com/terraform/install",
            )
        return found

    def init(self, *, on_line: LineHandler | None = None, upgrade: bool = False) -> None:
        self.run(init_args(self.settings, upgrade=upgrade), on_line=on_line)

    def plan(
        self,
        out: Path,
        variables: Mapping[str, str] | None = None,
        var_files: Sequence[Path] = (),
        *,
        destroy: bool = False,
        targets: Sequence[str] = (),
        on_event: EventHandler | None = None,
    ) -> PlanResult:
        """Plan into `out`; `targets` limits it to those resources (and what they need)."""
        code, _, _ = self.run(
            plan_args(self.settings, out, variables, var_files, destroy=destroy, targets=targets),
            on_event=on_event,
            events=True,
            ok_codes=(0, 2),
        )
        return PlanResult(path=out, changes=code == 2)

    def show_plan(self, plan: Path) -> PlanSummary:
        _, stdout, _ = self.run(show_args(plan))
        return parse_plan(json.loads(stdout))

    def apply(self, plan: Path, *, on_event: EventHandler | None = None) -> None:
        self.run(apply_args(self.settings, plan), on_event=on_event, events=True)

    def destroy(
        self,
        variables: Mapping[str, str] | None = None,
        var_files: Sequence[Path] = (),
        *,
        on_event: EventHandler | None = None,
    ) -> None:
        self.run(destroy_args(self.settings, variables, var_files), on_event=on_event, events=True)

    def outputs(self) -> dict[str, OutputValue]:
        path = self.settings.state_path
        if path is not None and not path.exists():
            return {}
        _, stdout, _ = self.run(output_args(self.settings))
        return parse_outputs(json.loads(stdout or "{}"))

    def snapshot(self) -> tuple[list[StateResource], dict[str, OutputValue]]:
        """Managed resources and outputs of the current state, from one read."""
        path = self.settings.state_path
        if path is not None and not path.exists():
            return [], {}
        _, stdout, _ = self.run(show_args(path))
        document: dict[str, Any] = json.loads(stdout or "{}")
        return parse_state(document), parse_outputs(
            (document.get("values") or {}).get("outputs") or {}
        )


_TEXT_ERROR = re.compile(r"^(?:│\s*)?Error:\s*(.+)$", re.M)


def _diagnostics_from_text(text: str) -> list[Diagnostic]:
    """Diagnostics of a command run without -json (init, show, output)."""
    diagnostics = []
    for match in _TEXT_ERROR.finditer(text):
        summary = match.group(1).strip()
        rest = text[match.end() :].split("\n\n", 2)
        detail = rest[1] if len(rest) > 1 else ""
        diagnostics.append(Diagnostic("error", summary, detail.replace("│", "").strip()))
    return diagnostics
