"""chatops' record of what it changed live beats a user's var file; --var beats both.

Real Terraform plans (offline: the fixture root module uses only `terraform_data`) on
both targets, plus the pure parts: reading a var file's values and the warnings.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from chatops.project import Project
from chatops.stack import Override, Stack, stops_serving
from chatops.targets import Target, TargetKind
from chatops.terraform.models import PlanSummary, parse_plan
from chatops.terraform.tfvars import file_assignments, literal, same_value, scalar_assignments
from chatops.traffic import read_live_variables, record_live_variables
from tests.helpers import FIXTURES, TERRAFORM_DIR

HACKATHON = TERRAFORM_DIR / "profiles" / "hackathon.tfvars"

# --- reading var files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("green_desired_count = 0\n", {"green_desired_count": 0}),
        (
            "blue_weight=90 # most\ngreen_weight = 10 // rest\n",
            {"blue_weight": 90, "green_weight": 10},
        ),
        ('green_image = "repo:v2" # the build\n', {"green_image": "repo:v2"}),
        ('name = "a # not a comment"\n', {"name": "a # not a comment"}),
        ('escaped = "say \\"hi\\""\n', {"escaped": 'say "hi"'}),
        ("enable_stickiness = false\n", {"enable_stickiness": False}),
        ("ratio = 0.5\nbig = 1e3\n", {"ratio": 0.5, "big": 1000}),
        ("/* blue_weight = 0 */\ngreen_weight = 100\n", {"green_weight": 100}),
        ("/* one\nblue_weight = 0\n*/ x = 1\n", {"x": 1}),
        # Not scalars, or not top level: left out.
        ('tags = {\n  blue_weight = 0\n  env = "x"\n}\nafter = 1\n', {"after": 1}),
        ('zones = [\n  "a",\n  "b[",\n]\nafter = 2\n', {"after": 2}),
        ("user_data = <<EOT\ngreen_desired_count = 0\nEOT\nafter = 3\n", {"after": 3}),
        ("script = <<-EOT\n  blue_weight = 0\n  EOT\nafter = 4\n", {"after": 4}),
        ('name = "${var.x}-y"\ncount = var.n\n', {}),
        ('bracket = "{"\nafter = 5\n', {"bracket": "{", "after": 5}),
        ("", {}),
    ],
)
def test_scalar_assignments(text: str, expected: dict[str, Any]) -> None:
    assert scalar_assignments(text) == expected


def test_the_hackathon_profile_is_read_as_terraform_reads_it() -> None:
    values = file_assignments(HACKATHON)
    assert values["green_desired_count"] == 0
    assert values["enable_nat_gateway"] is False
    assert values["redis_engine"] == "valkey"


def test_json_var_files_are_read_and_unreadable_files_are_empty(tmp_path: Path) -> None:
    json_file = tmp_path / "x.tfvars.json"
    json_file.write_text('{"green_desired_count": 0, "tags": {"a": "b"}}')
    assert file_assignments(json_file) == {"green_desired_count": 0}
    (tmp_path / "bad.tfvars.json").write_text("{not json")
    assert file_assignments(tmp_path / "bad.tfvars.json") == {}
    assert file_assignments(tmp_path / "missing.tfvars") == {}


def test_a_var_value_is_recorded_as_its_json() -> None:
    assert [literal(text) for text in ("0", "2.5", "true", "repo:v2", '"q"')] == [
        0,
        2.5,
        True,
        "repo:v2",
        '"q"',
    ]


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        (1, 1, True),
        (1, "1", True),
        (1, 1.0, True),
        (0, 1, False),
        (True, "true", True),
        (False, True, False),
        (False, 0, False),
        ("repo:v1", "repo:v1", True),
        ("repo:v1", "repo:v2", False),
    ],
)
def test_same_value(left: Any, right: Any, same: bool) -> None:
    assert same_value(left, right) is same


# --- the warnings ----------------------------------------------------------------------------


def test_an_override_says_who_wins_and_how_to_change_it() -> None:
    override = Override(HACKATHON, "green_desired_count", 0, 1)
    assert override.message() == (
        "hackathon.tfvars sets green_desired_count = 0; chatops' record "
        "(1, from release, scale or retire) wins; pass --var green_desired_count=0 to change it"
    )
    image = Override(Path("my.tfvars"), "green_image", "repo:v1", "repo:v2")
    assert image.message().endswith("pass --var green_image=repo:v1 to change it")


@pytest.mark.parametrize(
    ("weights", "counts", "warned"),
    [
        ((0, 100), (0, 0), ["green"]),
        ((0, 100), (0, 1), []),
        ((50, 50), (0, 0), ["blue", "green"]),
        ((100, 0), (1, 0), []),
        ((0, "100"), ("1", "0"), ["green"]),  # as a -var puts them in the plan
    ],
)
def test_stops_serving_names_each_colour_with_traffic_and_no_task(
    weights: tuple[Any, Any], counts: tuple[Any, Any], warned: list[str]
) -> None:
    variables = {
        "blue_weight": weights[0],
        "green_weight": weights[1],
        "blue_desired_count": counts[0],
        "green_desired_count": counts[1],
    }
    found = stops_serving(PlanSummary(changes=(), variables=variables))
    assert [line.split()[3] for line in found] == warned
    for line in found:
        assert "0 tasks" in line and "--var" in line
    assert stops_serving(PlanSummary(changes=())) == []


def test_planned_variables_are_parsed_from_the_plan_json() -> None:
    summary = parse_plan({"variables": {"green_desired_count": {"value": 0}, "x": {"value": "y"}}})
    assert summary.variables == {"green_desired_count": 0, "x": "y"}
    assert parse_plan({}).variables == {}


# --- real plans of a root module on both targets ---------------------------------------------


@pytest.fixture(params=["local", "aws"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Stack:
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "live_record", root)
    project = Project(terraform_dir=root, state_dir=tmp_path / "home")
    kind: TargetKind = request.param
    stack = Stack(Target(kind=kind, project=project))
    stack.init()
    return stack


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    """A user's var file that idles green, as the hackathon profile does."""
    path = tmp_path / "hackathon.tfvars"
    path.write_text(
        "# the idle colour at 0 tasks\ngreen_desired_count = 0\nblue_desired_count = 1\n"
    )
    return path


