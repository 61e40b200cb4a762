"""Image builders: docker, podman or buildah, whichever this machine has, in that order.

Each builds `app/Dockerfile` for one platform and pushes the result. Docker and Podman
log in first (`login --password-stdin`, as the usual ECR recipe does: the login is
theirs to keep, and reaches the daemon of the current Docker context or the Podman
machine); Buildah, always local, reads the credentials from a temporary auth file for
the push alone. Settings a builder reads from its environment are left to it: buildah
in a container, for one, needs `STORAGE_DRIVER=vfs` and `BUILDAH_ISOLATION=chroot`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chatops.errors import ChatopsError, UsageError
from chatops.release.registry import Credentials, auth_directory

BUILDER_ENV = "CHATOPS_BUILDER"
BUILDERS = ("docker", "podman", "buildah")
# The task definition's runtime platform (cpu_architecture) -> the image platform.
PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}

LineHandler = Callable[[str], None]
Probe = Callable[[Sequence[str]], bool]


class NoBuilder(ChatopsError):
    pass


class BuildFailed(ChatopsError):
    pass


def platform_for(cpu_architecture: str) -> str:
    """`linux/amd64` or `linux/arm64` for the stack's `cpu_architecture`."""
    try:
        return PLATFORMS[cpu_architecture.upper()]
    except KeyError:
        raise ChatopsError(
            f"the stack's cpu_architecture is {cpu_architecture!r}; images are built for "
            + " or ".join(PLATFORMS),
            "set cpu_architecture to X86_64 or ARM64 and deploy",
        ) from None


@dataclass(frozen=True)
class Builder:
    name: str  # docker, podman or buildah
    path: str

    def build_args(
        self,
        image: str,
        context: Path,
        *,
        platform: str,
        dockerfile: Path | None = None,
        build_args: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Build `context` (its Dockerfile unless `dockerfile`) into the local `image`."""
        args = [self.path, "build", "--platform", platform]
        if self.name != "docker":
            # Docker's manifest format: what every registry and ECS accept.
            args += ["--format", "docker"]
        args += ["--file", str(dockerfile or context / "Dockerfile"), "--tag", image]
        for name, value in (build_args or {}).items():
            args += ["--build-arg", f"{name}={value}"]
        return [*args, str(context)]

    def login_args(self, credentials: Credentials) -> list[str] | None:
        """Log in to the registry, the password on stdin; None: buildah needs no login."""
        if self.name == "buildah":
            return None
        args = [self.path, "login", "--username", credentials.username, "--password-stdin"]
        if self.name == "podman" and not credentials.tls_verify:
            args.append("--tls-verify=false")
        return [*args, credentials.registry]

    def push_args(
        self, image: str, auth_dir: Path | None = None, *, tls_verify: bool = True
    ) -> list[str]:
        """Push the local `image` to its registry (buildah: with the login in `auth_dir`)."""
        if self.name == "docker":
            # Which registries may be plain HTTP is the daemon's setting (127.0.0.0/8 may).
            return [self.path, "push", image]
        args = [self.path, "push"]
        if self.name == "buildah" and auth_dir is not None:
            args += ["--authfile", str(auth_dir / "config.json")]
        if not tls_verify:
            args.append("--tls-verify=false")
        args.append(image)
        if self.name == "buildah":
            args.append(f"docker://{image}")
        return args

    def run(
        self,
        args: Sequence[str],
        *,
        what: str,
        on_line: LineHandler | None = None,
        secret_input: str | None = None,
    ) -> None:
        """Run a builder command, streaming its output; BuildFailed with its last lines.

        `secret_input` goes to its stdin (a password), never into its arguments.
        """
        tail: deque[str] = deque(maxlen=20)
        process = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL if secret_input is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
        assert process.stdout is not None
        if secret_input is not None:
            assert process.stdin is not None
            process.stdin.write(secret_input)
            process.stdin.close()
        try:
            for raw in process.stdout:
                line = raw.rstrip("\n")
                if line.strip():
                    tail.append(line)
                if on_line is not None:
                    on_line(line)
        except KeyboardInterrupt:
            process.terminate()
            process.wait()
            raise
        code = process.wait()
        if code != 0:
            last = tail[-1].strip() if tail else "no output"
            raise BuildFailed(
                f"{self.name} {what} failed (exit code {code}): {last}",
                "the lines above show why; fix it and run the release again",
            )


def _succeeds(args: Sequence[str]) -> bool:
    try:
        result = subprocess.run(
            list(args), stdin=subprocess.DEVNULL, capture_output=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@dataclass(frozen=True)
class Detection:
    """What was looked for and why each builder was passed over."""

    builder: Builder | None
    passed_over: Mapping[str, str] = field(default_factory=dict)


def find_builder(
    which: Callable[[str], str | None] = shutil.which,
    probe: Probe = _succeeds,
    env: Mapping[str, str] | None = None,
) -> Detection:
    """The first usable builder: docker (only if its daemon answers), podman, buildah.

    `CHATOPS_BUILDER` names one to use instead of looking.
    """
    environment = os.environ if env is None else env
    wanted = environment.get(BUILDER_ENV, "").strip()
    if wanted and wanted not in BUILDERS:
        raise UsageError(
            f"{BUILDER_ENV}={wanted!r} is not a builder chatops knows",
            f"set it to one of {', '.join(BUILDERS)}, or unset it to pick the first found",
        )
    candidates = (wanted,) if wanted else BUILDERS
    passed_over: dict[str, str] = {}
    for name in candidates:
        path = which(name)
        if path is None:
            passed_over[name] = "not installed"
            continue
        if name == "docker" and not probe([path, "version", "--format", "{{.Server.Version}}"]):
            passed_over[name] = "installed, but its daemon does not answer"
            continue
        return Detection(Builder(name, path), passed_over)
    return Detection(None, passed_over)


def detect_builder(
    which: Callable[[str], str | None] = shutil.which,
    probe: Probe = _succeeds,
    env: Mapping[str, str] | None = None,
) -> Builder:
    """The builder to use, or NoBuilder naming what was tried."""
    detection = find_builder(which, probe, env)
    if detection.builder is not None:
        return detection.builder
    tried = ", ".join(f"{name} ({why})" for name, why in detection.passed_over.items())
    raise NoBuilder(
        f"no image builder found: {tried}",
        "install Docker, Podman or Buildah (e.g. `apt-get install buildah`), or release to "
        "the local emulator with --local, which needs none",
    )


def build_and_push(
    builder: Builder,
    image: str,
    context: Path,
    *,
    platform: str,
    credentials: Credentials,
    build_args: Mapping[str, str] | None = None,
    on_line: LineHandler | None = None,
) -> None:
    """Build `context` for `platform` as `image` and push it with `credentials`."""
    builder.run(
        builder.build_args(image, context, platform=platform, build_args=build_args),
        what="build",
        on_line=on_line,
    )
    login = builder.login_args(credentials)
    if login is not None:
        builder.run(login, what="login", on_line=on_line, secret_input=credentials.password)
        builder.run(
            builder.push_args(image, tls_verify=credentials.tls_verify),
            what="push",
            on_line=on_line,
        )
        return
    with auth_directory(credentials) as directory:
        builder.run(
            builder.push_args(image, directory, tls_verify=credentials.tls_verify),
            what="push",
            on_line=on_line,
        )
