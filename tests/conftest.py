"""Shared fixtures: the repository's Terraform root, isolated chatops homes, the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chatops.emulator.manager import EmulatorManager
from chatops.project import STATE_DIR_ENV
from tests.helpers import terraform_init


@pytest.fixture(scope="session")
def initialised_root(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment in which `terraform` commands run against an initialised root module."""
    return terraform_init(tmp_path_factory.mktemp("tf-data"))


@pytest.fixture
def chatops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated chatops state directory; any emulator started in it is stopped after."""
    home = tmp_path / "chatops-home"
    monkeypatch.setenv(STATE_DIR_ENV, str(home))
    yield home
    EmulatorManager(home / "local").stop()


@pytest.fixture(scope="session")
def session_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorManager]:
    """One emulator process for the tests that only read from it or plan against it."""
    manager = EmulatorManager(tmp_path_factory.mktemp("emulator") / "local")
    manager.start()
    yield manager
    manager.stop()
