"""The HCL itself: formatting, validation and the native `terraform test` suites."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.helpers import TERRAFORM_DIR

pytestmark = pytest.mark.terraform

NATIVE_TEST_FILES = sorted(p.name for p in (TERRAFORM_DIR / "tests").glob("*.tftest.hcl"))


def test_every_file_is_formatted() -> None:
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-list=true", "."],
        cwd=TERRAFORM_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"unformatted files:\n{result.stdout}{result.stderr}"


def test_root_module_validates(initialised_root: dict[str, str]) -> None:
    result = subprocess.run(
        ["terraform", "validate", "-no-color"],
        cwd=TERRAFORM_DIR,
        env=initialised_root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The configuration is valid" in result.stdout


def test_the_native_suites_are_all_collected() -> None:
    assert len(NATIVE_TEST_FILES) >= 8, NATIVE_TEST_FILES


@pytest.mark.parametrize("test_file", NATIVE_TEST_FILES)
def test_native_terraform_tests_pass(initialised_root: dict[str, str], test_file: str) -> None:
    result = subprocess.run(
        ["terraform", "test", "-no-color", f"-filter=tests/{test_file}"],
        cwd=TERRAFORM_DIR,
        env=initialised_root,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = re.search(r"Success! (\d+) passed, 0 failed", output)
    assert summary and int(summary.group(1)) >= 1, output


def test_tfvars_example_documents_every_variable() -> None:
    declared = set(
        re.findall(r'^variable "([^"]+)"', (TERRAFORM_DIR / "variables.tf").read_text(), re.M)
    )
    example = (TERRAFORM_DIR / "terraform.tfvars.example").read_text()
    documented = set(re.findall(r"^([a-z0-9_]+)\s*=", example, re.M))
    assert declared == documented


@pytest.mark.parametrize("module", sorted(p.name for p in (TERRAFORM_DIR / "modules").iterdir()))
def test_every_module_has_the_standard_files(module: str) -> None:
    directory = TERRAFORM_DIR / "modules" / module
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (directory / name).is_file(), f"{module}/{name} is missing"
    variables = (directory / "variables.tf").read_text()
    blocks = re.findall(r'variable "([^"]+)" \{(.*?)\n\}', variables, re.S)
    assert blocks
    for name, body in blocks:
        assert re.search(r"^\s+type\s+=", body, re.M), f"{module}: variable {name} has no type"
        assert "description" in body, f"{module}: variable {name} has no description"
    for name, body in re.findall(
        r'output "([^"]+)" \{(.*?)\n\}', (directory / "outputs.tf").read_text(), re.S
    ):
        assert "description" in body, f"{module}: output {name} has no description"