def live_after_release_and_retire(stack: Stack) -> None:
    """What release to green, `shift 0 100` and `retire blue` record."""
    record_live_variables(
        stack.target.weights_path,
        blue_weight=0,
        green_weight=100,
        green_desired_count=1,
        blue_desired_count=0,
        green_image="repo:v2",
    )


pytestmark = pytest.mark.terraform


def test_the_record_goes_after_the_users_files(stack: Stack, profile: Path) -> None:
    assert stack.var_files([profile]) == [profile]
    live_after_release_and_retire(stack)
    assert stack.var_files([profile]) == [profile, stack.target.weights_path]


def test_a_var_file_does_not_undo_what_chatops_changed_live(stack: Stack, profile: Path) -> None:
    live_after_release_and_retire(stack)
    plan = stack.plan({}, [profile])
    planned = plan.summary.variables
    assert (planned["green_desired_count"], planned["blue_desired_count"]) == (1, 0)
    assert (planned["blue_weight"], planned["green_weight"]) == (0, 100)
    assert planned["green_image"] == "repo:v2"
    assert plan.warnings == (
        "hackathon.tfvars sets green_desired_count = 0; chatops' record (1, from release, "
        "scale or retire) wins; pass --var green_desired_count=0 to change it",
        "hackathon.tfvars sets blue_desired_count = 1; chatops' record (0, from release, "
        "scale or retire) wins; pass --var blue_desired_count=1 to change it",
    )


def test_a_var_file_sets_what_the_record_does_not_hold(stack: Stack, profile: Path) -> None:
    record_live_variables(stack.target.weights_path, blue_weight=0, green_weight=100)
    plan = stack.plan({}, [profile])
    assert plan.summary.variables["green_desired_count"] == 0
    assert not [w for w in plan.warnings if "record" in w]


def test_a_var_file_that_agrees_with_the_record_is_not_warned_about(
    stack: Stack, tmp_path: Path
) -> None:
    live_after_release_and_retire(stack)
    agreeing = tmp_path / "agree.tfvars"
    agreeing.write_text('green_desired_count = "1"\nblue_weight = 0\ngreen_image = "repo:v2"\n')
    assert stack.plan({}, [agreeing]).warnings == ()


def test_a_var_beats_the_record_and_becomes_it(stack: Stack, profile: Path) -> None:
    live_after_release_and_retire(stack)
    plan = stack.plan({"green_desired_count": "0", "blue_desired_count": "0"}, [profile])
    assert same_value(plan.summary.variables["green_desired_count"], 0)
    # No override to report (the --var names it), but green would hold all the traffic
    # with no task.
    assert len(plan.warnings) == 1 and plan.warnings[0].startswith(
        "the plan leaves green with 100% of new connections and 0 tasks"
    )
    assert plan.given == {"green_desired_count": "0", "blue_desired_count": "0"}

    stack.apply(plan)
    recorded = read_live_variables(stack.target.weights_path)
    assert (recorded["green_desired_count"], recorded["blue_desired_count"]) == (0, 0)
    again = stack.plan({}, [profile])
    assert not again.has_changes
    assert again.summary.variables["green_desired_count"] == 0
    # The profile now agrees with the record about green; not yet about blue.
    assert [w.split(";")[0] for w in again.warnings if "record" in w] == [
        "hackathon.tfvars sets blue_desired_count = 1"
    ]


def test_an_apply_without_a_var_keeps_the_record(stack: Stack, profile: Path) -> None:
    live_after_release_and_retire(stack)
    before = read_live_variables(stack.target.weights_path)
    stack.apply(stack.plan({}, [profile]))
    assert read_live_variables(stack.target.weights_path) == before
    assert stack.outputs()["green_desired_count"].value == 1


# --- what the commands show --------------------------------------------------------------


def test_plan_prints_the_warnings(tmp_path: Path, profile: Path) -> None:
    """On the AWS target (the fixture root reaches no AWS API): on stderr, and in --json.
    (`deploy` prints them the same way: tests/e2e/test_redeploy_with_profile.py.)"""
    from typer.testing import CliRunner

    from chatops.cli.main import app

    root = tmp_path / "root"
    shutil.copytree(FIXTURES / "live_record", root)
    record_live_variables(
        root / "chatops-weights.auto.tfvars.json", green_weight=100, blue_weight=0,
        green_desired_count=1,
    )  # fmt: skip
    env = {
        "CHATOPS_HOME": str(tmp_path / "home"),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "ap-northeast-2",
    }
    runner = CliRunner()
    args = ["--dir", str(root), "--var-file", str(profile)]
    expected = "hackathon.tfvars sets green_desired_count = 0; chatops' record (1,"

    plan = runner.invoke(app, ["plan", *args], env=env)
    assert plan.exit_code == 2, plan.stdout + plan.stderr
    assert f"Warning: {expected}" in " ".join(plan.stderr.split())

    as_json = runner.invoke(app, ["plan", *args, "--json"], env=env)
    assert json.loads(as_json.stdout)["warnings"][0].startswith(expected)
