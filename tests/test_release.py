"""`chatops release`: versions, snapshots, builders, refusals and the wait, without AWS.

The logic runs against real git repositories, real files and real processes in a
temporary directory; ECR under moto; the wait for new tasks against scripted ECS and
ELBv2 answers (the end-to-end release is in tests/e2e/test_release.py, the real image
build in tests/test_release_build.py).
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from chatops.cli.main import app
from chatops.emulator.dataplane.ecs import source_dir
from chatops.errors import ChatopsError, UsageError
from chatops.project import Project
from chatops.release import (
    Builder,
    BuildFailed,
    Credentials,
    NoBuilder,
    NoIdleColour,
    ReleaseFailed,
    ReleaseTimeout,
    TaskWatch,
    check_tag,
    choose_colour,
    content_id,
    detect_builder,
    ecr_credentials,
    ecr_has_image,
    find_builder,
    first_local_images,
    image_of,
    platform_for,
    resolve_version,
    take_snapshot,
    version_from_git,
)
from chatops.release.flow import aws_artefact, tasks_for_release, unexpected_changes
from chatops.release.registry import auth_directory, split_repository
from chatops.release.snapshots import SnapshotError, snapshot_id_of
from chatops.release.tasks import failure_threshold, wait_for_tasks
from chatops.release.version import VersionUnavailable
from chatops.stack import Plan, Stack
from chatops.targets import Target
from chatops.terraform.models import OutputValue, PlanSummary
from chatops.terraform.runner import Settings, plan_args
from chatops.traffic import TrafficRecord, Weights, read_live_variables, record_live_variables

runner = CliRunner()


# --- versions ---------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return result.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with app/ committed, then a commit that changes only terraform/."""
    root = tmp_path / "checkout"
    (root / "app" / "chatapp").mkdir(parents=True)
    (root / "terraform").mkdir()
    (root / "app" / "chatapp" / "__init__.py").write_text('__version__ = "1"\n')
    (root / "app" / "Dockerfile").write_text("FROM scratch\n")
    (root / ".gitignore").write_text("__pycache__/\n")
    (root / "terraform" / "main.tf").write_text("# one\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "app")
    (root / "terraform" / "main.tf").write_text("# two\n")
    git(root, "commit", "-q", "-am", "terraform only")
    return root


def test_the_version_is_the_commit_that_last_changed_app(repo: Path) -> None:
    app_commit = git(repo, "rev-parse", "HEAD~1")
    assert git(repo, "rev-parse", "HEAD") != app_commit
    version = version_from_git(repo / "app")
    assert version.tag == app_commit[:12] and len(version.tag) == 12
    assert "last change to app/" in version.origin


def test_ignored_files_do_not_make_app_dirty(repo: Path) -> None:
    (repo / "app" / "chatapp" / "__pycache__").mkdir()
    (repo / "app" / "chatapp" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (repo / "README").write_text("outside app/\n")  # untracked, but not in app/
    assert version_from_git(repo / "app").tag == git(repo, "rev-parse", "HEAD~1")[:12]


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        (
            lambda app: (app / "chatapp" / "__init__.py").write_text('__version__ = "2"\n'),
            "__init__",
        ),
        (lambda app: (app / "chatapp" / "new.py").write_text("x = 1\n"), "new.py"),
        (lambda app: (app / "Dockerfile").unlink(), "Dockerfile"),
    ],
    ids=["modified", "untracked", "deleted"],
)
def test_an_uncommitted_change_in_app_is_refused(repo: Path, change: Any, shown: str) -> None:
    change(repo / "app")
    with pytest.raises(VersionUnavailable, match="uncommitted change") as caught:
        version_from_git(repo / "app")
    assert shown in caught.value.message
    assert "--version" in (caught.value.hint or "")


def test_a_given_version_needs_no_clean_tree(repo: Path) -> None:
    (repo / "app" / "chatapp" / "__init__.py").write_text('__version__ = "2"\n')
    version = resolve_version(repo / "app", "0.2.0-rc1")
    assert (version.tag, version.origin) == ("0.2.0-rc1", "--version")


