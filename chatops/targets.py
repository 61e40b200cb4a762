"""Where a command acts: real AWS (the standard credential chain) or the local emulator.

The two never share Terraform state: the AWS target uses the root module's own
working directory, the local target keeps its Terraform data and state under
`<state dir>/local/`, recording which emulator instance the state was made on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import boto3
import botocore.exceptions
from botocore.config import Config

from chatops.emulator.manager import Emulator, EmulatorManager
from chatops.errors import CredentialsMissing, StaleLocalState, UnknownRegion
from chatops.project import Project
from chatops.terraform.mirror import find_mirror
from chatops.terraform.runner import Settings

DEFAULT_REGION = "ap-northeast-2"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
# Real-AWS identity that must not leak into emulator runs.
AWS_IDENTITY_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)

TargetKind = Literal["aws", "local"]
EmulatorMode = Literal["start", "require", "none"]


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    project: Project
    region: str | None = None
    profile: str | None = None
    emulator: Emulator | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    _cache: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    @property
    def label(self) -> str:
        if self.emulator is not None:
            return f"the local emulator ({self.emulator.endpoint})"
        parts = [f"profile {self.profile}" if self.profile else "default credentials"]
        if self.region:
            parts.append(self.region)
        return f"AWS ({', '.join(parts)})"

    @property
    def data_dir(self) -> Path:
        if self.is_local:
            return self.project.local_dir / "terraform"
        return self.project.terraform_dir / ".terraform"

    @property
    def state_path(self) -> Path | None:
        return self.project.local_dir / "terraform.tfstate" if self.is_local else None

    @property
    def owner_path(self) -> Path:
        return self.project.local_dir / "state-owner.json"

    @property
    def control_dir(self) -> Path:
        """chatops' own records for this target (traffic history, stable colour)."""
        return self.project.local_dir if self.is_local else self.project.state_dir / "aws"

    @property
    def weights_path(self) -> Path:
        """Where chatops records what it changed live, for Terraform to read.

        For AWS, an auto-loaded tfvars file in the root module, so plain `terraform`
        sees the shift too; for the local target, a file passed with -var-file.
        """
        if self.is_local:
            return self.project.local_dir / "weights.tfvars.json"
        return self.project.terraform_dir / "chatops-weights.auto.tfvars.json"

    def record_files(self) -> list[Path]:
        """chatops' record files of this target that exist (see Stack.var_files)."""
        return [self.weights_path] if self.weights_path.exists() else []

    @property
    def shift_command(self) -> str:
        return "chatops shift --local" if self.is_local else "chatops shift"

    def terraform_settings(self) -> Settings:
        return Settings(
            working_dir=self.project.terraform_dir,
            data_dir=self.data_dir if self.is_local else None,
            state_path=self.state_path,
            plugin_dir=find_mirror(),
            env=self.env,
            env_remove=AWS_IDENTITY_VARIABLES if self.is_local else (),
        )

    def session(self, region: str | None = None) -> boto3.Session:
        chosen = region or self.region or DEFAULT_REGION
        key = ("session", chosen)
        if key not in self._cache:
            if self.is_local:
                self._cache[key] = boto3.Session(
                    aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    region_name=chosen,
                )
            else:
                self._cache[key] = boto3.Session(profile_name=self.profile, region_name=chosen)
        session: boto3.Session = self._cache[key]
        return session

    def client(self, service: str, region: str | None = None) -> Any:
        """A client for `service`, created once per target (loading its model is slow)."""
        key = (service, region or self.region or DEFAULT_REGION)
        if key not in self._cache:
            endpoint = self.emulator.endpoint if self.emulator else None
            config = Config(retries={"max_attempts": 3, "mode": "standard"})
            session: Any = self.session(region)
            self._cache[key] = session.client(service, endpoint_url=endpoint, config=config)
        return self._cache[key]

    # --- local state ownership ------------------------------------------------------

    def record_state_owner(self) -> None:
        if self.emulator is not None:
            self.owner_path.write_text(json.dumps({"instance_id": self.emulator.instance_id}))

    def check_local_state(self) -> None:
        """Refuse to plan against a local state whose emulator is gone."""
        if self.emulator is None or self.state_path is None or not _has_resources(self.state_path):
            return
        try:
            owner = json.loads(self.owner_path.read_text()).get("instance_id")
        except (OSError, ValueError):
            owner = None
        if owner != self.emulator.instance_id:
            raise StaleLocalState(
                "the local Terraform state describes a stack on an emulator that is gone "
                "(it was stopped, restarted or crashed)",
                "discard that state with `chatops local reset`, then `chatops deploy --local`",
            )


def read_state(state_path: Path) -> dict[str, Any]:
    """A local Terraform state file as JSON; empty when missing or unreadable."""
    try:
        document = json.loads(state_path.read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _has_resources(state_path: Path) -> bool:
    return bool(read_state(state_path).get("resources"))


def known_regions() -> set[str]:
    session = boto3.Session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return regions


def check_region(region: str) -> str:
    if region not in known_regions():
        raise UnknownRegion(
            f"unknown AWS region {region!r}",
            "use a region code such as ap-northeast-2 or us-east-1 "
            "(`aws ec2 describe-regions` lists them)",
        )
    return region


def aws_target(
    project: Project,
    *,
    profile: str | None,
    region: str | None,
    check_credentials: bool = True,
) -> Target:
    """Real AWS through the standard credential chain; fails fast without credentials."""
    if region:
        check_region(region)
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except botocore.exceptions.ProfileNotFound:
        raise CredentialsMissing(
            f"the AWS profile {profile!r} is not configured",
            f"create it with `aws configure --profile {profile}`, or use --local",
        ) from None
    if check_credentials and session.get_credentials() is None:
        raise CredentialsMissing(
            "no AWS credentials found (environment, profile, SSO or instance role)",
            "run `aws configure` or set AWS_PROFILE; to try the stack without AWS, add --local",
        )
    if session.region_name and not region:
        check_region(session.region_name)
    env = {"AWS_PROFILE": profile} if profile else {}
    return Target(kind="aws", project=project, region=region, profile=profile, env=env)


def local_target(
    project: Project, *, region: str | None, emulator: EmulatorMode = "start"
) -> tuple[Target, bool]:
    """The emulator target and whether its emulator was just started.

    `emulator`: "start" starts it if needed, "require" fails if it is down, "none" does
    not touch it (for commands that only need the local working directory).
    """
    chosen = check_region(region) if region else None
    manager = EmulatorManager(project.local_dir)
    started = False
    running: Emulator | None = None
    if emulator == "start":
        running, started = manager.start()
    elif emulator == "require":
        running = manager.require_running()
    env: dict[str, str] = {
        **LOCAL_CREDENTIALS,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_S3_USE_PATH_STYLE": "true",
    }
    if running is not None:
        env["AWS_ENDPOINT_URL"] = running.endpoint
    if chosen:
        env["AWS_REGION"] = chosen
    target = Target(kind="local", project=project, region=chosen, emulator=running, env=env)
    return target, started
