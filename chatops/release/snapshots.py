"""Local images: immutable, content-addressed snapshots of app/.

`chatops release --local` needs no image builder: its "image" is a copy of app/ under
`<local dir>/images/<id>/`, named `localhost/chatapp:<id>` in the task definition, and
the local data plane runs a task of that image from the copy (PYTHONPATH=the copy). The
id is a hash of the files that would matter to a build (paths, contents, the executable
bit; caches, tests and build output left out), so the same content always gets the same
id and a snapshot is never rewritten: a second release of the same content reuses it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chatops.emulator.dataplane.ecs import SNAPSHOT_REPOSITORY
from chatops.errors import ChatopsError

ID_LENGTH = 12
# Left out of a snapshot: caches, tests, virtual environments and build output.
EXCLUDED_DIRECTORIES = frozenset(
    {
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".git",
        ".venv",
        "venv",
        "node_modules",
        "build",
        "dist",
        "tests",
        "test",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".egg-info")


class SnapshotError(ChatopsError):
    pass


@dataclass(frozen=True)
class Snapshot:
    id: str
    path: Path
    files: int
    created: bool  # False: the same content was already there

    @property
    def image(self) -> str:
        return image_of(self.id)


def image_of(snapshot_id: str) -> str:
    return f"{SNAPSHOT_REPOSITORY}:{snapshot_id}"


def snapshot_id_of(image: str | None) -> str | None:
    """The snapshot a local image names (`localhost/chatapp:<id>`), else None."""
    if not image:
        return None
    repository, _, tag = image.rpartition(":")
    return tag if repository == SNAPSHOT_REPOSITORY and tag and "/" not in tag else None


def _excluded(name: str) -> bool:
    return name in EXCLUDED_DIRECTORIES or name.endswith(EXCLUDED_SUFFIXES)


def source_files(source: Path) -> list[str]:
    """The files of `source` a snapshot holds, as sorted POSIX paths relative to it."""
    found: list[str] = []
    for root, directories, names in os.walk(source):
        directories[:] = sorted(d for d in directories if not _excluded(d))
        for name in names:
            path = Path(root, name)
            if _excluded(name) or name.startswith(".coverage") or not path.is_file():
                continue
            found.append(path.relative_to(source).as_posix())
    return sorted(found)


def _executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


def content_id(source: Path, files: list[str] | None = None) -> str:
    """The id of `source`'s content: a SHA-256 over each file's path, mode and bytes."""
    digest = hashlib.sha256()
    for relative in files if files is not None else source_files(source):
        path = source / relative
        digest.update(relative.encode() + b"\0")
        digest.update(b"x\0" if _executable(path) else b"-\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:ID_LENGTH]


def _copy(source: Path, files: list[str], destination: Path) -> None:
    for relative in files:
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, target)
        # Read-only: a snapshot is never rewritten (directories stay removable).
        target.chmod(0o555 if _executable(source / relative) else 0o444)


def take_snapshot(source: Path, images_dir: Path) -> Snapshot:
    """Snapshot `source` into `images_dir/<id>/`, or reuse the snapshot of the same content."""
    if not source.is_dir():
        raise SnapshotError(
            f"{source} does not exist: there is no app/ to release",
            "run chatops from the project checkout (or point --dir at its terraform/)",
        )
    files = source_files(source)
    if not files:
        raise SnapshotError(f"{source} holds no file to snapshot", "check the app/ directory")
    snapshot_id = content_id(source, files)
    final = images_dir / snapshot_id
    if final.is_dir():
        return _existing(final, snapshot_id)
    images_dir.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=images_dir))
    try:
        _copy(source, files, incoming)
        if content_id(incoming) != snapshot_id:
            raise SnapshotError(
                f"{source} changed while it was being copied",
                "run the command again once the files are saved",
            )
        try:
            incoming.rename(final)
        except OSError:
            if not final.is_dir():
                raise
            return _existing(final, snapshot_id)  # another command made the same one
        return Snapshot(snapshot_id, final, len(files), created=True)
    finally:
        if incoming.exists():
            shutil.rmtree(incoming, ignore_errors=True)


def _existing(path: Path, snapshot_id: str) -> Snapshot:
    files = source_files(path)
    if content_id(path, files) != snapshot_id:
        raise SnapshotError(
            f"the snapshot {path} no longer holds the content its id names (it was modified)",
            f"delete {path} and run the command again",
        )
    return Snapshot(snapshot_id, path, len(files), created=False)