def test_outside_a_repository_the_version_must_be_given(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    with pytest.raises(VersionUnavailable, match="not in a git repository"):
        resolve_version(tmp_path / "app", None)


def test_without_git_the_version_must_be_given(tmp_path: Path) -> None:
    def no_git(args: Any) -> Any:
        raise FileNotFoundError("git")

    with pytest.raises(VersionUnavailable, match="git is not installed"):
        version_from_git(tmp_path, run=no_git)


@pytest.mark.parametrize("tag", ["0.2.0", "v42", "2024-06-01.1", "a", "A_b-c.d", "x" * 128])
def test_image_tags_accepted(tag: str) -> None:
    assert check_tag(tag) == tag


@pytest.mark.parametrize(
    ("tag", "why"),
    [
        ("", "is not an image tag"),
        ("-rc1", "is not an image tag"),
        (".hidden", "is not an image tag"),
        ("x" * 129, "is not an image tag"),
        ("has space", "is not an image tag"),
        ("a/b", "is not an image tag"),
        ("v1:2", "is not an image tag"),
        ("latest", "names a role, not a version"),
        ("Latest", "names a role, not a version"),
        ("green", "names a role, not a version"),
        ("unreleased", "names a role, not a version"),
    ],
)
def test_image_tags_refused(tag: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        check_tag(tag)


# --- snapshots ------------------------------------------------------------------------------


def make_app(root: Path) -> Path:
    app_dir = root / "app"
    (app_dir / "chatapp").mkdir(parents=True)
    (app_dir / "chatapp" / "__init__.py").write_text('__version__ = "1"\n')
    (app_dir / "chatapp" / "server.py").write_text("print('serving')\n")
    (app_dir / "pyproject.toml").write_text("[project]\nname = 'chatapp'\n")
    return app_dir


def test_the_same_content_gets_the_same_id_and_is_snapshotted_once(tmp_path: Path) -> None:
    source, images = make_app(tmp_path), tmp_path / "images"
    first = take_snapshot(source, images)
    again = take_snapshot(source, images)
    assert first.created and not again.created and first.id == again.id
    assert len(first.id) == 12 and first.path == images / first.id
    assert first.image == f"localhost/chatapp:{first.id}" == image_of(first.id)
    assert (first.path / "chatapp" / "server.py").read_text() == "print('serving')\n"
    copy = make_app(tmp_path / "elsewhere")  # the same files elsewhere: the same id
    assert content_id(copy) == first.id
    assert [p.name for p in images.iterdir()] == [first.id]  # nothing left half-made


def test_caches_and_tests_are_left_out_of_the_snapshot_and_its_id(tmp_path: Path) -> None:
    source, images = make_app(tmp_path), tmp_path / "images"
    before = content_id(source)
    for junk in (
        "chatapp/__pycache__/server.cpython-311.pyc",
        "chatapp.egg-info/PKG-INFO",
        "tests/test_server.py",
        ".pytest_cache/v/cache",
        "build/lib/chatapp/server.py",
        "chatapp/stale.pyc",
    ):
        (source / junk).parent.mkdir(parents=True, exist_ok=True)
        (source / junk).write_text("junk\n")
    snapshot = take_snapshot(source, images)
    assert snapshot.id == before
    held = sorted(p.relative_to(snapshot.path).as_posix() for p in snapshot.path.rglob("*"))
    assert [p for p in held if "." in Path(p).name] == [
        "chatapp/__init__.py",
        "chatapp/server.py",
        "pyproject.toml",
    ]


def test_any_change_of_content_path_or_mode_is_a_new_snapshot(tmp_path: Path) -> None:
    source = make_app(tmp_path)
    ids = {content_id(source)}
    (source / "chatapp" / "__init__.py").write_text('__version__ = "2"\n')
    ids.add(content_id(source))
    (source / "chatapp" / "__init__.py").rename(source / "chatapp" / "version.py")
    ids.add(content_id(source))
    (source / "chatapp" / "server.py").chmod(0o755)
    ids.add(content_id(source))
    assert len(ids) == 4


def test_a_snapshot_is_read_only_and_a_modified_one_is_refused(tmp_path: Path) -> None:
    source, images = make_app(tmp_path), tmp_path / "images"
    snapshot = take_snapshot(source, images)
    server = snapshot.path / "chatapp" / "server.py"
    assert stat.S_IMODE(server.stat().st_mode) == 0o444
    server.chmod(0o644)
    server.write_text("print('tampered')\n")
    with pytest.raises(SnapshotError, match="no longer holds the content"):
        take_snapshot(source, images)


def test_a_missing_app_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="there is no app/ to release"):
        take_snapshot(tmp_path / "app", tmp_path / "images")


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("localhost/chatapp:0a1b2c3d4e5f", "0a1b2c3d4e5f"),
        ("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/chatapp-dev:0a1b2c3d4e5f", None),
        ("localhost/other:0a1b2c3d4e5f", None),
        ("localhost/chatapp", None),
        (None, None),
    ],
)
def test_which_images_name_a_snapshot(image: str | None, expected: str | None) -> None:
    assert snapshot_id_of(image) == expected


