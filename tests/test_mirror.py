"""Finding the offline provider mirror."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatops.errors import ChatopsError
from chatops.terraform import mirror


def make_mirror(root: Path, version: str, platform: str | None = None) -> Path:
    build = root / mirror.PROVIDER / version / (platform or mirror.current_platform())
    build.mkdir(parents=True)
    (build / f"terraform-provider-aws_v{version}_x5").write_text("binary")
    return root


def test_finds_the_first_location_holding_a_matching_build(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(mirror.MIRROR_ENV, raising=False)
    old = make_mirror(tmp_path / "old", "5.99.1")
    good = make_mirror(tmp_path / "good", "5.100.0")
    assert mirror.find_mirror([tmp_path / "missing", old, good]) == good


@pytest.mark.parametrize(
    ("version", "platform", "usable"),
    [
        ("5.100.0", None, True),
        ("5.101.2", None, True),
        ("5.99.0", None, False),
        ("6.0.0", None, False),
        ("5.100.0", "windows_386", False),
    ],
)
def test_holds_provider_checks_version_and_platform(tmp_path, version, platform, usable) -> None:
    assert mirror.holds_provider(make_mirror(tmp_path, version, platform)) is usable


def test_no_mirror_means_the_registry(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(mirror.MIRROR_ENV, raising=False)
    assert mirror.find_mirror([tmp_path]) is None


def test_environment_variable_selects_or_disables_the_mirror(tmp_path: Path, monkeypatch) -> None:
    chosen = make_mirror(tmp_path / "chosen", "5.100.0")
    monkeypatch.setenv(mirror.MIRROR_ENV, str(chosen))
    assert mirror.find_mirror([]) == chosen
    monkeypatch.setenv(mirror.MIRROR_ENV, "")
    assert mirror.find_mirror([chosen]) is None


def test_a_configured_mirror_without_the_provider_is_an_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(mirror.MIRROR_ENV, str(tmp_path))
    with pytest.raises(ChatopsError, match="holds no hashicorp/aws"):
        mirror.find_mirror()
