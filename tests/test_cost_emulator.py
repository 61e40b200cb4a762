"""`chatops cost --local`: the real root module planned on the emulator, then priced.

Three plans (~10 s each): the default configuration, the hackathon profile given as a
relative --var-file, and the profile as a saved binary plan passed with --plan-file.
They also show that the committed plan fixtures still match the Terraform.
"""

from __future__ import annotations

import gzip
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatops.cli.main import app
from chatops.cost import estimate, load_price_book, read_plan
from chatops.project import load_project
from chatops.stack import Stack
from chatops.targets import local_target
from tests.helpers import FIXTURES, ROOT, TERRAFORM_DIR

pytestmark = pytest.mark.terraform

runner = CliRunner()
HACKATHON = "terraform/profiles/hackathon.tfvars"
# Both colours released (an unreleased colour runs no task): the stack the demo runs.
REPOSITORY = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/chatapp-dev"
RELEASED = {"blue_image": f"{REPOSITORY}:v1", "green_image": f"{REPOSITORY}:v2"}
RELEASED_ARGS = [arg for name, value in RELEASED.items() for arg in ("--var", f"{name}={value}")]


def fixture_total(name: str) -> float:
    with gzip.open(FIXTURES / "cost" / f"{name}.json.gz", "rt") as handle:
        breakdown = estimate(read_plan(json.load(handle)), load_price_book()).breakdown
    return float(breakdown.monthly_fixed.quantize(Decimal("0.01")))


def cost(*args: str) -> dict:
    result = runner.invoke(app, ["cost", "--local", "--json", *args])
    assert result.exit_code == 0, result.stdout + result.stderr
    data: dict = json.loads(result.stdout)
    assert data["unpriced"] == [] and data["running"] is None
    return data


def test_cost_local_prices_the_default_and_the_hackathon_profile(
    chatops_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the profile is given as a path relative to the checkout
    default = cost(*RELEASED_ARGS)
    assert default["monthly_fixed"] == 131.01 == fixture_total("default")
    profile = cost("--var-file", HACKATHON, *RELEASED_ARGS)
    assert profile["monthly_fixed"] == 54.48 == fixture_total("hackathon") < 70
    assert {r["address"] for r in default["resources"]} - {
        r["address"] for r in profile["resources"]
    } == {"module.vpc.aws_eip.nat[0]", "module.vpc.aws_nat_gateway.this[0]"}

    # The same profile as a saved plan, shown through terraform on the same target.
    target, _ = local_target(load_project(TERRAFORM_DIR), region=None)
    stack = Stack(target)
    saved = stack.plan(RELEASED, [ROOT / HACKATHON]).path
    copy = tmp_path / "hackathon.tfplan"
    shutil.move(saved, copy)
    assert cost("--plan-file", str(copy))["monthly_fixed"] == 54.48