def test_the_data_plane_runs_a_snapshot_image_from_its_snapshot(tmp_path: Path) -> None:
    snapshot = take_snapshot(make_app(tmp_path), tmp_path / "local" / "images")
    local_dir = tmp_path / "local"
    assert source_dir(snapshot.image, local_dir, tmp_path / "app") == snapshot.path
    assert source_dir("repo:blue", local_dir, tmp_path / "app") == tmp_path / "app"


def test_a_first_local_deploy_snapshots_app_for_each_colour_without_an_image(
    tmp_path: Path,
) -> None:
    (tmp_path / "terraform").mkdir()
    make_app(tmp_path)
    project = Project(terraform_dir=tmp_path / "terraform", state_dir=tmp_path / ".chatops")
    target = Target(kind="local", project=project)
    images = first_local_images(target, {})
    snapshot = image_of(content_id(tmp_path / "app"))
    assert images == {"blue_image": snapshot, "green_image": snapshot}
    assert (project.local_dir / "images" / content_id(tmp_path / "app")).is_dir()

    assert first_local_images(target, {"green_image": "localhost/chatapp:given"}) == {
        "blue_image": snapshot
    }
    record_live_variables(target.weights_path, blue_image="localhost/chatapp:old")
    assert first_local_images(target, {}) == {"green_image": snapshot}
    record_live_variables(target.weights_path, green_image="localhost/chatapp:old")
    assert first_local_images(target, {}) == {}
    assert read_live_variables(target.weights_path) == {
        "blue_image": "localhost/chatapp:old",
        "green_image": "localhost/chatapp:old",
    }


def test_without_an_app_directory_a_local_deploy_keeps_the_default_images(
    tmp_path: Path,
) -> None:
    (tmp_path / "terraform").mkdir()
    project = Project(terraform_dir=tmp_path / "terraform", state_dir=tmp_path / ".chatops")
    assert first_local_images(Target(kind="local", project=project), {}) == {}


# --- builders -----------------------------------------------------------------------------


def which_of(*installed: str) -> Any:
    return lambda name: f"/usr/bin/{name}" if name in installed else None


@pytest.mark.parametrize(
    ("installed", "daemon", "expected"),
    [
        (("docker", "podman", "buildah"), True, "docker"),
        (("podman", "buildah"), True, "podman"),
        (("buildah",), True, "buildah"),
        (("docker", "buildah"), False, "buildah"),  # a docker CLI without its daemon
        (("docker", "podman"), False, "podman"),
    ],
)
def test_builders_are_found_in_order(
    installed: tuple[str, ...], daemon: bool, expected: str
) -> None:
    builder = detect_builder(which=which_of(*installed), probe=lambda args: daemon, env={})
    assert builder == Builder(expected, f"/usr/bin/{expected}")


def test_no_builder_names_each_one_and_why() -> None:
    with pytest.raises(NoBuilder) as caught:
        detect_builder(which=which_of("docker"), probe=lambda args: False, env={})
    assert caught.value.message == (
        "no image builder found: docker (installed, but its daemon does not answer), "
        "podman (not installed), buildah (not installed)"
    )
    assert "--local" in (caught.value.hint or "")


def test_the_builder_can_be_chosen() -> None:
    everything = which_of("docker", "podman", "buildah")
    chosen = find_builder(everything, lambda args: True, {"CHATOPS_BUILDER": "buildah"})
    assert chosen.builder == Builder("buildah", "/usr/bin/buildah")
    with pytest.raises(UsageError, match="not a builder chatops knows"):
        find_builder(everything, lambda args: True, {"CHATOPS_BUILDER": "kaniko"})


