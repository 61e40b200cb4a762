"""The command line: help, usage errors and every expected failure.

Each failure must be one readable line on stderr with a hint, exit 1 (2 for usage
errors), no traceback, and leave nothing changed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatops.cli.main import app
from chatops.emulator.manager import EmulatorManager
from tests.helpers import state_lock_held

runner = CliRunner()

COMMANDS = [
    ["init"],
    ["plan"],
    ["deploy"],
    ["doctor"],
    ["outputs"],
    ["destroy"],
    ["local"],
    ["local", "start"],
    ["local", "stop"],
    ["local", "status"],
    ["local", "env"],
    ["local", "reset"],
    ["local", "fault"],
    ["shift"],
    ["rollback"],
    ["rollout"],
    ["status"],
    ["scale"],
    ["retire"],
    ["history"],
    ["rehearse"],
    ["cost"],
]


def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None):
    return runner.invoke(app, list(args), env=env, input=input)


def assert_one_line_error(result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    # Progress (e.g. terraform init) may come first; the error is one line, and last.
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert " Hint: " in errors[0], errors[0]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in result.stderr + result.stdout


def emulator_started(home: Path) -> bool:
    return (home / "local" / "emulator.json").exists()


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout and len(result.stdout.splitlines()) > 5


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("chatops ")


def test_missing_terraform(chatops_home: Path) -> None:
    result = invoke("plan", "--local", env={"CHATOPS_TERRAFORM": "/nonexistent/terraform"})
    assert_one_line_error(result, 1, "terraform was not found", "install Terraform")
    assert not emulator_started(chatops_home)


def test_no_credentials_for_real_aws(chatops_home: Path, tmp_path: Path) -> None:
    env = {name: "" for name in os.environ if name.startswith("AWS_")} | {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env[name] = None  # type: ignore[assignment]
    result = invoke("plan", env=env)
    assert_one_line_error(result, 1, "no AWS credentials found", "--local")


def test_unknown_profile(chatops_home: Path, tmp_path: Path) -> None:
    env = {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    result = invoke("plan", "--profile", "nobody", env=env)
    assert_one_line_error(result, 1, "profile 'nobody' is not configured")


def test_unknown_region(chatops_home: Path) -> None:
    result = invoke("plan", "--local", "--region", "mars-north-1")
    assert_one_line_error(result, 1, "unknown AWS region 'mars-north-1'", "ap-northeast-2")
    assert not emulator_started(chatops_home)


def test_emulator_down(chatops_home: Path) -> None:
    result = invoke("outputs", "--local")
    assert_one_line_error(result, 1, "the local emulator is not running", "chatops local start")
    result = invoke("local", "env")
    assert_one_line_error(result, 1, "the local emulator is not running")
    assert not emulator_started(chatops_home)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--local", "--var", "novalue"], "is not KEY=VALUE"),
        (["deploy", "--local", "--var", "=1"], "is not KEY=VALUE"),
        (["plan", "--local", "--var-file", "/nonexistent.tfvars"], "does not exist"),
        (["plan", "--local", "--no-such-option"], "No such option"),
    ],
)
def test_usage_errors_exit_2(chatops_home: Path, args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not emulator_started(chatops_home)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (["60", "50"], "must sum to 100"),
        (["-10", "110"], "-10 is outside that range"),
        (["50.5", "49.5"], "'50.5' is not one"),
        (["abc", "100"], "'abc' is not one"),
        (["50"], "expected two weights"),
        (["30", "30", "40"], "expected two weights"),
    ],
)
def test_bad_weights_are_refused_before_anything_runs(
    chatops_home: Path, weights: list[str], message: str
) -> None:
    result = invoke("shift", "--local", *weights)
    assert_one_line_error(result, 2, message, "chatops shift")
    assert not emulator_started(chatops_home)


def test_rollout_options_are_validated(chatops_home: Path) -> None:
    assert_one_line_error(invoke("rollout", "--local", "--to", "purple"), 2, "unknown colour")
    result = invoke("rollout", "--local", "--to", "green", "--steps", "50,10")
    assert_one_line_error(result, 2, "steps must increase")
    result = invoke("rollout", "--local", "--to", "green", "--steps", "ten")
    assert_one_line_error(result, 2, "comma-separated whole percentages")
    assert not emulator_started(chatops_home)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scale", "--local", "purple", "2"], "unknown colour 'purple'"),
        (["scale", "--local", "green", "11"], "whole number of tasks from 0 to 10; got '11'"),
        (["scale", "--local", "green", "-1"], "whole number of tasks from 0 to 10"),
        (["retire", "--local", "purple"], "unknown colour 'purple'"),
    ],
)
def test_capacity_commands_validate_before_anything_runs(
    chatops_home: Path, args: list[str], message: str
) -> None:
    assert_one_line_error(invoke(*args), 2, message)
    assert not emulator_started(chatops_home)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["local", "fault", "green"], "say which fault: --http-5xx PCT, --latency MS, or --clear"),
        (["local", "fault", "green", "--http-5xx", "150"], "a percentage from 0 to 100; got 150"),
        (["local", "fault", "green", "--latency", "-5"], "from 0 to 60000 ms; got -5"),
        (["local", "fault", "green", "--clear", "--latency", "5"], "--clear takes no"),
        (["local", "fault", "purple", "--clear"], "unknown colour 'purple'"),
    ],
)
def test_bad_faults_are_refused_before_anything_runs(
    chatops_home: Path, args: list[str], message: str
) -> None:
    assert_one_line_error(invoke(*args), 2, message)
    assert not emulator_started(chatops_home)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rehearse", "--local", "--users", "0"], "--users must be from 1 to 1000"),
        (["rehearse", "--local", "--users", "5000"], "--users must be from 1 to 1000"),
        (["rehearse", "--local", "--rate", "0"], "--rate must be above 0"),
        (["rehearse", "--local", "--break", "purple"], "unknown colour 'purple'"),
    ],
)
def test_a_rehearsal_out_of_bounds_is_refused_before_anything_runs(
    chatops_home: Path, args: list[str], message: str
) -> None:
    assert_one_line_error(invoke(*args), 2, message)
    assert not emulator_started(chatops_home)


def test_history_is_empty_before_any_traffic_action(chatops_home: Path) -> None:
    result = invoke("history", "--local")
    assert result.exit_code == 0 and "No traffic action recorded yet." in result.stdout
    assert invoke("history", "--local", "--json").stdout.strip() == "[]"
    assert not emulator_started(chatops_home)


def test_traffic_commands_need_a_running_emulator(chatops_home: Path) -> None:
    for command in (
        ["shift", "--local", "50", "50"],
        ["rollback", "--local"],
        ["status", "--local"],
        ["scale", "--local", "green", "2"],
        ["retire", "--local", "blue"],
    ):
        assert_one_line_error(invoke(*command), 1, "the local emulator is not running")
    assert not emulator_started(chatops_home)


def test_profile_with_local_is_a_usage_error(chatops_home: Path) -> None:
    result = invoke("plan", "--local", "--profile", "work")
    assert_one_line_error(result, 2, "cannot be combined with --local")
    assert not emulator_started(chatops_home)


def test_local_status_when_down(chatops_home: Path) -> None:
    result = invoke("local", "status")
    assert result.exit_code == 0 and "not running" in result.stdout
    result = invoke("local", "status", "--json")
    assert json.loads(result.stdout)["running"] is False


def test_reset_refuses_to_prompt_without_a_terminal(chatops_home: Path) -> None:
    state = chatops_home / "local" / "terraform.tfstate"
    state.parent.mkdir(parents=True)
    state.write_text("{}")
    result = invoke("local", "reset")
    assert_one_line_error(result, 1, "no terminal", "--yes")
    assert state.exists()
    result = invoke("local", "reset", "--yes")
    assert result.exit_code == 0 and not state.exists()


# --- with a running emulator ---------------------------------------------------------


@pytest.fixture
def running_home(chatops_home: Path) -> Path:
    EmulatorManager(chatops_home / "local").start()
    return chatops_home


def _write_state(home: Path, resources: list[dict]) -> Path:
    state = home / "local" / "terraform.tfstate"
    state.write_text(
        json.dumps(
            {
                "version": 4,
                "terraform_version": "1.11.4",
                "serial": 3,
                "lineage": "0e6b1c9e-0000-4000-8000-000000000000",
                "outputs": {},
                "resources": resources,
            }
        )
    )
    return state


def test_local_start_status_stop(running_home: Path) -> None:
    result = invoke("local", "start")
    assert result.exit_code == 0 and "Already running" in result.stdout
    status = json.loads(invoke("local", "status", "--json").stdout)
    assert status["running"] is True and status["endpoint"].startswith("http://127.0.0.1:")
    exports = invoke("local", "env")
    assert exports.exit_code == 0
    assert f"export AWS_ENDPOINT_URL={status['endpoint']}" in exports.stdout
    result = invoke("local", "stop")
    assert result.exit_code == 0 and "Stopped" in result.stdout
    assert json.loads(invoke("local", "status", "--json").stdout)["running"] is False


def test_outputs_of_a_stack_that_is_not_deployed(running_home: Path) -> None:
    result = invoke("outputs", "--local")
    assert_one_line_error(result, 1, "not deployed", "chatops deploy --local")


def test_state_that_outlived_its_emulator_is_refused(running_home: Path) -> None:
    fake_resource = {"mode": "managed", "type": "aws_vpc", "name": "this", "instances": [{}]}
    state = _write_state(running_home, [fake_resource])
    (running_home / "local" / "state-owner.json").write_text(json.dumps({"instance_id": "gone"}))
    before = state.read_text()
    result = invoke("plan", "--local")
    assert_one_line_error(result, 1, "emulator that is gone", "chatops local reset")
    assert state.read_text() == before


def test_state_lock_held_by_another_process(running_home: Path) -> None:
    state = _write_state(running_home, [])
    with state_lock_held(state, "4f1c8e2a-lock", "carol@laptop", "2026-11-26T07:30:00Z"):
        result = invoke("plan", "--local")
    assert_one_line_error(
        result, 1, "state is locked", "4f1c8e2a-lock", "carol@laptop", "2026-11-26 07:30:00"
    )
