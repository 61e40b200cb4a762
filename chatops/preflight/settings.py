"""The root module's settings a deploy would use, read before anything is planned.

`terraform console` evaluates a copy of `terraform/variables.tf` with the same variable
files and values the plan gets (auto-loaded files included): the types, defaults and
validations are Terraform's own, no state or provider is touched, and it takes a
fraction of a second.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatops.errors import ChatopsError
from chatops.terraform.runner import locate_binary

# What the checks need, as Terraform expressions.
_EXPRESSIONS = {
    "region": "var.aws_region",
    "project_name": "var.project_name",
    "environment": "var.environment",
    "availability_zones": "var.availability_zones",
    "enable_nat_gateway": "var.enable_nat_gateway",
    "task_cpu": "var.task_cpu",
    "blue_desired_count": "var.blue_desired_count",
    "green_desired_count": "var.green_desired_count",
    "capacity_provider": "var.capacity_provider",
    "redis_engine": "var.redis_engine",
    "redis_node_type": "var.redis_node_type",
    "alarm_email": "var.alarm_email",
    "budget_monthly_usd": "var.budget_monthly_usd",
}
# Files Terraform loads by itself from the root module's directory.
_AUTO_LOADED = ("terraform.tfvars", "terraform.tfvars.json", "*.auto.tfvars", "*.auto.tfvars.json")
_ERROR = re.compile(r"^Error: ", re.M)
_SOURCE_LINE = re.compile(r"^\d+: ")
_TIMEOUT_SECONDS = 30


class SettingsInvalid(ChatopsError):
    """The variables do not pass the root module's own types and validations."""


@dataclass(frozen=True)
class StackSettings:
    region: str
    project_name: str
    environment: str
    availability_zones: tuple[str, ...]
    enable_nat_gateway: bool
    task_cpu: int
    blue_desired_count: int
    green_desired_count: int
    capacity_provider: str
    redis_engine: str
    redis_node_type: str
    alarm_email: str
    budget_monthly_usd: float

    @property
    def name_prefix(self) -> str:
        return f"{self.project_name}-{self.environment}"

    @property
    def zones(self) -> tuple[str, ...]:
        """The zones the stack uses (the root module's `wanted_zones`)."""
        return self.availability_zones or (f"{self.region}a", f"{self.region}b")

    @property
    def nat_gateways(self) -> int:
        return 1 if self.enable_nat_gateway else 0

    @property
    def budget_set(self) -> bool:
        return bool(self.alarm_email) and self.budget_monthly_usd > 0

    @property
    def task_vcpus(self) -> float:
        """The vCPUs both colours run once a version is released to them."""
        return self.task_cpu / 1024 * (self.blue_desired_count + self.green_desired_count)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> StackSettings:
        return cls(
            region=str(values["region"]),
            project_name=str(values["project_name"]),
            environment=str(values["environment"]),
            availability_zones=tuple(str(z) for z in values["availability_zones"] or ()),
            enable_nat_gateway=bool(values["enable_nat_gateway"]),
            task_cpu=int(values["task_cpu"]),
            blue_desired_count=int(values["blue_desired_count"]),
            green_desired_count=int(values["green_desired_count"]),
            capacity_provider=str(values["capacity_provider"]),
            redis_engine=str(values["redis_engine"]),
            redis_node_type=str(values["redis_node_type"]),
            alarm_email=str(values["alarm_email"] or ""),
            budget_monthly_usd=float(values["budget_monthly_usd"]),
        )


def console_args(variables: Mapping[str, str], var_files: Sequence[Path]) -> list[str]:
    """`terraform console`'s arguments: the plan's var files, then its -var values."""
    return [
        "console",
        "-no-color",
        *(f"-var-file={path}" for path in var_files),
        *(f"-var={name}={value}" for name, value in variables.items()),
    ]


def _first_error(stderr: str) -> str:
    """Terraform's first error as one line: its summary and the paragraph explaining it."""
    lines = [line.strip() for line in stderr.splitlines()]
    for index, line in enumerate(lines):
        if not line.startswith("Error: "):
            continue
        summary, paragraph = line.removeprefix("Error: "), []
        for text in lines[index + 1 :]:
            if text.startswith("Error: "):
                break
            source = text.startswith(("on ", "├", "│", "(source code")) or _SOURCE_LINE.match(text)
            if text and not source:
                paragraph.append(text)
            elif paragraph:
                break
        return f"{summary}: {' '.join(paragraph)}" if paragraph else summary
    return stderr.strip().splitlines()[-1] if stderr.strip() else "terraform console failed"


def _environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {**os.environ, **(extra or {}), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
    # A TF_CLI_CONFIG_FILE naming a missing file only makes terraform print warnings.
    if env.get("TF_CLI_CONFIG_FILE") and not Path(env["TF_CLI_CONFIG_FILE"]).is_file():
        env.pop("TF_CLI_CONFIG_FILE")
    return env


def read_settings(
    terraform_dir: Path,
    variables: Mapping[str, str],
    var_files: Sequence[Path],
    env: Mapping[str, str] | None = None,
) -> StackSettings:
    """The settings `terraform plan` would see with these variables and var files."""
    binary = locate_binary()
    with tempfile.TemporaryDirectory(prefix="chatops-settings-") as scratch:
        root = Path(scratch)
        shutil.copy(terraform_dir / "variables.tf", root / "variables.tf")
        for pattern in _AUTO_LOADED:
            for path in terraform_dir.glob(pattern):
                shutil.copy(path, root / path.name)
        fields = ", ".join(f"{key} = {value}" for key, value in _EXPRESSIONS.items())
        expression = f"jsonencode({{{fields}}})"
        try:
            result = subprocess.run(
                [binary, *console_args(variables, [p.resolve() for p in var_files])],
                cwd=root,
                input=expression + "\n",
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_SECONDS,
                env=_environment(env),
            )
        except subprocess.TimeoutExpired:
            raise SettingsInvalid(
                f"terraform console did not answer in {_TIMEOUT_SECONDS}s",
                "run `terraform console` in terraform/ to see why",
            ) from None
    if result.returncode != 0 or _ERROR.search(result.stderr):
        raise SettingsInvalid(
            f"the settings do not pass the root module's checks: {_first_error(result.stderr)}",
            "fix the variable named above in your var file or --var",
        )
    try:
        values = json.loads(json.loads(result.stdout.strip()))
        return StackSettings.from_values(values)
    except (ValueError, KeyError, TypeError) as error:
        raise SettingsInvalid(
            f"terraform console printed something unexpected ({error})",
            "run `terraform console` in terraform/ and check `var.aws_region`",
        ) from None