@pytest.mark.parametrize(
    ("architecture", "platform"),
    [("X86_64", "linux/amd64"), ("ARM64", "linux/arm64"), ("arm64", "linux/arm64")],
)
def test_architecture_mapping(architecture: str, platform: str) -> None:
    assert platform_for(architecture) == platform


def test_an_unknown_architecture_is_refused() -> None:
    with pytest.raises(ChatopsError, match="X86_64 or ARM64"):
        platform_for("RISCV64")


IMAGE = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/chatapp-dev:0a1b2c3d4e5f"


LOGIN = Credentials("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com", "AWS", "pw")


@pytest.mark.parametrize(
    ("name", "build", "login", "push"),
    [
        (
            "docker",
            ["/bin/docker", "build", "--platform", "linux/arm64"],
            ["/bin/docker", "login", "--username", "AWS", "--password-stdin", LOGIN.registry],
            ["/bin/docker", "push", IMAGE],
        ),
        (
            "podman",
            ["/bin/podman", "build", "--platform", "linux/arm64", "--format", "docker"],
            ["/bin/podman", "login", "--username", "AWS", "--password-stdin", LOGIN.registry],
            ["/bin/podman", "push", IMAGE],
        ),
        (
            "buildah",
            ["/bin/buildah", "build", "--platform", "linux/arm64", "--format", "docker"],
            None,  # no login: the push reads a temporary auth file
            ["/bin/buildah", "push", "--authfile", "/auth/config.json", IMAGE, f"docker://{IMAGE}"],
        ),
    ],
)
def test_build_login_and_push_arguments(
    name: str, build: list[str], login: list[str] | None, push: list[str]
) -> None:
    builder = Builder(name, f"/bin/{name}")
    args = builder.build_args(
        IMAGE, Path("/src/app"), platform="linux/arm64", build_args={"BASE_IMAGE": "base:1"}
    )
    assert args == [
        *build,
        "--file",
        "/src/app/Dockerfile",
        "--tag",
        IMAGE,
        "--build-arg",
        "BASE_IMAGE=base:1",
        "/src/app",
    ]
    assert builder.login_args(LOGIN) == login
    assert builder.push_args(IMAGE, Path("/auth")) == push
    assert all("pw" not in arg for arg in [*(login or []), *push])  # the password: stdin only


def test_a_registry_without_tls_is_pushed_to_only_when_asked() -> None:
    buildah = Builder("buildah", "buildah").push_args("127.0.0.1:5000/a:1", Path("/a"))
    assert "--tls-verify=false" not in buildah
    podman = Builder("podman", "podman")
    assert podman.push_args("127.0.0.1:5000/a:1", Path("/a"), tls_verify=False) == [
        "podman",
        "push",
        "--tls-verify=false",
        "127.0.0.1:5000/a:1",
    ]
    plain = Credentials("127.0.0.1:5000", "u", "p", tls_verify=False)
    assert podman.login_args(plain) == [
        "podman", "login", "--username", "u", "--password-stdin", "--tls-verify=false",
        "127.0.0.1:5000",
    ]  # fmt: skip


def test_a_secret_goes_to_the_command_on_stdin(tmp_path: Path) -> None:
    lines: list[str] = []
    Builder("docker", "/bin/sh").run(
        ["/bin/sh", "-c", "read secret; echo got ${#secret} characters"],
        what="login",
        on_line=lines.append,
        secret_input="s3cret\n",
    )
    assert lines == ["got 6 characters"]


def test_a_failing_builder_command_reports_its_last_line(tmp_path: Path) -> None:
    lines: list[str] = []
    script = "echo step one; echo 'Error: base image not found' >&2; exit 3"
    with pytest.raises(BuildFailed) as caught:
        Builder("buildah", "/bin/sh").run(
            ["/bin/sh", "-c", script], what="build", on_line=lines.append
        )
    assert lines == ["step one", "Error: base image not found"]
    assert caught.value.message == (
        "buildah build failed (exit code 3): Error: base image not found"
    )


# --- the registry --------------------------------------------------------------------------


