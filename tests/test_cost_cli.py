"""`chatops cost` on the command line: what a user sees, and every expected failure."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatops.cli.main import app
from tests.helpers import FIXTURES

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["cost", *args])


def plan_file(tmp_path: Path, name: str) -> Path:
    """A real root-module plan fixture, as the `terraform show -json` file a user saves."""
    path = tmp_path / f"{name}.json"
    with gzip.open(FIXTURES / "cost" / f"{name}.json.gz", "rt") as source:
        path.write_text(source.read())
    return path


def one_line_error(result, code: int, *fragments: str) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and " Hint: " in lines[0], lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def test_help_documents_the_options() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for option in ("--local", "--var", "--var-file", "--plan-file", "--usage", "--json"):
        assert option in result.stdout


def test_table_totals_usage_lines_free_resources_and_no_budget(tmp_path: Path) -> None:
    result = invoke("--plan-file", str(plan_file(tmp_path, "default")))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Resource / component" in out and "Unit price" in out
    assert "module.vpc.aws_nat_gateway.this[0]" in out and "$43.07" in out
    assert "module.monitoring.aws_cloudwatch_metric_alarm.this[*] x8" in out
    assert "Fixed monthly total: $131.01" in out
    assert "module.vpc.aws_nat_gateway.this[0]: Data processed, $0.059 per GB" in out
    assert "Free (" in out and "aws_vpc x1" in out
    assert "Not priced" not in out
    assert "No budget alarm in this configuration" in out
    assert "Running now" not in out


def test_the_budget_is_shown_beside_the_estimate(tmp_path: Path) -> None:
    result = invoke("--plan-file", str(plan_file(tmp_path, "hackathon_with_email")))
    assert result.exit_code == 0, result.stderr
    assert "Fixed monthly total: $54.48" in result.stdout
    assert (
        "Budget alarm chatapp-dev-monthly: $70.00 a month for the whole account "
        "(e-mails at 80% actual, 100% forecast); the estimate is 78% of it." in result.stdout
    )


def test_over_a_deployed_stack_the_change_per_resource(tmp_path: Path) -> None:
    result = invoke("--plan-file", str(plan_file(tmp_path, "default_over_hackathon")))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Running now: $54.48 a month; after this plan: $131.01 (+$76.53)" in out
    assert "module.vpc.aws_nat_gateway.this[0]: - -> $43.07 (create)" in out
    assert (
        "module.elasticache.aws_elasticache_replication_group.this: $14.02 -> $35.04 (replace)"
        in out
    )


def test_json_output(tmp_path: Path) -> None:
    result = invoke("--plan-file", str(plan_file(tmp_path, "default_over_hackathon")), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["currency"], data["region"]) == ("USD", "ap-northeast-2")
    assert data["monthly_fixed"] == data["monthly_total"] == 131.01
    assert data["running"]["monthly_fixed"] == 54.48
    assert data["running"]["monthly_change"] == 76.53
    nat = next(r for r in data["resources"] if r["type"] == "aws_nat_gateway")
    assert nat["monthly"] == 43.07
    assert [c["name"] for c in nat["components"]] == ["NAT gateway", "Data processed"]
    assert {"address", "type", "monthly", "components"} <= set(nat)


def test_a_usage_file_prices_the_usage_based_lines(tmp_path: Path) -> None:
    result = invoke("--plan-file", str(plan_file(tmp_path, "hackathon")), "--usage", "low-traffic")
    assert result.exit_code == 0, result.stderr
    assert "Usage-based (from the usage file)" in result.stdout
    assert "Usage-based total: $2.47; monthly total: $56.95" in result.stdout
    data = json.loads(
        invoke(
            "--plan-file", str(plan_file(tmp_path, "hackathon")), "--usage", "low-traffic", "--json"
        ).stdout
    )
    assert data["monthly_fixed"] == 54.48 and data["monthly_total"] == 56.95


def test_unknown_resource_types_are_listed_as_not_priced(tmp_path: Path) -> None:
    path = plan_file(tmp_path, "hackathon")
    document = json.loads(path.read_text())
    document["planned_values"]["root_module"]["resources"] = [
        {
            "address": "aws_quantum_computer.q",
            "mode": "managed",
            "type": "aws_quantum_computer",
            "name": "q",
            "values": {},
        }
    ]
    path.write_text(json.dumps(document))
    result = invoke("--plan-file", str(path))
    assert result.exit_code == 0, result.stderr
    assert "Not priced (1):" in result.stdout
    assert "aws_quantum_computer.q: chatops cost does not know this type" in result.stdout


# --- failures: one line, exit 1 or 2, nothing planned or started ----------------------


@pytest.mark.parametrize(
    "args",
    [["--local", "--region", "eu-west-1"], ["--local", "--var", "aws_region=eu-west-1"]],
)
def test_a_region_without_prices_fails_before_anything_starts(
    chatops_home: Path, args: list[str]
) -> None:
    result = invoke(*args)
    one_line_error(result, 1, "no prices for region 'eu-west-1'", "ap-northeast-2, us-east-1")
    assert not (chatops_home / "local").exists()


def test_a_plan_for_a_region_without_prices(tmp_path: Path) -> None:
    path = plan_file(tmp_path, "hackathon")
    document = json.loads(path.read_text())
    document["variables"]["aws_region"]["value"] = "sa-east-1"
    path.write_text(json.dumps(document))
    one_line_error(invoke("--plan-file", str(path)), 1, "no prices for region 'sa-east-1'")


def test_a_bad_usage_file_fails_before_anything_starts(chatops_home: Path, tmp_path: Path) -> None:
    usage = tmp_path / "usage.yml"
    usage.write_text("resource_type_default_usage:\n  aws_nat_gateway:\n    monthly_gb: 3\n")
    result = invoke("--local", "--usage", str(usage))
    one_line_error(
        result, 2, "unknown key 'monthly_gb' for aws_nat_gateway (valid: monthly_data_processed_gb)"
    )
    assert not (chatops_home / "local").exists()


def test_a_missing_usage_file(chatops_home: Path) -> None:
    one_line_error(invoke("--local", "--usage", "heavy-traffic"), 2, "bundled: low-traffic")
    assert not (chatops_home / "local").exists()


def test_a_plan_file_is_already_planned(tmp_path: Path) -> None:
    result = invoke("--plan-file", str(plan_file(tmp_path, "default")), "--var", "task_cpu=512")
    one_line_error(result, 2, "a --plan-file is already planned")


@pytest.mark.parametrize(
    ("content", "message"),
    [('{"values": {}}', "is not a Terraform plan"), ("not json at all", "neither a saved plan")],
)
def test_a_plan_file_that_is_not_a_plan(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    one_line_error(invoke("--plan-file", str(path)), 2, message)


def test_the_plan_fixtures_are_gzipped_json() -> None:
    # make_fixtures.py writes them; a stray uncompressed copy would go stale unnoticed.
    names = sorted(p.name for p in (FIXTURES / "cost").iterdir() if p.suffix != ".py")
    assert names and all(name.endswith(".json.gz") for name in names), names
