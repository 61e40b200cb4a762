"""The terraform runner: argv building, parsing recorded JSON output, typed errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from chatops.errors import StateLocked, TerraformFailed, TerraformNotFound, TerraformTooOld
from chatops.terraform import runner
from chatops.terraform.models import (
    parse_event,
    parse_lock_info,
    parse_outputs,
    parse_plan,
    parse_state,
)
from chatops.terraform.runner import Settings, Terraform
from tests.helpers import FIXTURES, state_lock_held

RECORDED = FIXTURES / "terraform"


def events(name: str) -> list:
    lines = (RECORDED / name).read_text().splitlines()
    return [event for event in map(parse_event, lines) if event is not None]


# --- argv ------------------------------------------------------------------------


AWS = Settings(working_dir=Path("/stack"))
LOCAL = Settings(
    working_dir=Path("/stack"),
    data_dir=Path("/home/.chatops/local/terraform"),
    state_path=Path("/home/.chatops/local/terraform.tfstate"),
    plugin_dir=Path("/opt/tf-plugins"),
)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (AWS, ["init", "-input=false", "-no-color"]),
        (LOCAL, ["init", "-input=false", "-no-color", "-plugin-dir=/opt/tf-plugins"]),
    ],
)
def test_init_args(settings: Settings, expected: list[str]) -> None:
    assert runner.init_args(settings) == expected


@pytest.mark.parametrize(
    ("settings", "variables", "var_files", "destroy", "expected_tail"),
    [
        (AWS, {}, [], False, []),
        (
            LOCAL,
            {"green_weight": "10", "blue_weight": "90"},
            [Path("extra.tfvars")],
            False,
            [
                "-state=/home/.chatops/local/terraform.tfstate",
                "-var-file=extra.tfvars",
                "-var=green_weight=10",
                "-var=blue_weight=90",
            ],
        ),
        (AWS, {"x": "a=b"}, [], True, ["-destroy", "-var=x=a=b"]),
    ],
)
def test_plan_args(settings, variables, var_files, destroy, expected_tail) -> None:
    args = runner.plan_args(settings, Path("p.tfplan"), variables, var_files, destroy=destroy)
    assert args[:5] == ["plan", "-input=false", "-json", "-detailed-exitcode", "-out=p.tfplan"]
    assert args[5:] == expected_tail


def test_apply_and_destroy_args_never_prompt_and_stream_json() -> None:
    assert runner.apply_args(LOCAL, Path("p.tfplan")) == [
        "apply",
        "-input=false",
        "-json",
        "-state=/home/.chatops/local/terraform.tfstate",
        "p.tfplan",
    ]
    destroy = runner.destroy_args(AWS, {"aws_region": "us-east-1"})
    assert destroy[:5] == ["apply", "-destroy", "-auto-approve", "-input=false", "-json"]
    assert destroy[-1] == "-var=aws_region=us-east-1"


def test_output_and_show_args() -> None:
    assert runner.output_args(LOCAL) == [
        "output",
        "-json",
        "-no-color",
        "-state=/home/.chatops/local/terraform.tfstate",
    ]
    assert runner.show_args(Path("p")) == ["show", "-json", "-no-color", "p"]
    assert runner.show_args() == ["show", "-json", "-no-color"]


def test_environment_sets_automation_and_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "work")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/nonexistent/terraformrc")
    settings = Settings(
        working_dir=Path("."),
        data_dir=Path("/d"),
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"},
        env_remove=("AWS_PROFILE",),
    )
    env = Terraform(settings).environment()
    assert env["TF_IN_AUTOMATION"] == "1" and env["TF_INPUT"] == "0"
    assert env["TF_DATA_DIR"] == "/d"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert "AWS_PROFILE" not in env
    assert "TF_CLI_CONFIG_FILE" not in env


# --- parsing recorded output -------------------------------------------------------


def test_parse_plan_of_a_new_stack() -> None:
    summary = parse_plan(json.loads((RECORDED / "show_plan_create.json").read_text()))
    assert {c.address: c.kind for c in summary.pending} == {
        "aws_s3_bucket.this": "create",
        "aws_sns_topic.this": "create",
    }
    assert (summary.counts.add, summary.counts.change, summary.counts.destroy) == (2, 0, 0)
    assert summary.by_module()["(root)"].add == 2
    assert summary.has_changes


def test_parse_plan_with_a_replacement() -> None:
    summary = parse_plan(json.loads((RECORDED / "show_plan_replace.json").read_text()))
    assert [(c.address, c.kind) for c in summary.pending] == [("aws_s3_bucket.this", "replace")]
    assert (summary.counts.add, summary.counts.destroy) == (1, 1)
    assert "bucket" in summary.output_changes


def test_parse_ui_events_of_an_apply() -> None:
    stream = events("apply.jsonl")
    completed = [e.resource_address for e in stream if e.type == "apply_complete"]
    assert sorted(completed) == ["aws_s3_bucket.this", "aws_sns_topic.this"]
    summary = next(e for e in stream if e.type == "change_summary")
    assert summary.data["changes"]["add"] == 2


def test_parse_planned_changes() -> None:
    planned = [e for e in events("plan_replace.jsonl") if e.type == "planned_change"]
    assert [(e.resource_address, e.action) for e in planned] == [("aws_s3_bucket.this", "replace")]


def test_parse_outputs_keeps_sensitivity() -> None:
    outputs = parse_outputs(json.loads((RECORDED / "output.json").read_text()))
    assert outputs["bucket"].value == "fixture-one" and not outputs["bucket"].sensitive
    assert outputs["secret"].sensitive


def test_parse_state_lists_managed_resources() -> None:
    resources = parse_state(json.loads((RECORDED / "show_state.json").read_text()))
    assert {r.address for r in resources} == {"aws_s3_bucket.this", "aws_sns_topic.this"}
    bucket = next(r for r in resources if r.type == "aws_s3_bucket")
    assert bucket.values["bucket"] == "fixture-one"


def test_parse_lock_info_from_a_recorded_lock_error() -> None:
    diagnostic = next(e.diagnostic for e in events("plan_locked.jsonl") if e.diagnostic)
    lock = parse_lock_info(diagnostic.detail)
    assert lock is not None
    assert lock.id == "8b1e6ad0-3d1c-4f3e-9d55-6f1c2a9e7a11"
    assert lock.who == "alice@laptop"
    assert lock.created.startswith("2026-11-26 09:15:02")
    assert lock.operation == "OperationTypeApply"


def test_garbage_lines_are_not_events() -> None:
    assert parse_event("") is None
    assert parse_event("Terraform has been successfully initialized!") is None
    assert parse_event("{not json") is None


# --- the binary ----------------------------------------------------------------------


def _fake_terraform(tmp_path: Path, script: str) -> Path:
    path = tmp_path / "terraform"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_missing_binary_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runner.BINARY_ENV, "/nonexistent/terraform")
    with pytest.raises(TerraformNotFound, match="not on PATH") as caught:
        Terraform(AWS)
    assert caught.value.hint and "install Terraform" in caught.value.hint


def test_old_terraform_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_terraform(tmp_path, 'echo \'{"terraform_version": "1.5.7"}\'\n')
    monkeypatch.setenv(runner.BINARY_ENV, str(fake))
    with pytest.raises(TerraformTooOld, match="1.5.7 is too old"):
        Terraform(Settings(working_dir=tmp_path)).check_version()


def test_real_terraform_version_is_accepted(tmp_path: Path) -> None:
    assert Terraform(Settings(working_dir=tmp_path)).check_version() >= runner.MINIMUM_VERSION


def test_failed_plan_raises_with_the_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('variable "known" {\n  type = string\n  default = "x"\n}\n')
    terraform = Terraform(Settings(working_dir=tmp_path, data_dir=tmp_path / ".tf"))
    with pytest.raises(TerraformFailed, match="Value for undeclared variable") as caught:
        terraform.plan(tmp_path / "p", {"nosuch": "1"})
    assert caught.value.diagnostics[0].severity == "error"


def test_held_state_lock_is_reported_with_its_holder(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('output "x" {\n  value = 1\n}\n')
    state = tmp_path / "terraform.tfstate"
    state.write_text(
        json.dumps(
            {
                "version": 4,
                "terraform_version": "1.11.4",
                "serial": 1,
                "lineage": "0e6b1c9e-0000-4000-8000-000000000000",
                "outputs": {},
                "resources": [],
            }
        )
    )
    terraform = Terraform(
        Settings(working_dir=tmp_path, data_dir=tmp_path / ".tf", state_path=state)
    )
    with state_lock_held(state, "lock-123", "bob@ci", "2026-11-26T08:00:00Z"):
        with pytest.raises(StateLocked) as caught:
            terraform.plan(tmp_path / "p")
    assert caught.value.lock.id == "lock-123"
    assert caught.value.lock.who == "bob@ci"
    assert "lock-123" in caught.value.message and "bob@ci" in caught.value.message
    assert "2026-11-26 08:00:00" in caught.value.message
    assert caught.value.hint and "released as soon as the process" in caught.value.hint


def test_remote_style_lock_hint_names_force_unlock(tmp_path: Path) -> None:
    terraform = Terraform(Settings(working_dir=tmp_path))
    from chatops.errors import LockInfo

    assert (
        terraform._unlock_hint(LockInfo(id="abc"))
        == f"terraform -chdir={tmp_path} force-unlock abc"
    )
