"""What a release is called: a version derived from the source, never a moving tag.

On AWS the version is the image tag. Derived, it is the commit that last changed
`app/` (12 hex digits), and only when `app/` has no uncommitted change: the same
source always gets the same version, and a version always names one source. A tree
with changes needs a name given with `--version`. Locally the version is the content
id of the snapshot (`snapshots.py`).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chatops.errors import ChatopsError, UsageError

COMMIT_LENGTH = 12
# Docker's grammar for a tag: what ECR and every registry accept.
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# Tags that name a role or "whatever is newest", not one build: never a version.
MOVING_TAGS = frozenset({"latest", "blue", "green", "stable", "unreleased"})

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class VersionUnavailable(ChatopsError):
    pass


@dataclass(frozen=True)
class Version:
    tag: str
    origin: str  # how it was derived, for the user: "commit ...", "--version", "snapshot"


def check_tag(value: str) -> str:
    """`value` as an image tag, or a usage error saying why it cannot be one."""
    tag = value.strip()
    if not _TAG.match(tag):
        raise UsageError(
            f"{value!r} is not an image tag: use 1-128 letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'",
            "for example: --version 0.2.0 or --version 2024-06-01.1",
        )
    if tag.lower() in MOVING_TAGS:
        raise UsageError(
            f"{tag!r} names a role, not a version: the same tag would mean different "
            "builds over time",
            "name this build, e.g. --version 0.2.0, or commit app/ and let chatops use the commit",
        )
    return tag


def _git(app_dir: Path, run: Runner, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return run(["git", "-C", str(app_dir), *args])
    except FileNotFoundError:
        raise VersionUnavailable(
            "git is not installed, so the version cannot be derived from the commit",
            "install git, or name this build with --version V",
        ) from None


def _run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60
    )


def version_from_git(app_dir: Path, run: Runner = _run) -> Version:
    """The commit that last changed `app_dir`, when the directory has no uncommitted change."""
    inside = _git(app_dir, run, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise VersionUnavailable(
            f"{app_dir} is not in a git repository, so no commit names its source",
            "name this build with --version V (e.g. --version 0.2.0)",
        )
    status = _git(app_dir, run, "status", "--porcelain", "--untracked-files=all", "--", ".")
    if status.returncode != 0:
        raise VersionUnavailable(
            f"git status failed in {app_dir}: {status.stderr.strip() or status.stdout.strip()}",
            "name this build with --version V",
        )
    changed = [line[3:] for line in status.stdout.splitlines() if line.strip()]
    if changed:
        example = ", ".join(changed[:3]) + (", ..." if len(changed) > 3 else "")
        raise VersionUnavailable(
            f"app/ has {len(changed)} uncommitted change(s) ({example}): a version named "
            "after a commit would not describe what gets built",
            "commit them, or name this build with --version V (e.g. --version 0.2.0-rc1)",
        )
    last = _git(app_dir, run, "log", "-1", "--format=%H", "--", ".")
    commit = last.stdout.strip()
    if last.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40,64}", commit):
        raise VersionUnavailable(
            f"no commit contains {app_dir} yet",
            "commit app/, or name this build with --version V",
        )
    short = commit[:COMMIT_LENGTH]
    return Version(short, f"commit {short}, the last change to app/")


def resolve_version(app_dir: Path, given: str | None, run: Runner = _run) -> Version:
    """`--version` when given (checked as a tag), else the commit of a clean app/."""
    if given is not None:
        return Version(check_tag(given), "--version")
    return version_from_git(app_dir, run)
