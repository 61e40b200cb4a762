"""A real build of app/Dockerfile and a real push, with the builder this machine has.

Docker Hub is out of reach, so the test makes the base image itself from the host's
Python (the interpreter, its standard library and the shared libraries they load, /bin/sh,
pip, and a wheelhouse of the app's dependencies so the build needs no index), passes it
as `BASE_IMAGE`, builds with chatops' own build and push commands, pushes to a local
`docker-registry` with a password (standing in for ECR and its login), and reads back
what was pushed: manifest, config (architecture, user, entrypoint) and the layer the
Dockerfile adds. About 20 s with buildah.

Skipped, saying why, where no builder or registry exists; on CI (`CI` set) that is a
failure instead: CI installs buildah and docker-registry.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatops.processes import free_port, terminate
from chatops.release import Builder, Credentials, build_and_push, find_builder, platform_for
from tests.helpers import ROOT

APP = ROOT / "app"
ARCHITECTURES = {"x86_64": "X86_64", "amd64": "X86_64", "aarch64": "ARM64", "arm64": "ARM64"}
# Left out of the base image: what the build never runs.
STDLIB_SKIP = {
    "site-packages",
    "dist-packages",
    "test",
    "tests",
    "__pycache__",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "pydoc_data",
}
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "PYTHONPATH": "/opt/pip",
    # The build stage's pip installs from the wheelhouse alone: no index needed.
    "PIP_NO_INDEX": "1",
    "PIP_FIND_LINKS": "/wheels",
}


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must be able to build and push an image: {reason}")
    pytest.skip(reason)


# --- the base image ---------------------------------------------------------------------


def shared_libraries(binary: str) -> list[str]:
    result = subprocess.run(["ldd", binary], capture_output=True, text=True)
    return re.findall(r"(/\S+) \(0x", result.stdout)


def base_rootfs(wheels: Path, destination: Path) -> Path:
    """A root filesystem tarball: the host's Python, /bin/sh, pip and the wheelhouse."""
    interpreter = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    stdlib = sysconfig.get_path("stdlib")
    files = {interpreter, *shared_libraries(interpreter)}
    shell = os.path.realpath("/bin/sh")
    files |= {shell, *shared_libraries(shell)}
    for root, directories, names in os.walk(stdlib):
        directories[:] = [
            d for d in directories if d not in STDLIB_SKIP and not d.startswith("config-")
        ]
        for name in names:
            path = os.path.join(root, name)
            files.add(path)
            if name.endswith(".so"):
                files.update(shared_libraries(path))
    import pip

    pip_dir = Path(pip.__file__).parent
    tarball = destination / "rootfs.tar"
    made: set[str] = set()

    def entry(name: str, mode: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name.lstrip("/"))
        info.mode, info.type = mode, kind
        return info

    with tarfile.open(tarball, "w") as tar:

        def directories_of(path: str) -> None:
            for parent in reversed(Path(path).parents):
                name = str(parent)
                if name not in ("/", ".") and name not in made:
                    made.add(name)
                    tar.addfile(entry(name, 0o755, tarfile.DIRTYPE))

        def add(source: str | Path, name: str) -> None:
            directories_of(name)
            info = entry(name, 0o755 if os.access(source, os.X_OK) else 0o644)
            info.size = os.path.getsize(source)
            with open(source, "rb") as handle:
                tar.addfile(info, handle)

        for path in sorted(files):
            add(path, path)
        for path in sorted(pip_dir.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                add(path, f"/opt/pip/pip/{path.relative_to(pip_dir).as_posix()}")
        for wheel in sorted(wheels.iterdir()):
            add(wheel, f"/wheels/{wheel.name}")
        for link, target in (("/usr/local/bin/python", interpreter), ("/bin/sh", shell)):
            directories_of(link)
            symlink = entry(link, 0o777, tarfile.SYMTYPE)
            symlink.linkname = target
            tar.addfile(symlink)
        # Only root may write this base's /tmp: the Dockerfile must open it to the app.
        tar.addfile(entry("/tmp", 0o755, tarfile.DIRTYPE))
    return tarball


def wheelhouse(destination: Path) -> Path:
    """The app's dependencies and its build backend, as wheels for the host's Python."""
    wheels = destination / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
        + ["--dest", str(wheels), "setuptools>=64", str(APP)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        unavailable(f"pip cannot download the app's dependencies: {result.stderr[-500:]}")
    return wheels


def make_base_image(builder: Builder, tarball: Path, name: str, architecture: str) -> None:
    def run(*args: str) -> str:
        done = subprocess.run([builder.path, *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    if builder.name == "buildah":
        container = run("from", "scratch")
        try:
            run("add", container, str(tarball), "/")
            settings = [f"--env={key}={value}" for key, value in BASE_ENV.items()]
            run("config", *settings, "--os", "linux", "--arch", architecture, container)
            run("commit", "--quiet", container, name)
        finally:
            run("rm", container)
    else:
        changes = [f"--change=ENV {key}={value}" for key, value in BASE_ENV.items()]
        run("import", f"--platform=linux/{architecture}", *changes, str(tarball), name)


# --- the registry standing in for ECR ----------------------------------------------------


@dataclass
class Registry:
    address: str
    credentials: Credentials
    pid: int

    def get(self, path: str, accept: str | None = None) -> tuple[bytes, Any]:
        request = urllib.request.Request(f"http://{self.address}{path}")
        login = f"{self.credentials.username}:{self.credentials.password}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(login).decode())
        if accept:
            request.add_header("Accept", accept)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read(), response.headers


def password_line(user: str, password: str) -> str | None:
    """An htpasswd line (bcrypt, the only scheme the registry takes), if this Python can."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt  # deprecated, and gone from Python 3.13
        except ImportError:
            return None
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    return f"{user}:{hashed}" if hashed and hashed.startswith("$2") else None


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if binary is None:
        unavailable("no docker-registry to push to (Debian: apt-get install docker-registry)")
    port, password = free_port(), secrets.token_urlsafe(16)
    auth = ""
    line = password_line("AWS", password)
    if line is not None:
        (tmp_path / "htpasswd").write_text(line + "\n")
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {tmp_path / 'htpasswd'}\n"
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'blobs'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: {secrets.token_hex(16)}\n" + auth
    )
    with (tmp_path / "registry.log").open("wb") as log:
        process = subprocess.Popen(
            [str(binary), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401: up, and asking for the password
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "registry.log").read_text()
                time.sleep(0.1)
        address = f"127.0.0.1:{port}"
        yield Registry(
            address, Credentials(address, "AWS", password, tls_verify=False), process.pid
        )
    finally:
        terminate(process.pid)
        process.wait(timeout=10)


# --- the test ------------------------------------------------------------------------------


@pytest.fixture
def builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Builder]:
    found = find_builder().builder
    if found is None:
        unavailable("no image builder on this machine (docker with its daemon, podman, buildah)")
    assert found is not None
    if found.name in ("buildah", "podman"):
        # Images of this test go to a storage of their own, removed afterwards. Inside a
        # container buildah needs the vfs driver and chroot isolation: the environment
        # may say otherwise, chatops itself never does.
        storage = tmp_path / "storage"
        conf = tmp_path / "storage.conf"
        driver = os.environ.get("STORAGE_DRIVER", "vfs")
        conf.write_text(
            f'[storage]\ndriver = "{driver}"\n'
            f'graphroot = "{storage}/root"\nrunroot = "{storage}/run"\n'
        )
        monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(conf))
        monkeypatch.setenv("STORAGE_DRIVER", driver)
        monkeypatch.setenv("BUILDAH_ISOLATION", os.environ.get("BUILDAH_ISOLATION", "chroot"))
    yield found


def test_app_dockerfile_builds_on_its_own_base_and_pushes_with_a_login(
    builder: Builder, registry: Registry, tmp_path: Path
) -> None:
    architecture = ARCHITECTURES.get(platform.machine().lower())
    if architecture is None:
        unavailable(f"no image platform for this machine ({platform.machine()})")
    target_platform = platform_for(str(architecture))
    arch = target_platform.split("/")[1]
    started = time.monotonic()
    tag = secrets.token_hex(6)
    base = f"localhost/chatapp-test-base:{tag}"
    image = f"{registry.address}/chatapp-dev:{tag}"
    make_base_image(builder, base_rootfs(wheelhouse(tmp_path), tmp_path), base, arch)
    based = time.monotonic()
    lines: list[str] = []
    try:
        build_and_push(
            builder,
            image,
            APP,
            platform=target_platform,
            credentials=registry.credentials,
            build_args={"BASE_IMAGE": base},
            on_line=lines.append,
        )
    finally:
        if builder.name == "docker":
            subprocess.run([builder.path, "rmi", "-f", image, base], capture_output=True)
    pushed = time.monotonic()

    raw, headers = registry.get(
        f"/v2/chatapp-dev/manifests/{tag}",
        accept="application/vnd.docker.distribution.manifest.v2+json, "
        "application/vnd.oci.image.manifest.v1+json",
    )
    manifest = json.loads(raw)
    assert manifest["schemaVersion"] == 2 and len(manifest["layers"]) == 2, manifest
    config = json.loads(registry.get(f"/v2/chatapp-dev/blobs/{manifest['config']['digest']}")[0])
    assert (config["os"], config["architecture"]) == ("linux", arch)
    settings = config["config"]
    assert settings["User"] == "1000:1000"
    assert settings["Entrypoint"] == ["python", "-m", "chatapp"]
    assert "8080/tcp" in settings["ExposedPorts"]
    assert "PYTHONPATH=/opt/chatapp" in settings["Env"]
    assert "/tmp" in settings["Volumes"]

    # The layer the Dockerfile adds holds the installed package and its dependencies,
    # compiled, and nothing of the source tree.
    layer, _ = registry.get(f"/v2/chatapp-dev/blobs/{manifest['layers'][-1]['digest']}")
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        names = set(tar.getnames())
        modes = {member.name: member.mode & 0o7777 for member in tar.getmembers()}
    # What a Fargate bind mount of /tmp starts with: writable by the container's user.
    assert modes.get("tmp") == 0o1777, oct(modes.get("tmp", 0))
    assert {"opt/chatapp/chatapp/__main__.py", "opt/chatapp/chatapp/server.py"} <= names
    assert any(name.startswith("opt/chatapp/websockets/") for name in names)
    assert any(name.startswith("opt/chatapp/boto3/") for name in names)
    assert any(re.match(r"opt/chatapp/chatapp/__pycache__/server\..*\.pyc$", n) for n in names)
    assert not any(name.startswith(("src/", "opt/chatapp/web/", "wheels/")) for name in names)
    print(
        f"\n{builder.name}: base image {based - started:.1f}s, build and push "
        f"{pushed - based:.1f}s, {len(lines)} lines of output, "
        f"{sum(layer['size'] for layer in manifest['layers']) / 1e6:.0f} MB pushed"
    )
