"""Offline provider installation from a local filesystem mirror.

`terraform init` normally downloads hashicorp/aws from the registry. Where that is
unreachable but a mirror of the provider sits on disk (machine images, air-gapped CI),
init is pointed at it with `-plugin-dir`. The mirror is taken from
CHATOPS_PROVIDER_MIRROR when set (an empty value turns mirrors off), else discovered
in the usual plugin directories. With no mirror, init uses the registry as usual.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from pathlib import Path

from chatops.errors import ChatopsError

MIRROR_ENV = "CHATOPS_PROVIDER_MIRROR"
PROVIDER = Path("registry.terraform.io") / "hashicorp" / "aws"
REQUIRED_MAJOR_MINOR = (5, 100)


def current_platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    return f"{platform.system().lower()}_{arch}"


def default_locations() -> list[Path]:
    home = Path.home()
    xdg = Path(os.environ.get("XDG_DATA_HOME", home / ".local" / "share"))
    return [
        Path("/opt/tf-plugins"),
        home / ".terraform.d" / "plugins",
        xdg / "terraform" / "plugins",
        Path("/usr/local/share/terraform/plugins"),
        Path("/usr/share/terraform/plugins"),
    ]


def _satisfies(version: str) -> bool:
    # The root module pins ~> 5.100: any 5.x at or above 5.100.
    parts = version.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return False
    return major == REQUIRED_MAJOR_MINOR[0] and minor >= REQUIRED_MAJOR_MINOR[1]


def holds_provider(directory: Path, platform_name: str | None = None) -> bool:
    """True when `directory` is an unpacked mirror with a usable hashicorp/aws build."""
    wanted = platform_name or current_platform()
    provider_dir = directory / PROVIDER
    if not provider_dir.is_dir():
        return False
    return any(
        _satisfies(version.name) and any((version / wanted).glob("terraform-provider-aws*"))
        for version in provider_dir.iterdir()
    )


def find_mirror(candidates: Iterable[Path] | None = None) -> Path | None:
    """The provider mirror to install from, or None to use the registry."""
    configured = os.environ.get(MIRROR_ENV)
    if configured is not None:
        if not configured.strip():
            return None
        mirror = Path(configured).expanduser()
        if not holds_provider(mirror):
            raise ChatopsError(
                f"{MIRROR_ENV}={configured} holds no hashicorp/aws ~> 5.100 build for "
                f"{current_platform()}",
                f"point it at a directory containing {PROVIDER}/<version>/{current_platform()}/, "
                "or unset it to use the registry",
            )
        return mirror
    for directory in candidates if candidates is not None else default_locations():
        if holds_provider(directory):
            return directory
    return None
