"""Where the Terraform root and chatops' own state live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from chatops.errors import ProjectNotFound

STATE_DIR_ENV = "CHATOPS_HOME"
_MARKER = "versions.tf"


@dataclass(frozen=True)
class Project:
    """A Terraform root module and the directory chatops keeps its state in."""

    terraform_dir: Path
    state_dir: Path

    @property
    def local_dir(self) -> Path:
        """Everything of the --local target: emulator pid/port, Terraform data and state."""
        return self.state_dir / "local"


def _is_root(path: Path) -> bool:
    return (path / _MARKER).is_file() and any(path.glob("*.tf"))


def find_terraform_dir(start: Path | None = None) -> Path:
    """The project's terraform/ tree: above the working directory, else beside the package."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if directory.name == "terraform" and _is_root(directory):
            return directory
        candidate = directory / "terraform"
        if _is_root(candidate):
            return candidate
    bundled = Path(__file__).resolve().parent.parent / "terraform"
    if _is_root(bundled):
        return bundled
    raise ProjectNotFound(
        "no chatops Terraform root found above the current directory",
        "run chatops inside the project, or point at the root module with --dir PATH",
    )


def load_project(terraform_dir: Path | None = None) -> Project:
    if terraform_dir is not None:
        root = terraform_dir.expanduser().resolve()
        if not root.is_dir() or not any(root.glob("*.tf")):
            raise ProjectNotFound(
                f"{terraform_dir} is not a Terraform root module (no .tf files)",
                "pass --dir the directory that holds main.tf",
            )
    else:
        root = find_terraform_dir()
    override = os.environ.get(STATE_DIR_ENV)
    state_dir = Path(override).expanduser().resolve() if override else root.parent / ".chatops"
    return Project(terraform_dir=root, state_dir=state_dir)