def test_the_auth_file_holds_the_login_privately_and_is_removed() -> None:
    login = Credentials("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com", "AWS", "s3cret")
    assert "s3cret" not in repr(login)
    with auth_directory(login) as directory:
        path = directory / "config.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        auth = json.loads(path.read_text())["auths"][login.registry]["auth"]
        assert base64.b64decode(auth) == b"AWS:s3cret"
    assert not directory.exists()


@pytest.fixture
def ecr() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("ecr", region_name="ap-northeast-2")
        client.create_repository(repositoryName="chatapp-dev", imageTagMutability="IMMUTABLE")
        yield client


def test_ecr_login_goes_through_the_api(ecr: Any) -> None:
    login = ecr_credentials(ecr)
    assert login.registry.endswith(".dkr.ecr.ap-northeast-2.amazonaws.com")
    assert login.username == "AWS" and login.password and login.tls_verify


def put_image(ecr: Any, tag: str) -> None:
    """An image manifest in the moto repository, as a push leaves it."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "0" * 64,
        },
        "layers": [],
    }
    ecr.put_image(repositoryName="chatapp-dev", imageManifest=json.dumps(manifest), imageTag=tag)


def test_ecr_says_whether_a_tag_is_already_pushed(ecr: Any) -> None:
    assert not ecr_has_image(ecr, "chatapp-dev", "0a1b2c3d4e5f")
    put_image(ecr, "0a1b2c3d4e5f")
    assert ecr_has_image(ecr, "chatapp-dev", "0a1b2c3d4e5f")
    with pytest.raises(ChatopsError, match="does not exist"):
        ecr_has_image(ecr, "nope", "0a1b2c3d4e5f")


def test_an_aws_release_is_named_by_the_commit_and_built_only_once(
    ecr: Any, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATOPS_APP_DIR", str(repo / "app"))
    project = Project(terraform_dir=repo / "terraform", state_dir=repo / ".chatops")
    target = Target(kind="aws", project=project, region="ap-northeast-2")
    url = ecr.describe_repositories()["repositories"][0]["repositoryUri"]
    stack = outputs(ecr_repository_url=url, aws_region="ap-northeast-2", cpu_architecture="ARM64")
    buildah = which_of("buildah")
    monkeypatch.setattr("chatops.release.builders.shutil.which", buildah)
    commit = git(repo, "rev-parse", "HEAD~1")[:12]

    first = aws_artefact(target, stack, None)
    assert (first.image, first.platform, first.exists) == (f"{url}:{commit}", "linux/arm64", False)
    assert first.builder == Builder("buildah", "/usr/bin/buildah")

    put_image(ecr, commit)
    monkeypatch.setattr("chatops.release.builders.shutil.which", which_of())
    again = aws_artefact(target, stack, None)  # no builder needed: the tag is there
    assert again.exists and again.builder is None and again.image == first.image


def test_repository_urls_split_into_registry_and_name() -> None:
    assert split_repository(IMAGE.rsplit(":", 1)[0]) == (
        "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com",
        "chatapp-dev",
    )
    with pytest.raises(ChatopsError):
        split_repository("no-name")


# --- which colour, how many tasks, what may change --------------------------------------------


@pytest.mark.parametrize(
    ("weights", "to", "force", "colour"),
    [
        (Weights(100, 0), None, False, "green"),
        (Weights(0, 100), None, False, "blue"),
        (Weights(100, 0), "green", False, "green"),
        (Weights(100, 0), "blue", True, "blue"),
        (Weights(50, 50), "green", True, "green"),
    ],
)
def test_the_release_goes_to_the_idle_colour(
    weights: Weights, to: Any, force: bool, colour: str
) -> None:
    choice = choose_colour(weights, to, force)
    assert choice.colour == colour
    assert (choice.risk is None) == (weights.of(choice.colour) == 0)


def test_no_idle_colour_mid_rollout_is_refused() -> None:
    with pytest.raises(NoIdleColour) as caught:
        choose_colour(Weights(90, 10), None, False)
    assert "rollout is in progress" in caught.value.message
    assert "chatops rollback" in (caught.value.hint or "")


def test_the_serving_colour_needs_force_and_says_why() -> None:
    with pytest.raises(UsageError) as caught:
        choose_colour(Weights(100, 0), "blue", False)
    assert caught.value.message.startswith("blue receives 100% of new connections")
    assert "no colour left on the old version to roll back to" in caught.value.message
    assert "--force" in (caught.value.hint or "")


def outputs(**values: Any) -> dict[str, OutputValue]:
    return {name: OutputValue(name, value) for name, value in values.items()}


@pytest.mark.parametrize(
    ("recorded", "applied", "expected"),
    [
        ({}, {"green_desired_count": 1, "blue_desired_count": 1}, (1, False)),
        ({"green_desired_count": 3}, {"green_desired_count": 1}, (3, False)),
        ({}, {"green_desired_count": 0, "blue_desired_count": 1}, (1, True)),  # hackathon
        ({"green_desired_count": 0, "blue_desired_count": 4}, {}, (4, True)),
        ({"green_desired_count": 0, "blue_desired_count": 0}, {}, (1, True)),
    ],
)
def test_a_colour_that_runs_no_task_gets_as_many_as_the_other(
    recorded: dict[str, Any], applied: dict[str, Any], expected: tuple[int, bool]
) -> None:
    assert tasks_for_release("green", recorded, outputs(**applied)) == expected


def change(
    address: str, kind: str, actions: list[str], before: Any = None, after: Any = None
) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": kind,
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}},
    }


GREEN_TD = 'module.ecs.aws_ecs_task_definition.this["green"]'
GREEN_SERVICE = 'module.ecs.aws_ecs_service.this["green"]'


def test_a_release_plan_may_change_only_the_colours_image_and_task_count() -> None:
    # As the provider plans a new revision: what the state read back ("" for unset,
    # configure_at_launch) against the configuration (null, known only after apply).
    volume = {"name": "tmp", "host_path": "", "configure_at_launch": False}
    definition = {"cpu": "256", "memory": "512", "ipc_mode": "", "volume": [volume]}
    expected = change(
        GREEN_TD,
        "aws_ecs_task_definition",
        ["delete", "create"],
        definition,
        {"cpu": "256", "memory": "512", "ipc_mode": None, "volume": [{"name": "tmp"}]},
    )
    expected["change"]["after_unknown"] = {"volume": [{"configure_at_launch": True}]}
    service = {"desired_count": 0, "task_definition": "td:1", "network_configuration": [1]}
    scaled = change(
        GREEN_SERVICE,
        "aws_ecs_service",
        ["update"],
        service,
        {**service, "desired_count": 1, "task_definition": "td:2"},
    )
    reads = {"address": "data.aws_region.current", "mode": "data", "change": {"actions": ["read"]}}
    assert unexpected_changes({"resource_changes": [expected, scaled, reads]}, "green") == []

    bigger = change(
        GREEN_TD,
        "aws_ecs_task_definition",
        ["delete", "create"],
        definition,
        {**definition, "cpu": "512"},
    )
    listener = change("module.alb.aws_lb_listener.http", "aws_lb_listener", ["update"], {}, {})
    blue = change('module.ecs.aws_ecs_service.this["blue"]', "aws_ecs_service", ["update"], {}, {})
    assert unexpected_changes({"resource_changes": [bigger, listener, blue]}, "green") == [
        f"{GREEN_TD}: cpu",
        "module.alb.aws_lb_listener.http (update)",
        'module.ecs.aws_ecs_service.this["blue"] (update)',
    ]


class StaleOutputs:
    """Terraform after a targeted apply: outputs that depend on nothing targeted keep
    the values of the last full apply (here: stickiness on, blue holding everything)."""

    def apply(self, plan: Path, **_: Any) -> None:
        pass

    def outputs(self) -> dict[str, OutputValue]:
        return outputs(
            listener_arn="l", aws_region="ap-northeast-2", blue_target_group_arn="b",
            green_target_group_arn="g", ecs_cluster_name="c", blue_service_name="sb",
            green_service_name="sg", blue_weight=100, green_weight=0, enable_stickiness=True,
        )  # fmt: skip


def test_a_targeted_apply_leaves_the_traffic_record_and_live_variables_alone(
    tmp_path: Path,
) -> None:
    project = Project(terraform_dir=tmp_path / "terraform", state_dir=tmp_path / ".chatops")
    stack = Stack(Target(kind="local", project=project), terraform=StaleOutputs())  # type: ignore[arg-type]
    live = {"blue_weight": 0, "green_weight": 100, "enable_stickiness": False}
    record_live_variables(stack.target.weights_path, **live)
    TrafficRecord(stable="green", weights=Weights(0, 100)).save(stack.traffic_record_path)
    plan = tmp_path / "release.tfplan"
    plan.touch()

    stack.apply(Plan(plan, PlanSummary(changes=())), targeted=True)
    assert read_live_variables(stack.target.weights_path) == live
    assert TrafficRecord.load(stack.traffic_record_path).stable == "green"

    plan.touch()  # a full apply trusts its outputs
    stack.apply(Plan(plan, PlanSummary(changes=())))
    assert read_live_variables(stack.target.weights_path)["enable_stickiness"] is True
    assert TrafficRecord.load(stack.traffic_record_path).stable == "blue"


def test_the_runner_can_limit_a_plan_to_some_resources(tmp_path: Path) -> None:
    args = plan_args(Settings(working_dir=tmp_path), tmp_path / "p", targets=[GREEN_TD])
    assert f"-target={GREEN_TD}" in args and args[0] == "plan"


# --- waiting for the new tasks ---------------------------------------------------------------

NEW, OLD = "td/green:2", "td/green:1"


class Scripted:
    """ECS and ELBv2 answers that change from one look to the next."""

    def __init__(self, looks: list[dict[str, Any]]) -> None:
        self.looks = looks
        self.index = -1
        self.stopped: dict[str, dict[str, Any]] = {}

    def __call__(self, service: str) -> Any:
        return self

    @property
    def now(self) -> dict[str, Any]:
        return self.looks[min(self.index, len(self.looks) - 1)]

    def describe_services(self, **_: Any) -> dict[str, Any]:
        self.index += 1
        return {
            "services": [
                {
                    "desiredCount": self.now.get("desired", 1),
                    "taskDefinition": self.now.get("definition", NEW),
                    "deployments": self.now.get("deployments", []),
                    "events": self.now.get("events", []),
                    "loadBalancers": [{"containerPort": 8080}],
                }
            ]
        }

    def list_tasks(self, **_: Any) -> dict[str, Any]:
        return {"taskArns": [task["taskArn"] for task in self.now.get("tasks", [])]}

    def describe_tasks(self, tasks: list[str], **_: Any) -> dict[str, Any]:
        known = {t["taskArn"]: t for t in self.now.get("tasks", [])}
        known.update(self.now.get("stopped", {}))
        return {"tasks": [known[arn] for arn in tasks if arn in known]}

    def describe_target_health(self, **_: Any) -> dict[str, Any]:
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": ip, "Port": port}, "TargetHealth": {"State": state}}
                for (ip, port), state in self.now.get("targets", {}).items()
            ]
        }


def task(arn: str, definition: str, status: str, ip: str) -> dict[str, Any]:
    return {
        "taskArn": arn,
        "taskDefinitionArn": definition,
        "lastStatus": status,
        "attachments": [{"details": [{"name": "privateIPv4Address", "value": ip}]}],
    }


def watch(looks: list[dict[str, Any]]) -> TaskWatch:
    return TaskWatch(Scripted(looks), "cluster", "chatapp-dev-service-green", "tg", NEW)


def run_watch(looks: list[dict[str, Any]], timeout: float = 60) -> Any:
    seen: list[Any] = []
    clock = iter(range(0, 10_000, 2))
    progress = wait_for_tasks(
        watch(looks),
        timeout=timeout,
        observe=seen.append,
        sleep=lambda seconds: None,
        clock=lambda: float(next(clock)),
    )
    return progress, seen


def test_the_wait_ends_when_the_new_task_itself_serves() -> None:
    old = task("t-old", OLD, "RUNNING", "10.0.1.5")
    new_starting = task("t-new", NEW, "PENDING", "10.0.2.9")
    new = task("t-new", NEW, "RUNNING", "10.0.2.9")
    progress, seen = run_watch(
        [
            {"tasks": [old, new_starting], "targets": {("10.0.1.5", 8080): "healthy"}},
            # The new task runs but is not registered yet: the old one's health does not count.
            {"tasks": [old, new], "targets": {("10.0.1.5", 8080): "healthy"}},
            {
                "tasks": [old, new],
                "targets": {("10.0.1.5", 8080): "healthy", ("10.0.2.9", 8080): "initial"},
            },
            {
                "tasks": [old, new],
                "targets": {("10.0.1.5", 8080): "draining", ("10.0.2.9", 8080): "healthy"},
            },
        ]
    )
    assert [(p.starting, p.running, p.healthy, p.old) for p in seen] == [
        (1, 0, 0, 1),
        (0, 1, 0, 1),
        (0, 1, 0, 1),
        (0, 1, 1, 1),
    ]
    assert progress.done and progress.elapsed == 8  # four looks, 2 s apart


def test_the_circuit_breakers_rollback_is_a_failure_with_its_reason() -> None:
    stopped = {
        **task("t-new", NEW, "STOPPED", "10.0.2.9"),
        "stoppedReason": "CannotPullContainerError: pull image manifest has been retried",
    }
    failed = {
        "taskDefinition": NEW,
        "rolloutState": "FAILED",
        "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start.",
    }
    with pytest.raises(ReleaseFailed) as caught:
        run_watch(
            [
                {"tasks": [task("t-new", NEW, "PENDING", "10.0.2.9")]},
                {
                    "definition": OLD,
                    "deployments": [failed, {"taskDefinition": OLD}],
                    "stopped": {"t-new": stopped},
                },
            ]
        )
    message = caught.value.message
    assert "circuit breaker rolled chatapp-dev-service-green back to td/green:1" in message
    assert "tasks failed to start" in message and "CannotPullContainerError" in message


def test_a_failed_deployment_without_rollback_is_a_failure() -> None:
    failed = {"taskDefinition": NEW, "rolloutState": "FAILED", "rolloutStateReason": "broken"}
    with pytest.raises(ReleaseFailed, match="marked its deployment FAILED \\(broken\\)"):
        run_watch([{"deployments": [failed]}])


def test_new_tasks_that_keep_stopping_fail_the_release_without_a_circuit_breaker() -> None:
    looks: list[dict[str, Any]] = []
    for number in range(failure_threshold(1)):
        arn = f"t-{number}"
        looks.append({"tasks": [task(arn, NEW, "RUNNING", "127.0.0.1")]})
        looks.append({"tasks": [], "stopped": {arn: {"taskArn": arn, "stoppedReason": "exit 2"}}})
    with pytest.raises(
        ReleaseFailed, match="keep stopping \\(3 stopped, the last because: exit 2\\)"
    ):
        run_watch(looks)


def test_tasks_that_stop_between_two_looks_count_through_the_deployment() -> None:
    counted = {"taskDefinition": NEW, "rolloutState": "IN_PROGRESS", "failedTasks": 3}
    with pytest.raises(ReleaseFailed, match="keep stopping \\(3 stopped\\)"):
        run_watch([{"deployments": [counted]}])


def test_the_wait_has_a_deadline() -> None:
    with pytest.raises(ReleaseTimeout, match="did not all serve within 10 s: 1 of 1 running"):
        run_watch([{"tasks": [task("t-new", NEW, "RUNNING", "10.0.2.9")]}], timeout=10)


@pytest.mark.parametrize(("wanted", "threshold"), [(1, 3), (4, 3), (10, 5), (1000, 200)])
def test_the_failure_threshold_is_the_circuit_breakers(wanted: int, threshold: int) -> None:
    assert failure_threshold(wanted) == threshold


# --- the command line ----------------------------------------------------------------------


def test_release_refuses_a_colour_that_does_not_exist(chatops_home: Path) -> None:
    result = runner.invoke(app, ["release", "--local", "--to", "purple"])
    assert result.exit_code == 2 and "unknown colour 'purple'" in result.stderr


def test_release_local_needs_the_deployed_stacks_emulator(chatops_home: Path) -> None:
    result = runner.invoke(app, ["release", "--local", "--yes"])
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "emulator" in result.stderr.lower()


def test_release_has_help() -> None:
    result = runner.invoke(app, ["release", "--help"])
    assert result.exit_code == 0 and "--to" in result.stdout and "--force" in result.stdout
